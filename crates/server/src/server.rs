//! [`Server`] and its [`ServerBuilder`]: bind a service directory (spec §9.2), serve, shut down.

use std::collections::hash_map::RandomState;
use std::collections::VecDeque;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fifo_rpc_fifo::{FifoError, FifoReader, ServerLock, ServiceDir, Waker, PIPE_IN};
use fifo_rpc_protocol::session::server::{ServerSession, ServerSessionConfig};
use fifo_rpc_protocol::{MIN_MAX_FRAME, MIN_MAX_MESSAGE};
use parking_lot::{Condvar, Mutex};

use crate::error::ServerError;
use crate::io::Io;
use crate::log::{LogFn, ServeSummary, ServerLog};
use crate::output::Output;
use crate::router::Router;
use crate::shutdown::ShutdownHandle;
use crate::state::{Shared, State};
use crate::worker;

/// Default [`ServerBuilder::max_message`]: 16 MiB.
pub const DEFAULT_MAX_MESSAGE: u32 = 16 << 20;
/// Default [`ServerBuilder::max_in_flight`].
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 1024;
/// Default [`ServerBuilder::write_timeout`]: 10 s.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`ServerBuilder::spin`]: 50 µs (provisional; the benchmarks tune it).
pub const DEFAULT_SPIN: Duration = Duration::from_micros(50);
/// Default [`ServerBuilder::pipe_size`]: 1 MiB, the default `/proc/sys/fs/pipe-max-size`.
pub const DEFAULT_PIPE_SIZE: usize = 1 << 20;

/// Options of a [`Server`]; [`bind`](Self::bind) creates it. Start with [`Server::builder`].
///
/// ```
/// use std::time::Duration;
/// use fifo_rpc_server::Server;
/// let tmp = tempfile::tempdir()?;
/// let server = Server::builder(tmp.path().join("svc"))
///     .max_message(1 << 20)
///     .max_in_flight(64)
///     .workers(0) // run handlers on the I/O thread: lowest latency
///     .write_timeout(Duration::from_secs(2))
///     .spin(Duration::from_micros(20))
///     .encodings(["bincode1"])
///     .on_log(|record| eprintln!("{record}"))
///     .bind()?;
/// # drop(server);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ServerBuilder {
    dir: PathBuf,
    max_message: u32,
    max_in_flight: u32,
    max_frame: Option<usize>,
    workers: Option<usize>,
    write_timeout: Duration,
    spin: Duration,
    pipe_size: Option<usize>,
    encodings: Vec<String>,
    log: Option<LogFn>,
}

impl fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("dir", &self.dir)
            .field("max_message", &self.max_message)
            .field("max_in_flight", &self.max_in_flight)
            .field("max_frame", &self.max_frame)
            .field("workers", &self.workers)
            .field("write_timeout", &self.write_timeout)
            .field("spin", &self.spin)
            .field("pipe_size", &self.pipe_size)
            .field("encodings", &self.encodings)
            .field("log", &self.log.is_some())
            .finish()
    }
}

