//! The child side: what this test binary does when run again in a role (`harness::Spawn`).
//!
//! Every role reports to its test with lines that start with `@@` on stdout (`@@READY`,
//! `@@DONE ...`, `@@SUMMARY ...`) and dies with its parent (`PR_SET_PDEATHSIG`) or after two
//! minutes at the latest.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fifo_rpc_client::{ClientConfig, ClientError};
use fifo_rpc_server::{HandlerError, LogLevel, Router, Server};

use crate::harness::{self, ARGS, DIR, ROLE};

/// Role options, from [`ARGS`].
pub struct Args(HashMap<String, String>);

impl Args {
    fn from_env() -> Args {
        let raw = std::env::var(ARGS).unwrap_or_default();
        Args(
            raw.split(',')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub fn num(&self, key: &str, default: u64) -> u64 {
        self.get(key)
            .map(|v| v.parse().expect("numeric role option"))
            .unwrap_or(default)
    }
}

/// Entry point of every child: dispatches on [`ROLE`].
pub fn child_main() {
    let dir = PathBuf::from(std::env::var_os(DIR).expect("service directory"));
    let args = Args::from_env();
    bind_child_lifetime(Duration::from_secs(120));
    if let Some(mode) = args.get("usr1") {
        install_usr1(mode == "restart");
        println!("@@ARMED");
    }
    if args.get("sigpipe") == Some("default") {
        // SAFETY: resetting SIGPIPE to its default action (kill the process) at the start of a
        // single-purpose child: the library must survive a host that never ignores it.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let role = std::env::var(ROLE).expect("role");
    match role.as_str() {
        "server" => server(&dir, &args),
        other => crate::client_roles::run(other, &dir, &args),
    }
}

/// Makes a child die with its parent (Linux `PR_SET_PDEATHSIG`) and after `limit` at the
/// latest, so that no test leaves a process behind.
fn bind_child_lifetime(limit: Duration) {
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes integer arguments only and affects this process.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
    }
    std::mem::forget(harness::Watchdog::new("child process", limit));
}

static USR1: AtomicU64 = AtomicU64::new(0);
static TERM_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_usr1(_: libc::c_int) {
    USR1.fetch_add(1, Ordering::Relaxed);
}

/// SIGUSR1s received so far by this process.
pub fn usr1_count() -> u64 {
    USR1.load(Ordering::Relaxed)
}

/// Installs a SIGUSR1 handler that counts, with or without `SA_RESTART`.
pub fn install_usr1(restart: bool) {
    // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; the handler only
    // touches an atomic, which is async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_usr1 as extern "C" fn(libc::c_int) as usize;
        action.sa_flags = if restart { libc::SA_RESTART } else { 0 };
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()),
            0
        );
    }
}

extern "C" fn on_term(_: libc::c_int) {
    let fd = TERM_FD.load(Ordering::Relaxed);
    // SAFETY: write(2) is async-signal-safe; fd is the write end of a pipe this process made.
    unsafe {
        libc::write(fd, b"t".as_ptr().cast(), 1);
    }
}

/// SIGTERM and SIGINT call `stop` on a thread (a handler writes to a pipe; no code runs in the
/// handler itself). Works whichever thread the signal is delivered to.
fn on_termination(stop: impl FnOnce() + Send + 'static) {
    let mut fds = [0; 2];
    // SAFETY: pipe(2) with a valid two-element array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    TERM_FD.store(fds[1], Ordering::Relaxed);
    // SAFETY: as in install_usr1; the handler only calls write(2).
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_term as extern "C" fn(libc::c_int) as usize;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGTERM, &action, std::ptr::null_mut());
        libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut());
    }
    let read_fd = fds[0];
    std::thread::spawn(move || {
        let mut byte = [0u8; 1];
        loop {
            // SAFETY: read(2) into a one-octet buffer from the pipe made above.
            let n = unsafe { libc::read(read_fd, byte.as_mut_ptr().cast(), 1) };
            if n == 1 {
                break;
            }
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        stop();
    });
}

/// Calls counted by the test server.
#[derive(Default)]
struct Counters {
    bytes: AtomicU64,
    forbidden: AtomicU64,
    big: AtomicU64,
}

