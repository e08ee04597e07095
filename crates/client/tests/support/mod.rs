//! Helpers of the client's integration tests: watchdogs, private directories, a real server in a
//! thread or in a child process (this test binary run again in a server role).

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use fifo_rpc_server::{HandlerError, Router, ServeSummary, Server, ServerError, ShutdownHandle};

/// Aborts the whole test process if it is still alive after `limit`: no test can hang.
pub struct Watchdog {
    done: Option<mpsc::Sender<()>>,
}

impl Watchdog {
    pub fn new(what: &'static str, limit: Duration) -> Watchdog {
        let (done, wait) = mpsc::channel::<()>();
        thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(limit) {
                eprintln!("watchdog: {what} still running after {limit:?}, aborting");
                std::process::abort();
            }
        });
        Watchdog { done: Some(done) }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.send(());
        }
    }
}

/// A private parent directory; the service directory `svc` inside it does not exist yet.
pub struct TestDir {
    pub tmp: tempfile::TempDir,
}

impl TestDir {
    pub fn new() -> TestDir {
        TestDir {
            tmp: tempfile::Builder::new()
                .prefix("fifo-rpc-client")
                .tempdir()
                .expect("tempdir"),
        }
    }

    pub fn service(&self) -> PathBuf {
        self.tmp.path().join("svc")
    }
}

/// A gate a handler can wait at until the test opens it.
#[derive(Clone, Default)]
pub struct Gate {
    inner: Arc<(Mutex<GateState>, Condvar)>,
}

#[derive(Default)]
struct GateState {
    open: bool,
    waiting: usize,
}

impl Gate {
    /// Blocks until [`open`](Self::open) (or 30 s, so a forgotten gate cannot hang a test).
    pub fn pass(&self) {
        let (lock, cv) = &*self.inner;
        let mut state = lock.lock().unwrap();
        state.waiting += 1;
        cv.notify_all();
        let _ = cv
            .wait_timeout_while(state, Duration::from_secs(30), |s| !s.open)
            .unwrap();
    }

    /// Waits until `n` handlers wait at the gate.
    pub fn wait_for_waiters(&self, n: usize) {
        let (lock, cv) = &*self.inner;
        let state = lock.lock().unwrap();
        let (state, timeout) = cv
            .wait_timeout_while(state, Duration::from_secs(30), |s| s.waiting < n)
            .unwrap();
        assert!(
            !timeout.timed_out(),
            "only {} handlers reached the gate",
            state.waiting
        );
    }

    pub fn open(&self) {
        let (lock, cv) = &*self.inner;
        lock.lock().unwrap().open = true;
        cv.notify_all();
    }
}

/// The test service: `echo` (bincode String), `bytes` (raw echo), `fail` (application error
/// 1000 with the string as message), `block` (waits at the gate, then answers "unblocked"),
/// `exit`.
pub fn router(gate: Gate) -> Router {
    Router::new()
        .typed("echo", |s: String, _ctx| Ok::<_, HandlerError>(s))
        .raw_into("bytes", |body, _ctx, out| {
            out.extend_from_slice(body);
            Ok(())
        })
        .typed("fail", |s: String, _ctx| {
            Err::<String, _>(HandlerError::application(1000, s))
        })
        .typed("block", move |_: (), _ctx| {
            gate.pass();
            Ok::<_, HandlerError>("unblocked".to_string())
        })
        .with_exit()
}

/// A real server serving [`router`] on a thread of this process.
pub struct ServerThread {
    pub stop: ShutdownHandle,
    pub gate: Gate,
    handle: Option<thread::JoinHandle<Result<ServeSummary, ServerError>>>,
}

impl ServerThread {
    pub fn start(dir: &Path) -> ServerThread {
        let server = Server::builder(dir).bind().expect("bind the test server");
        let stop = server.shutdown_handle();
        let gate = Gate::default();
        let router = router(gate.clone());
        let handle = thread::spawn(move || server.serve(router));
        ServerThread {
            stop,
            gate,
            handle: Some(handle),
        }
    }

    /// Waits for `serve` to return (after `exit` or [`stop`](Self::stop)).
    pub fn join(mut self) -> ServeSummary {
        self.handle
            .take()
            .expect("joined once")
            .join()
            .expect("server thread")
            .expect("serve")
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        self.gate.open();
        if let Some(handle) = self.handle.take() {
            self.stop.shutdown();
            let _ = handle.join();
        }
    }
}

