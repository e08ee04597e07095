//! The echo server program: `echo` returns its string, `fail` answers ERROR 1000 with it, `exit`
//! answers and then shuts the server down gracefully.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use fifo_rpc_server::{HandlerError, LogLevel, Router, Server};
use nix::sys::signal::{SigSet, Signal};

/// Serve the FIFO-RPC/1 echo service in a directory.
#[derive(clap::Args, Debug)]
pub(crate) struct ServerArgs {
    /// Service directory (created with mode 0700 if missing).
    #[arg(long)]
    pub(crate) dir: PathBuf,
    /// Worker threads for handlers (0 runs them on the I/O thread; default: one per CPU).
    #[arg(long)]
    pub(crate) workers: Option<usize>,
    /// Microseconds the I/O thread spins after activity before it sleeps.
    #[arg(long)]
    pub(crate) spin_us: Option<u64>,
    /// Also report sessions starting and ending on stderr.
    #[arg(long, short)]
    pub(crate) verbose: bool,
}

/// The echo service's methods.
pub(crate) fn router() -> Router {
    Router::new()
        .typed("echo", |text: String, _ctx| Ok::<_, HandlerError>(text))
        .typed("fail", |text: String, _ctx| {
            Err::<String, _>(HandlerError::application(1000, text))
        })
        .with_exit()
}

/// Binds, prints `listening on DIR`, serves until `exit`, SIGINT or SIGTERM, and cleans up.
pub(crate) fn run(args: &ServerArgs) -> Result<(), Box<dyn std::error::Error>> {
    // SIGINT and SIGTERM are blocked before any thread starts, so every thread inherits the mask
    // and only the waiting thread below receives them: no code runs in a signal handler.
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    signals.thread_block()?;

    let verbose = args.verbose;
    let mut builder = Server::builder(&args.dir).on_log(move |record| {
        if verbose || record.level() >= LogLevel::Warn {
            eprintln!("echo_server: {record}");
        }
    });
    if let Some(workers) = args.workers {
        builder = builder.workers(workers);
    }
    if let Some(us) = args.spin_us {
        builder = builder.spin(Duration::from_micros(us));
    }
    let server = builder.bind()?;

    let stop = server.shutdown_handle();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if signals.wait().is_ok() {
                stop.shutdown();
            }
        })?;

    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {}", args.dir.display())?;
    stdout.flush()?;
    drop(stdout);

    let summary = server.serve(router())?;
    if verbose {
        eprintln!(
            "echo_server: served {} sessions, {} calls",
            summary.sessions, summary.calls
        );
    }
    Ok(())
}
