//! The blocking FIFO-RPC/1 server: bind a service directory, route methods to handlers, serve one
//! client after another, shut down gracefully and leave nothing on disk.
//!
//! It does **not** speak over sockets or networks, serve two clients at once (clients take turns
//! through `client.lock`, spec §9.4), or need an async runtime. The wire protocol lives in
//! [`fifo_rpc_protocol`] (no I/O), every FIFO system call in [`fifo_rpc_fifo`]; this crate is the
//! thin driver between them.
//!
//! # Embedding
//!
//! ```
//! use fifo_rpc_server::{HandlerError, Router, Server};
//!
//! let tmp = tempfile::tempdir()?;
//! let dir = tmp.path().join("svc");
//! let server = Server::bind(&dir)?;                      // spec §9.2: dir, lock, FIFOs
//! let stop = server.shutdown_handle();
//! let router = Router::new().typed("echo", |s: String, _ctx| Ok::<_, HandlerError>(s)).with_exit();
//! let serving = std::thread::spawn(move || server.serve(router));
//! stop.shutdown();                                       // or a client calls `exit`
//! let summary = serving.join().expect("serve thread")?;
//! assert_eq!(summary.sessions, 0);
//! assert_eq!(std::fs::read_dir(&dir)?.count(), 0);       // FR-FIFO-19: nothing left
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Architecture
//!
//! * **One I/O thread**, the one that calls [`Server::serve`]. It sleeps in `poll` on `pipe.in`
//!   and a waker (plus `pipe.out` while answers wait for room), with no timeout while idle, so an
//!   idle server, with or without a connected client, uses no CPU (FR-FIFO-16). After activity it
//!   spins on non-blocking reads for [`ServerBuilder::spin`] before sleeping. On end of stream it
//!   ends the session and reopens `pipe.in` (FR-FIFO-15); `pipe.out` stays open for the next
//!   client (closing it would show end of stream to a client already waiting for WELCOME).
//! * **Workers** ([`ServerBuilder::workers`]) run the handlers; with `workers(0)` they run inline
//!   on the I/O thread and the answers of one read are written together.
//! * **Answers** are encoded outside any lock into a per-thread buffer. The server's lock is taken
//!   only to check that the call still belongs to the current session (FR-SESS-2) and to hand the
//!   frames over in order: when nothing waits, the thread then writes them itself, outside the
//!   lock, and also writes whatever other workers handed over meanwhile (one `write(2)` for
//!   several answers). When the pipe is full the frames wait in a backlog that the I/O thread
//!   flushes on `POLLOUT`, while it keeps reading `pipe.in` (FR-FIFO-13). The server is the only
//!   writer of `pipe.out`, so each write is a run of whole frames of up to 64 KiB (FR-FRAME-10);
//!   if the kernel takes part of a run, the rest of the frame it cut is written next. An answer
//!   of 64 KiB or more is not encoded whole first: its frames are encoded 64 KiB at a time as
//!   the pipe drains, under the lock, so the client reads the first frames while the rest is
//!   encoded. A client that reads nothing for [`ServerBuilder::write_timeout`] is dropped
//!   (GOODBYE `SLOW_READER`).
//! * **Shutdown** ([`ShutdownHandle::shutdown`], [`Context::shutdown`], the `exit` method):
//!   new requests get `SHUTTING_DOWN`, accepted calls finish and are answered, then GOODBYE
//!   `SHUTTING_DOWN`, then `pipe.out` is closed and the files removed (FR-BYE-2, FR-FIFO-19).
//!
//! # Reporting
//!
//! No logging crate: pass a callback to [`ServerBuilder::on_log`] to receive [`ServerLog`]
//! records, and read the counters of the [`ServeSummary`] that `serve` returns.

#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod call;
mod context;
mod error;
mod io;
mod log;
mod output;
mod router;
mod server;
mod shutdown;
mod state;
mod worker;

pub use context::Context;
pub use error::ServerError;
pub use log::{LogLevel, ServeSummary, ServerLog};
pub use router::{HandlerError, Router};
pub use server::{
    Server, ServerBuilder, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_MESSAGE, DEFAULT_PIPE_SIZE,
    DEFAULT_SPIN, DEFAULT_WRITE_TIMEOUT,
};
pub use shutdown::ShutdownHandle;
