//! The machinery of the reliability tests: child processes (this test binary run again in a
//! role, see `roles.rs`), logged seeds, the soak factor, watchdogs, and what `/proc` says about a
//! process (peak RSS, open descriptors).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Environment variable naming the role of a child process of this test binary.
pub const ROLE: &str = "FIFO_RPC_REL_ROLE";
/// Environment variable with the service directory of a child.
pub const DIR: &str = "FIFO_RPC_REL_DIR";
/// Environment variable with a role's options, `key=value` pairs separated by commas.
pub const ARGS: &str = "FIFO_RPC_REL_ARGS";
/// Every line a child reports to its test starts with this marker (libtest may print
/// `test child_entry ... ` in front of it on the same line).
pub const MARK: &str = "@@";
/// Upper bound of any single wait in these tests.
pub const WAIT: Duration = Duration::from_secs(30);

/// `FIFO_RPC_SOAK`: a factor for every repetition count (default 1), for longer runs.
pub fn soak() -> usize {
    std::env::var("FIFO_RPC_SOAK")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n >= 1)
        .unwrap_or(1)
}

/// `n` repetitions, times the soak factor.
pub fn reps(n: usize) -> usize {
    n * soak()
}

/// A random generator for the test `what`: seeded from `FIFO_RPC_SEED` if set, otherwise from
/// the clock; the seed is printed so that a failing timing can be replayed.
pub fn rng(what: &str) -> StdRng {
    let seed = std::env::var("FIFO_RPC_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            t ^ u64::from(std::process::id()) << 32
        });
    eprintln!("{what}: seed {seed} (replay with FIFO_RPC_SEED={seed})");
    StdRng::seed_from_u64(seed)
}

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

/// A child process of this test binary in a role, its stdout read line by line (the marked
/// lines) and its stderr collected.
pub struct Proc {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
    stderr_done: Option<thread::JoinHandle<()>>,
    reaped: Option<ExitStatus>,
}

/// How a role process is started.
#[derive(Default, Clone)]
pub struct Spawn<'a> {
    /// Role options: `key=value` pairs.
    pub args: Vec<(&'a str, String)>,
    /// A command line to run the child under (`setpriv ...`, `sh -c 'umask 0; exec "$0" "$@"'`).
    pub wrap: Vec<String>,
}

impl<'a> Spawn<'a> {
    pub fn arg(mut self, key: &'a str, value: impl ToString) -> Self {
        self.args.push((key, value.to_string()));
        self
    }

    pub fn wrap<S: ToString>(mut self, prefix: &[S]) -> Self {
        self.wrap = prefix.iter().map(ToString::to_string).collect();
        self
    }

    /// Starts this test binary again, running only `child_entry` in `role`.
    pub fn start(&self, role: &str, dir: &Path) -> Proc {
        let exe = std::env::current_exe().expect("current_exe");
        let mut command = match self.wrap.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let args: Vec<String> = self.args.iter().map(|(k, v)| format!("{k}={v}")).collect();
        command
            .args([
                "--exact",
                "child_entry",
                "--include-ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ROLE, role)
            .env(DIR, dir)
            .env(ARGS, args.join(","))
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn the test binary in a role");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(at) = line.find(MARK) {
                    if tx.send(line[at + MARK.len()..].to_owned()).is_err() {
                        break;
                    }
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let mut pipe = child.stderr.take().expect("piped stderr");
        let stderr_done = thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buf[..n]);
                sink.lock().expect("stderr sink").push_str(&text);
            }
        });
        Proc {
            child,
            lines,
            stderr,
            stderr_done: Some(stderr_done),
            reaped: None,
        }
    }
}

