//! The fifo-rpc peer: a [`fifo_rpc_server::Server`] in the peer process, serving two echo methods
//! until the parent closes the control channel.
//!
//! - `echo`: typed, `Vec<u8>` in and out (bincode1), the handler returns its argument;
//! - `echo_bytes`: the same octets on the wire, typed as `serde_bytes::ByteBuf` (serde then
//!   hands bincode the bytes in one piece instead of one element at a time);
//! - `echo_raw`: raw octets, appended to the server's reused answer buffer (no allocation).

use std::time::Duration;

use fifo_rpc_server::{Context as CallContext, HandlerError, Router, Server};
use serde_bytes::ByteBuf;

use crate::error::{Context, Error, Result};
use crate::peer::{control, PeerArgs};

/// Typed echo method name.
pub(crate) const ECHO: &str = "echo";
/// Typed echo method name, with `serde_bytes::ByteBuf` bodies.
pub(crate) const ECHO_BYTES: &str = "echo_bytes";
/// Raw echo method name.
pub(crate) const ECHO_RAW: &str = "echo_raw";

/// Runs the server in `args.dir` with `args.workers` and `args.spin_us` (server defaults when
/// absent) until stdin closes, then shuts it down gracefully.
pub(crate) fn serve(args: &PeerArgs) -> Result<()> {
    let mut builder = Server::builder(&args.dir).max_message(super::SERVER_MAX_MESSAGE);
    if let Some(workers) = args.workers {
        builder = builder.workers(workers);
    }
    if let Some(spin) = args.spin_us {
        builder = builder.spin(Duration::from_micros(spin));
    }
    if let Some(bytes) = args.pipe_size {
        builder = builder.pipe_size(bytes);
    }
    let server = builder
        .bind()
        .context(format_args!("binding a server in {}", args.dir.display()))?;
    let stop = server.shutdown_handle();
    let router = Router::new()
        .typed(ECHO, |body: Vec<u8>, _ctx: &CallContext<'_>| {
            Ok::<_, HandlerError>(body)
        })
        .typed(ECHO_BYTES, |body: ByteBuf, _ctx: &CallContext<'_>| {
            Ok::<_, HandlerError>(body)
        })
        .raw_into(ECHO_RAW, |body, _ctx, out| {
            out.extend_from_slice(body);
            Ok(())
        });
    let serving = std::thread::Builder::new()
        .name("serve".into())
        .spawn(move || server.serve(router))
        .context("starting the serving thread")?;
    control::say("ready");
    control::serve();
    stop.shutdown();
    serving
        .join()
        .map_err(|_| Error::msg("the serving thread panicked"))?
        .context("serving")?;
    Ok(())
}
