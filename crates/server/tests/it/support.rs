//! Test support: a server on its own thread, a raw client that speaks frames built with the
//! protocol encoders over real FIFOs, and deadlines on every wait.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fifo_rpc_fifo::{
    ClientLock, FifoReader, FifoWriter, ReadOutcome, ServiceDir, PIPE_IN, PIPE_OUT,
};
use fifo_rpc_protocol::{
    encode_request, Event, Hello, Message, Receiver, ReceiverConfig, MIN_MAX_FRAME,
};
use fifo_rpc_server::{
    Router, ServeSummary, Server, ServerBuilder, ServerError, ServerLog, ShutdownHandle,
};

/// Upper bound for any single wait in these tests (CI machines are slow).
pub(crate) const WAIT: Duration = Duration::from_secs(20);

pub(crate) fn deadline() -> Option<Instant> {
    Some(Instant::now() + WAIT)
}

/// A private temporary parent; the service directory is `svc` inside it, created by the server.
pub(crate) struct TestDir {
    pub(crate) tmp: tempfile::TempDir,
}

impl TestDir {
    pub(crate) fn new() -> Self {
        Self {
            tmp: tempfile::Builder::new()
                .prefix("fifo-rpc-server")
                .tempdir()
                .expect("tempdir"),
        }
    }

    pub(crate) fn service(&self) -> PathBuf {
        self.tmp.path().join("svc")
    }
}

/// Names left in a directory, sorted.
pub(crate) fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The router the tests serve: echo (typed), raw reverse, a panicking method, a big answer, a
/// method that waits for its own cancellation, and exit.
pub(crate) fn router() -> Router {
    Router::new()
        .typed("echo", |s: String, _ctx| {
            Ok::<_, fifo_rpc_server::HandlerError>(s)
        })
        .raw("reverse", |body, _ctx| {
            Ok(body.iter().rev().copied().collect())
        })
        .raw("panic", |_body, _ctx| panic!("this handler always panics"))
        .raw("big", |body, _ctx| {
            let n = u32::from_le_bytes(body.try_into().map_err(|_| "need a u32")?);
            Ok(vec![0xab; n as usize])
        })
        .raw("until_cancelled", |_body, ctx| {
            let until = Instant::now() + WAIT;
            while !ctx.cancelled() {
                if Instant::now() > until {
                    return Err("never cancelled".into());
                }
                std::thread::yield_now();
            }
            Err(fifo_rpc_server::HandlerError::application(
                1001,
                "stopped: cancelled",
            ))
        })
        .with_exit()
}

/// A server serving on its own thread.
pub(crate) struct Running {
    pub(crate) handle: ShutdownHandle,
    /// The kernel thread id of the serving (I/O) thread.
    pub(crate) tid: i32,
    thread: Option<JoinHandle<Result<ServeSummary, ServerError>>>,
    pub(crate) logs: mpsc::Receiver<ServerLog>,
}

impl Running {
    /// Binds with `configure` applied to the builder and serves [`router`] on a new thread.
    pub(crate) fn start(
        dir: &Path,
        configure: impl FnOnce(ServerBuilder) -> ServerBuilder,
    ) -> Self {
        let (log_tx, logs) = mpsc::channel();
        let log_tx = std::sync::Mutex::new(log_tx);
        let builder = Server::builder(dir).on_log(move |r| {
            let _ = log_tx.lock().map(|tx| tx.send(r.clone()));
        });
        let server = configure(builder).bind().expect("bind");
        let handle = server.shutdown_handle();
        let (tid_tx, tid_rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let _ = tid_tx.send(nix::unistd::gettid().as_raw());
            server.serve(router())
        });
        let tid = tid_rx.recv_timeout(WAIT).expect("server thread started");
        Self {
            handle,
            tid,
            thread: Some(thread),
            logs,
        }
    }

    /// Waits (bounded) for serve to return.
    pub(crate) fn join(mut self) -> Result<ServeSummary, ServerError> {
        let thread = self.thread.take().expect("joined once");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(thread.join());
        });
        rx.recv_timeout(WAIT)
            .expect("serve returned within the deadline")
            .expect("serve did not panic")
    }

    /// Shuts down and waits for serve to return.
    pub(crate) fn stop(self) -> ServeSummary {
        self.handle.shutdown();
        self.join().expect("serve succeeded")
    }

    /// Waits (bounded) for a log record that `pred` accepts.
    pub(crate) fn wait_log(&self, pred: impl Fn(&ServerLog) -> bool) -> ServerLog {
        let until = Instant::now() + WAIT;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            let record = self
                .logs
                .recv_timeout(left)
                .expect("the expected log record within the deadline");
            if pred(&record) {
                return record;
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A failed test must not leave a serving thread behind.
        self.handle.shutdown();
    }
}

/// A client written with the protocol encoders and the FIFO layer only.
pub(crate) struct RawClient {
    pub(crate) session: u32,
    /// Held for the whole session (spec §9.4).
    _lock: ClientLock,
    pub(crate) reader: FifoReader,
    pub(crate) writer: Option<FifoWriter>,
    rx: Receiver,
    buf: Vec<u8>,
}