impl ServerBuilder {
    fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            max_message: DEFAULT_MAX_MESSAGE,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            max_frame: None,
            workers: None,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            spin: DEFAULT_SPIN,
            pipe_size: Some(DEFAULT_PIPE_SIZE),
            encodings: vec!["bincode1".to_owned(), "raw".to_owned()],
            log: None,
        }
    }

    /// Largest reassembled request accepted, in octets (at least 4096; default 16 MiB).
    /// Larger requests are answered `MESSAGE_TOO_LARGE` (FR-FRAG-5).
    pub fn max_message(mut self, octets: u32) -> Self {
        self.max_message = octets;
        self
    }

    /// Most calls a client may have outstanding (at least 1; default 1024). Beyond it calls
    /// are answered `OVERLOADED` (FR-CALL-4).
    pub fn max_in_flight(mut self, calls: u32) -> Self {
        self.max_in_flight = calls;
        self
    }

    /// The local MaxFrame to advertise, 512 ..= `PIPE_BUF` (default `min(PIPE_BUF, 65535)`).
    pub fn max_frame(mut self, octets: usize) -> Self {
        self.max_frame = Some(octets);
        self
    }

    /// Worker threads that run handlers (default: the available parallelism). `0` runs every
    /// handler inline on the I/O thread: the lowest latency and the best pipelined throughput
    /// for short handlers, but a slow handler delays every other call.
    pub fn workers(mut self, threads: usize) -> Self {
        self.workers = Some(threads);
        self
    }

    /// How long answers may wait for the client to make room in `pipe.out` (default 10 s).
    /// After that the session is dropped with GOODBYE `SLOW_READER` if it can still be written.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// How long the I/O thread spins on non-blocking reads after activity before it sleeps in
    /// `poll` (default 50 µs; `Duration::ZERO` disables). Spinning saves the wake-up of a
    /// sleeping thread when requests follow each other closely, at the cost of CPU time bounded
    /// by this duration per burst.
    pub fn spin(mut self, spin: Duration) -> Self {
        self.spin = spin;
        self
    }

    /// Asks the kernel for FIFOs of this capacity (`F_SETPIPE_SZ`, Linux; default 1 MiB, the
    /// default `/proc/sys/fs/pipe-max-size`; `0` keeps the kernel's 64 KiB). A large pipe lets
    /// a large message flow with fewer wake-ups (16x fewer at 1 MiB: measured +10% on a 1 MiB
    /// echo) and costs nothing while empty: the kernel allocates its pages as they fill. A
    /// refusal (above `pipe-max-size` without privilege, or the user's pipe page budget spent)
    /// is reported to the log callback ([`ServerLog::PipeSizeRefused`](crate::ServerLog)) and
    /// ignored.
    ///
    /// ```
    /// let server = fifo_rpc_server::Server::builder("/run/my-service").pipe_size(0);
    /// # drop(server);
    /// ```
    pub fn pipe_size(mut self, octets: usize) -> Self {
        self.pipe_size = (octets > 0).then_some(octets);
        self
    }

    /// Body encodings accepted in HELLO (default `bincode1` and `raw`); any other is refused
    /// with GOODBYE `ENCODING_UNSUPPORTED` (FR-HS-2).
    pub fn encodings<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.encodings = names.into_iter().map(Into::into).collect();
        self
    }

    /// Receives every [`ServerLog`] record (sessions, framing errors, panics, slow readers).
    /// Called from the I/O thread or a worker, outside the server's lock; keep it short.
    pub fn on_log<F>(mut self, log: F) -> Self
    where
        F: Fn(&ServerLog) + Send + Sync + 'static,
    {
        self.log = Some(Arc::new(log));
        self
    }

    fn check(&self) -> Result<(), ServerError> {
        let range = |option, value: u64, min: u64, max: u64| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(ServerError::InvalidOption {
                    option,
                    value,
                    min,
                    max,
                })
            }
        };
        range(
            "max_message",
            u64::from(self.max_message),
            u64::from(MIN_MAX_MESSAGE),
            u64::from(u32::MAX),
        )?;
        range(
            "max_in_flight",
            u64::from(self.max_in_flight),
            1,
            u64::from(u32::MAX),
        )?;
        if let Some(f) = self.max_frame {
            range(
                "max_frame",
                f as u64,
                MIN_MAX_FRAME as u64,
                u64::from(u16::MAX),
            )?;
        }
        range("workers", self.workers.unwrap_or(0) as u64, 0, 1024)?;
        let ms = u64::try_from(self.write_timeout.as_millis()).unwrap_or(u64::MAX);
        range("write_timeout (ms)", ms, 1, u64::MAX)?;
        range("encodings (count)", self.encodings.len() as u64, 1, 64)?;
        for e in &self.encodings {
            range("encodings (name length)", e.len() as u64, 1, 32)?;
        }
        Ok(())
    }

    /// Starts the server (spec §9.2): creates or verifies the directory (0700, owned by this
    /// user, FR-FIFO-1), takes its lock (a second server fails at once, FR-FIFO-5), reclaims the
    /// files of a dead server and creates `pipe.in`, `pipe.out` and `client.lock` anew (0600,
    /// FR-FIFO-6), and opens `pipe.in`. From then on a client can connect; requests wait in the
    /// pipe until [`Server::serve`] runs.
    ///
    /// # Errors
    ///
    /// [`ServerError::Fifo`] naming the path and the failed check (another server serves the
    /// directory, a planted symlink, regular file or FIFO with a wrong mode, a directory open to
    /// others); [`ServerError::InvalidOption`].
    pub fn bind(self) -> Result<Server, ServerError> {
        self.check()?;
        let dir = ServiceDir::create_or_verify(&self.dir)?;
        let lock = ServerLock::acquire(&dir)?;
        lock.reclaim_and_create()?;
        let bound = match open_input(&dir, self.pipe_size) {
            Ok((reader, refused)) => {
                if let (Some(log), Some(error)) = (&self.log, refused) {
                    log(&ServerLog::PipeSizeRefused {
                        error: Arc::new(error),
                    });
                }
                Bound { dir, lock, reader }
            }
            Err(e) => {
                let _ = lock.remove_files();
                return Err(e.into());
            }
        };
        let waker = match Waker::new() {
            Ok(w) => w,
            Err(e) => {
                let _ = bound.remove();
                return Err(e.into());
            }
        };
        let max_frame = bound
            .reader
            .pipe_buf()
            .min(usize::from(u16::MAX))
            .max(MIN_MAX_FRAME);
        let max_frame = self.max_frame.map_or(max_frame, |f| f.min(max_frame));
        Ok(Server {
            bound: Some(bound),
            handle: ShutdownHandle::new(waker),
            max_frame,
            opts: self,
        })
    }
}