impl Proc {
    /// A role process with no options.
    pub fn start(role: &str, dir: &Path) -> Proc {
        Spawn::default().start(role, dir)
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits for the next marked line that starts with `prefix`; returns the rest of it.
    /// Fails the test (with the child's stderr) if none comes within `limit`.
    pub fn expect(&mut self, prefix: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => {
                    return line[prefix.len()..].trim().to_owned();
                }
                Ok(_) => continue,
                Err(e) => {
                    let _ = self.signal(Signal::SIGKILL);
                    panic!(
                        "child {} ({e:?}): no line {prefix:?} within {limit:?}; stderr:\n{}",
                        self.pid(),
                        self.stderr_text()
                    );
                }
            }
        }
    }

    /// The marked lines received so far that start with `prefix` (does not wait).
    pub fn drain_lines(&mut self, prefix: &str) -> Vec<String> {
        std::iter::from_fn(|| self.lines.try_recv().ok())
            .filter_map(|l| l.strip_prefix(prefix).map(|r| r.trim().to_owned()))
            .collect()
    }

    pub fn signal(&self, sig: Signal) -> nix::Result<()> {
        kill(Pid::from_raw(self.pid()), sig)
    }

    /// Waits for the process to exit, failing the test after `limit` (the process is killed).
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        if let Some(status) = self.reaped {
            return status;
        }
        let status = crate::support::wait_child(&mut self.child, limit);
        self.reaped = Some(status);
        if let Some(t) = self.stderr_done.take() {
            let _ = t.join();
        }
        status
    }

    /// SIGKILL, and reap.
    pub fn kill(&mut self) -> ExitStatus {
        if self.reaped.is_none() {
            let _ = self.signal(Signal::SIGKILL);
        }
        self.wait(WAIT)
    }

    /// What the process wrote on stderr so far.
    pub fn stderr_text(&self) -> String {
        self.stderr.lock().expect("stderr sink").clone()
    }

    /// Waits for a clean exit (status 0), failing with the stderr otherwise.
    pub fn expect_success(&mut self, limit: Duration) {
        let status = self.wait(limit);
        assert!(
            status.success(),
            "child {} failed with {status:?}; stderr:\n{}",
            self.pid(),
            self.stderr_text()
        );
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.reaped.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A field `key=value` of a space-separated report line, as a number.
pub fn field(line: &str, key: &str) -> u64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
}

/// Peak resident set size (`VmHWM`) of a live process, in KiB.
pub fn peak_rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/<pid>/status")
}

/// Open file descriptors of a live process.
pub fn open_fds(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read /proc/<pid>/fd")
        .count()
}

/// Octets for request bodies: a pool of random octets; a body is a slice of it behind an
/// 8-octet tag, so that every call's body is distinct and checking a reply is one comparison.
pub struct Bodies {
    pool: Vec<u8>,
}

impl Bodies {
    pub fn new(rng: &mut StdRng, max: usize) -> Bodies {
        use rand::RngCore;
        let mut pool = vec![0u8; max + 4096];
        rng.fill_bytes(&mut pool);
        Bodies { pool }
    }

    /// The body of call `tag`, `len` octets, starting at `offset` of the pool.
    pub fn body(&self, tag: u64, len: usize, offset: usize) -> Vec<u8> {
        let offset = offset % 4096;
        let mut body = Vec::with_capacity(len);
        let head = tag.to_le_bytes();
        body.extend_from_slice(&head[..len.min(8)]);
        if len > 8 {
            body.extend_from_slice(&self.pool[offset..offset + len - 8]);
        }
        body
    }
}

/// The body the server's `big` method answers for `(size, seed)`: cheap to make and check.
pub fn big_reply(size: usize, seed: u8) -> Vec<u8> {
    (0..size)
        .map(|i| {
            (i as u8)
                .wrapping_mul(31)
                .wrapping_add(seed ^ (i >> 12) as u8)
        })
        .collect()
}

/// The request body of `big`: the reply size and a seed.
pub fn big_request(size: usize, seed: u8) -> Vec<u8> {
    let mut body = (size as u32).to_le_bytes().to_vec();
    body.push(seed);
    body
}

/// Sleeps for the randomised fault timing of a test (never used to wait for a condition).
pub fn fault_delay(d: Duration) {
    thread::sleep(d);
}

/// Runs `f` every `every` (with jitter from `rng`) on a thread until the returned guard drops.
pub struct Storm {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<thread::JoinHandle<u64>>,
}

impl Storm {
    pub fn start(
        mut rng: StdRng,
        max_gap: Duration,
        mut f: impl FnMut() + Send + 'static,
    ) -> Storm {
        use rand::Rng;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut n = 0;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                f();
                n += 1;
                let gap = rng.gen_range(0..=max_gap.as_micros() as u64);
                // The gap IS the randomised fault timing.
                fault_delay(Duration::from_micros(gap));
            }
            n
        });
        Storm {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the storm; returns how many times it fired.
    pub fn stop(mut self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread
            .take()
            .map_or(0, |t| t.join().expect("storm thread"))
    }
}

impl Drop for Storm {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Records one line of figures for docs/RELIABILITY.md (printed; the tests run with
/// `--nocapture` in `.ci/reliability.sh`, which keeps them).
pub fn figure(line: impl std::fmt::Display) {
    eprintln!("FIGURE {line}");
}