/// The test service:
///
/// * `bytes`: raw echo;
/// * `big`: answers [`harness::big_reply`] of the size and seed in the body;
/// * `sleep`: waits the milliseconds in the body (u32 LE), or until cancelled, then echoes;
/// * `forbidden`: never called by a legitimate client; counts and reports if it runs;
/// * `stats`: `bytes=N forbidden=N big=N`;
/// * `exit`.
fn router(counters: Arc<Counters>) -> Router {
    let (c1, c2, c3, c4) = (
        Arc::clone(&counters),
        Arc::clone(&counters),
        Arc::clone(&counters),
        counters,
    );
    Router::new()
        .raw_into("bytes", move |body, _ctx, out| {
            c1.bytes.fetch_add(1, Ordering::Relaxed);
            out.extend_from_slice(body);
            Ok(())
        })
        .raw_into("big", move |body, _ctx, out| {
            c2.big.fetch_add(1, Ordering::Relaxed);
            let size = body
                .get(..4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
                .ok_or_else(|| HandlerError::bad_request("big takes a u32 size"))?;
            let seed = body.get(4).copied().unwrap_or(0);
            out.extend_from_slice(&harness::big_reply(size, seed));
            Ok(())
        })
        .raw_into("sleep", |body, ctx, out| {
            let ms = body
                .get(..4)
                .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            let until = std::time::Instant::now() + Duration::from_millis(u64::from(ms));
            while std::time::Instant::now() < until && !ctx.cancelled() {
                // A handler that works for a while, checking for cancellation.
                std::thread::sleep(Duration::from_millis(1));
            }
            out.extend_from_slice(body);
            Ok(())
        })
        .raw_into("forbidden", move |_body, _ctx, _out| {
            c3.forbidden.fetch_add(1, Ordering::Relaxed);
            println!("@@FORBIDDEN called");
            Ok(())
        })
        .raw("stats", move |_body, _ctx| {
            Ok(format!(
                "bytes={} forbidden={} big={}",
                c4.bytes.load(Ordering::Relaxed),
                c4.forbidden.load(Ordering::Relaxed),
                c4.big.load(Ordering::Relaxed)
            )
            .into_bytes())
        })
        .with_exit()
}

/// Role `server`: binds with the options given (`workers`, `write_timeout_ms`, `pipe_size`,
/// `max_in_flight`), prints `@@READY <pid>`, logs every record on stderr, serves until `exit`,
/// SIGTERM or SIGINT, then prints `@@SUMMARY ...` and exits 0.
fn server(dir: &Path, args: &Args) {
    let mut builder = Server::builder(dir).on_log(|record| {
        let level = match record.level() {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            _ => "warn",
        };
        eprintln!("server {level}: {record}");
        match record {
            fifo_rpc_server::ServerLog::SessionStarted { session, .. } => {
                println!("@@SESSION {session}");
            }
            fifo_rpc_server::ServerLog::SlowReader { session, .. } => {
                println!("@@SLOW {session}");
            }
            _ => {}
        }
    });
    if let Some(n) = args.get("workers") {
        builder = builder.workers(n.parse().expect("workers"));
    }
    if let Some(ms) = args.get("write_timeout_ms") {
        builder = builder.write_timeout(Duration::from_millis(ms.parse().expect("ms")));
    }
    if let Some(n) = args.get("pipe_size") {
        builder = builder.pipe_size(n.parse().expect("pipe_size"));
    }
    if let Some(n) = args.get("max_in_flight") {
        builder = builder.max_in_flight(n.parse().expect("max_in_flight"));
    }
    let server = match builder.bind() {
        Ok(s) => s,
        Err(e) => {
            println!("@@BIND-ERROR {e}");
            return;
        }
    };
    let stop = server.shutdown_handle();
    on_termination(move || stop.shutdown());
    println!("@@READY {}", std::process::id());
    let counters = Arc::new(Counters::default());
    let summary = server
        .serve(router(Arc::clone(&counters)))
        .expect("serve returned an error");
    println!(
        "@@SUMMARY sessions={} calls={} framing_errors={} discarded={} slow_readers={} \
         forbidden={} bytes={} usr1={}",
        summary.sessions,
        summary.calls,
        summary.framing_errors,
        summary.discarded_frames,
        summary.slow_readers,
        counters.forbidden.load(Ordering::Relaxed),
        counters.bytes.load(Ordering::Relaxed),
        usr1_count()
    );
}

/// The client configuration of the roles: patient, and with a bounded call timeout.
pub fn patient() -> ClientConfig {
    ClientConfig::default()
        .connect_timeout(Duration::from_secs(20))
        .call_timeout(Some(Duration::from_secs(30)))
}

/// A short name of a client error, for reports (`ServerGone`, `Disconnected`, ...).
pub fn kind(e: &ClientError) -> String {
    let debug = format!("{e:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("?")
        .to_owned()
}