fn open_input(
    dir: &ServiceDir,
    pipe_size: Option<usize>,
) -> Result<(FifoReader, Option<FifoError>), FifoError> {
    let reader = dir.open_reader(PIPE_IN)?;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let refused = pipe_size.and_then(|n| reader.set_pipe_size(n).err());
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let refused = pipe_size.and(None);
    Ok((reader, refused))
}

/// What a bound server holds: the verified directory, its lock, the read end of `pipe.in`.
#[derive(Debug)]
struct Bound {
    dir: ServiceDir,
    lock: ServerLock,
    reader: FifoReader,
}

impl Bound {
    /// FR-FIFO-19: closes `pipe.in`, removes the files in order while holding the lock.
    fn remove(self) -> Result<(), FifoError> {
        drop(self.reader);
        self.lock.remove_files()
    }
}

/// A bound FIFO-RPC/1 server: its directory holds live FIFOs and a client can connect.
///
/// [`serve`](Self::serve) runs it on the calling thread (the I/O thread) until a
/// [`ShutdownHandle`] or a handler's [`Context::shutdown`](crate::Context::shutdown) stops it.
/// Dropping a server that never served removes its files too.
///
/// ```
/// use fifo_rpc_server::{Router, Server};
/// let tmp = tempfile::tempdir()?;
/// let server = Server::bind(tmp.path().join("svc"))?;
/// assert!(tmp.path().join("svc/pipe.in").exists());
/// let handle = server.shutdown_handle();
/// let thread = std::thread::spawn(move || server.serve(Router::new().with_exit()));
/// handle.shutdown();
/// let summary = thread.join().unwrap()?;
/// assert_eq!(summary.calls, 0);
/// assert!(!tmp.path().join("svc/pipe.in").exists());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Server {
    bound: Option<Bound>,
    handle: ShutdownHandle,
    max_frame: usize,
    opts: ServerBuilder,
}

impl Server {
    /// A builder for a server on `dir`; [`ServerBuilder::bind`] starts it.
    pub fn builder(dir: impl AsRef<Path>) -> ServerBuilder {
        ServerBuilder::new(dir.as_ref().to_path_buf())
    }

    /// Binds a server on `dir` with the default options (see [`ServerBuilder::bind`]).
    ///
    /// # Errors
    ///
    /// As [`ServerBuilder::bind`].
    pub fn bind(dir: impl AsRef<Path>) -> Result<Server, ServerError> {
        Self::builder(dir).bind()
    }