impl RawClient {
    /// Spec §9.4: client.lock, pipe.out for reading, then pipe.in for writing.
    pub(crate) fn connect(dir: &Path, session: u32) -> Self {
        let until = Instant::now() + WAIT;
        let sdir = ServiceDir::open_existing(dir).expect("service dir");
        let lock = loop {
            if let Some(lock) = ClientLock::try_acquire(&sdir).expect("client.lock") {
                break lock;
            }
            assert!(Instant::now() < until, "client.lock stayed busy");
            std::thread::yield_now();
        };
        let reader = sdir.open_reader(PIPE_OUT).expect("open pipe.out");
        let writer = sdir
            .open_writer(PIPE_IN)
            .expect("open pipe.in")
            .expect("the server reads pipe.in");
        let rx = Receiver::new(ReceiverConfig {
            max_frame: 4096,
            max_message: 1 << 24,
            max_partial: 64,
        });
        Self {
            session,
            _lock: lock,
            reader,
            writer: Some(writer),
            rx,
            buf: vec![0; 65536],
        }
    }

    /// Writes whole frames, one `write(2)` per frame (FR-FRAME-9).
    pub(crate) fn send(&mut self, frames: &[u8]) {
        let writer = self.writer.as_ref().expect("pipe.in open");
        let mut at = 0;
        while at < frames.len() {
            let len = usize::from(u16::from_be_bytes([frames[at + 2], frames[at + 3]]));
            writer
                .write_frame_blocking(&frames[at..at + len], deadline(), None)
                .expect("write frame");
            at += len;
        }
    }

    pub(crate) fn send_message(&mut self, m: Message) {
        let mut out = Vec::new();
        m.encode(self.session, MIN_MAX_FRAME.max(4096), &mut out)
            .expect("encode");
        self.send(&out);
    }

    pub(crate) fn send_request(&mut self, request: u32, method: &str, body: &[u8]) {
        let mut out = Vec::new();
        encode_request(self.session, request, method, body, 4096, &mut out).expect("encode");
        self.send(&out);
    }

    /// The next message from the server, or `None` at end of stream. A read of 0 octets counts
    /// as end of stream only after `poll` reported the FIFO ready: before the server has opened
    /// `pipe.out` a non-blocking read returns 0 too (FR-FIFO-14).
    pub(crate) fn recv(&mut self) -> Option<(u32, Message)> {
        let until = Instant::now() + WAIT;
        loop {
            if let Some(event) = self.rx.poll_event() {
                match event {
                    Event::Message { session, message } => return Some((session, message)),
                    other => panic!("the server sent bytes that are not a message: {other:?}"),
                }
            }
            assert!(
                Instant::now() < until,
                "no answer from the server within {WAIT:?}"
            );
            self.reader
                .wait_readable(Some(until), None)
                .expect("wait for pipe.out");
            match self.reader.read(&mut self.buf).expect("read pipe.out") {
                ReadOutcome::Data(n) => self.rx.push(&self.buf[..n]),
                ReadOutcome::Eof => return None,
                ReadOutcome::WouldBlock => {}
            }
        }
    }

    /// HELLO, then WELCOME.
    pub(crate) fn handshake(&mut self) {
        let hello = Hello {
            min_version: 1,
            max_version: 1,
            max_frame: 4096,
            max_message: 1 << 24,
            client_pid: std::process::id(),
            encoding: "bincode1".into(),
            options: vec![],
        };
        self.send_message(Message::Hello(hello));
        match self.recv() {
            Some((s, Message::Welcome(_))) if s == self.session => {}
            other => panic!("expected WELCOME, got {other:?}"),
        }
    }

    /// One call and its answer.
    pub(crate) fn call(&mut self, request: u32, method: &str, body: &[u8]) -> Message {
        self.send_request(request, method, body);
        let (session, message) = self.recv().expect("an answer, not end of stream");
        assert_eq!(
            session, self.session,
            "FR-HS-5: the answer carries our session"
        );
        message
    }

    /// Closes both ends and the lock, as a client that exits.
    pub(crate) fn close(self) {}
}

/// The `bincode1` body of a string.
/// A stranger process's view of the service: opens `pipe.in` as a second writer and writes
/// `bytes` with one atomic write. The writer is returned so that the caller decides how long the
/// stranger keeps `pipe.in` open.
pub(crate) fn stranger_writes(dir: &Path, bytes: &[u8]) -> FifoWriter {
    let sdir = ServiceDir::open_existing(dir).expect("open the service directory");
    let stranger = sdir
        .open_writer(PIPE_IN)
        .expect("open pipe.in")
        .expect("the server reads pipe.in");
    stranger
        .write_frame_blocking(bytes, deadline(), None)
        .expect("write the stranger's bytes");
    stranger
}

pub(crate) fn string_body(s: &str) -> Vec<u8> {
    fifo_rpc_protocol::payload::encode(s, 1 << 20).expect("encode string")
}