/// Environment variable that selects the child role of this test binary.
pub const ROLE: &str = "FIFO_RPC_CLIENT_TEST_ROLE";
/// Environment variable with the service directory of the child.
pub const DIR: &str = "FIFO_RPC_CLIENT_TEST_DIR";

/// Runs this test binary again, executing only the test `entry` with `role` in the environment.
pub fn spawn_role(entry: &str, role: &str, dir: &Path) -> Child {
    Command::new(std::env::current_exe().expect("current_exe"))
        .args([
            "--exact",
            entry,
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, role)
        .env(DIR, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the test binary")
}

/// What a child server prints on stdout once bound.
pub const READY: &str = "fifo-rpc-child-server-ready";

/// A server in a child process; it prints [`READY`] once bound.
pub struct ChildServer {
    pub child: Child,
}

impl ChildServer {
    pub fn start(entry: &str, dir: &Path) -> ChildServer {
        let mut child = spawn_role(entry, "server", dir);
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        loop {
            let line = lines
                .next()
                .expect("the child server exited before it was ready")
                .expect("read the child's stdout");
            // libtest prints "test child_entry ... " on the same line first.
            if line.ends_with(READY) {
                break;
            }
        }
        // Keep draining its stdout so that it never blocks on a full pipe.
        thread::spawn(move || for _ in lines {});
        ChildServer { child }
    }

    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL the child server");
        self.child.wait().expect("reap the child server");
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Makes a child process die with its parent (Linux `PR_SET_PDEATHSIG`) and after `limit` at
/// the latest, so that no test leaves a process behind.
pub fn bind_child_lifetime(limit: Duration) {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes integer arguments only and affects this process.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
    }
    std::mem::forget(Watchdog::new("child process", limit));
}

/// The body of the child server role: bind, say [`READY`], serve until killed or `exit`.
pub fn run_child_server(dir: &Path) {
    let server = Server::builder(dir).bind().expect("bind the child server");
    println!("{READY}");
    // `block` never returns on its own here: the gate is never opened.
    server.serve(router(Gate::default())).expect("serve");
}

/// A server's side of the handshake, played by hand: reads `pipe_in` into `rx` until a HELLO
/// comes and returns its Session ID.
pub fn read_hello(
    pipe_in: &mut fifo_rpc_fifo::FifoReader,
    rx: &mut fifo_rpc_protocol::Receiver,
    deadline: std::time::Instant,
) -> u32 {
    use fifo_rpc_fifo::ReadOutcome;
    use fifo_rpc_protocol::{Event, Message};
    let mut buf = [0u8; 4096];
    loop {
        if let Some(Event::Message {
            session,
            message: Message::Hello(_),
        }) = rx.poll_event()
        {
            return session;
        }
        match pipe_in.read(&mut buf).unwrap() {
            ReadOutcome::Data(n) => rx.push(&buf[..n]),
            ReadOutcome::WouldBlock | ReadOutcome::Eof => {
                pipe_in.wait_readable(Some(deadline), None).unwrap();
            }
        }
    }
}

/// The rest of it: opens `pipe.out` (the client reads it by now) and writes WELCOME with
/// MaxFrame 4096, `max_message` and 8 calls in flight. Returns the write end.
pub fn send_welcome(
    dir: &fifo_rpc_fifo::ServiceDir,
    session: u32,
    max_message: u32,
    deadline: std::time::Instant,
) -> fifo_rpc_fifo::FifoWriter {
    use fifo_rpc_protocol::{Message, Welcome};
    let pipe_out = dir
        .open_writer(fifo_rpc_fifo::PIPE_OUT)
        .unwrap()
        .expect("the client reads pipe.out");
    let welcome = Welcome {
        version: 1,
        max_frame: 4096,
        max_message,
        max_in_flight: 8,
        server_pid: std::process::id(),
        instance_id: 1,
        encoding: "bincode1".into(),
        options: vec![],
    };
    let mut out = Vec::new();
    Message::Welcome(welcome)
        .encode(session, 512, &mut out)
        .unwrap();
    pipe_out
        .write_frame_blocking(&out, Some(deadline), None)
        .unwrap();
    pipe_out
}