    /// The service directory.
    pub fn dir(&self) -> &Path {
        &self.opts.dir
    }

    /// The local MaxFrame the server advertises.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// A handle that stops [`serve`](Self::serve) gracefully from any thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.handle.clone()
    }

    /// Serves clients one after another until shutdown, then drains (FR-BYE-2): calls already
    /// accepted are answered, later requests get `SHUTTING_DOWN`, the client gets GOODBYE
    /// `SHUTTING_DOWN`; then `pipe.out` is closed and the files are removed (FR-FIFO-19).
    ///
    /// A client that disconnects or dies, even in the middle of a fragmented message, is noticed
    /// at once (end of stream on `pipe.in`); its partial state is dropped and the next client is
    /// served. Bytes that are not frames are skipped and counted (FR-ERR-1).
    ///
    /// # Errors
    ///
    /// [`ServerError::Fifo`] if a system call on `pipe.in` or the waker fails (`poll` with
    /// `ENOMEM`, the directory replaced under the server), [`ServerError::SpawnWorker`]. The files
    /// are removed in every case.
    pub fn serve(mut self, router: Router) -> Result<ServeSummary, ServerError> {
        let Some(mut bound) = self.bound.take() else {
            return Ok(ServeSummary::default());
        };
        // SIGPIPE stays blocked on this thread while it serves, so that writes skip the per-write
        // masking (FR-FIFO-17); the thread's mask is restored when `serve` returns.
        let _sigpipe = fifo_rpc_fifo::SigpipeGuard::new()?;
        let workers = self
            .opts
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let session = ServerSession::new(ServerSessionConfig {
            max_frame: self.max_frame,
            max_message: self.opts.max_message,
            max_in_flight: self.opts.max_in_flight,
            server_pid: std::process::id(),
            instance_id: instance_id(),
            encodings: self.opts.encodings.clone(),
        });
        let shared = Shared {
            state: Mutex::new(State {
                session,
                out: Output::new(bound.reader.pipe_buf(), self.opts.pipe_size),
                jobs: VecDeque::with_capacity((self.opts.max_in_flight as usize).min(4096)),
                stop_workers: false,
                summary: ServeSummary::default(),
                write_errors: Vec::new(),
            }),
            work: Condvar::new(),
            handle: self.handle.clone(),
            log: self.opts.log.clone(),
            write_timeout: self.opts.write_timeout,
        };
        let served = std::thread::scope(|scope| {
            let mut threads = Vec::with_capacity(workers);
            let mut result = Ok(());
            for index in 0..workers {
                let spawned = std::thread::Builder::new()
                    .name(format!("fifo-rpc-worker-{index}"))
                    .spawn_scoped(scope, || worker::run(&shared, &router));
                match spawned {
                    Ok(t) => threads.push(t),
                    Err(source) => {
                        result = Err(ServerError::SpawnWorker { index, source });
                        break;
                    }
                }
            }
            if result.is_ok() {
                let mut io = Io::new(
                    &shared,
                    &router,
                    &bound.dir,
                    &mut bound.reader,
                    workers == 0,
                    self.opts.spin,
                );
                result = io.run();
            }
            {
                let mut st = shared.state.lock();
                st.out.close(); // the client sees end of stream after the final GOODBYE
                st.stop_workers = true;
            }
            shared.work.notify_all();
            for t in threads {
                if t.join().is_err() && result.is_ok() {
                    result = Err(ServerError::WorkerPanicked);
                }
            }
            result
        });
        let summary = shared.state.lock().summary;
        let removed = bound.remove();
        served?;
        removed?;
        Ok(summary)
    }
}

impl Drop for Server {
    /// A server dropped without serving removes its files (FR-FIFO-19).
    fn drop(&mut self) {
        if let Some(bound) = self.bound.take() {
            let _ = bound.remove();
        }
    }
}

/// A random Instance ID, new on every server start (FR-HS-3): the process's random hash keys
/// mixed with the time and the PID.
fn instance_id() -> u64 {
    let mut h = RandomState::new().build_hasher();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.write_u128(now);
    h.write_u32(std::process::id());
    h.finish()
}
