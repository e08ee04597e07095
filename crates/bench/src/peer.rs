//! The two processes: the parent re-executes its own binary as a peer with a role, and the two talk
//! over the peer's stdin/stdout (the control channel) besides the measured FIFOs or socket.
//!
//! Control protocol, one line each: the peer prints `ready` once its ends are open; the parent
//! sends `usage` and the peer answers `usage USER_NS SYS_NS ALLOCS ALLOC_BYTES` (its
//! `getrusage(RUSAGE_SELF)` and allocation counters so far); roles that finish on their own print
//! `done ...`. The parent closes the peer's stdin to tell a server peer to stop. For the
//! allocation check, `trace on` / `trace off` (answered `tracing` / `traced`) bracket a window in
//! which the peer records allocation stacks, and `sites OPS` prints them to stderr (answered
//! `sites`).

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Context, Error, Result};
use crate::{alloc, sys};

/// What a peer process does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Role {
    /// Reads `size` bytes from `pipe.in`, writes them to `pipe.out`, until end of file.
    FifoEcho,
    /// As `fifo-echo`, but `pipe.in` is non-blocking and an empty read yields the CPU and tries
    /// again (a busy-polling reader that lets a peer on the same CPU run).
    FifoSpinEcho,
    /// Reads up to 4 KiB from `pipe.in` and writes everything read to `pipe.out` in one write.
    FifoBatchEcho,
    /// Reads `size` bytes from the Unix socket `sock`, writes them back, until end of file.
    UnixEcho,
    /// Reads `pipe.in` with a `size`-byte buffer until end of file, then prints `done BYTES`.
    FifoSink,
    /// Serves fifo-rpc echo calls in directory `dir` until its stdin closes.
    RpcServer,
}

/// The command line of a peer (the hidden `peer` subcommand).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct PeerArgs {
    /// What to do.
    #[arg(long, value_enum)]
    pub(crate) role: Role,
    /// Directory holding the FIFOs or socket.
    #[arg(long)]
    pub(crate) dir: PathBuf,
    /// Message or buffer size in bytes.
    #[arg(long, default_value_t = 64)]
    pub(crate) size: usize,
    /// Pin the whole peer process to this CPU.
    #[arg(long)]
    pub(crate) cpu: Option<usize>,
    /// fifo-rpc server: handler threads (0 = handlers run inline on the I/O thread).
    #[arg(long)]
    pub(crate) workers: Option<usize>,
    /// fifo-rpc server: microseconds to spin on an empty pipe before sleeping in poll.
    #[arg(long)]
    pub(crate) spin_us: Option<u64>,
    /// fifo-rpc server: FIFO capacity to ask for (`F_SETPIPE_SZ`).
    #[arg(long)]
    pub(crate) pipe_size: Option<usize>,
}

impl PeerArgs {
    /// Arguments for a peer with `role` working in `dir`, defaults elsewhere.
    pub(crate) fn new(role: Role, dir: PathBuf) -> Self {
        Self {
            role,
            dir,
            size: 64,
            cpu: None,
            workers: None,
            spin_us: None,
            pipe_size: None,
        }
    }

    fn to_argv(&self) -> Vec<OsString> {
        let role = clap::ValueEnum::to_possible_value(&self.role)
            .map(|v| v.get_name().to_owned())
            .unwrap_or_default();
        let mut argv: Vec<OsString> = vec![
            "peer".into(),
            "--role".into(),
            role.into(),
            "--dir".into(),
            self.dir.clone().into(),
            "--size".into(),
            self.size.to_string().into(),
        ];
        if let Some(cpu) = self.cpu {
            argv.extend(["--cpu".into(), cpu.to_string().into()]);
        }
        if let Some(w) = self.workers {
            argv.extend(["--workers".into(), w.to_string().into()]);
        }
        if let Some(s) = self.spin_us {
            argv.extend(["--spin-us".into(), s.to_string().into()]);
        }
        if let Some(p) = self.pipe_size {
            argv.extend(["--pipe-size".into(), p.to_string().into()]);
        }
        argv
    }
}

/// CPU time and allocations of one process, absolute or as a difference.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    /// User-mode CPU time, nanoseconds.
    pub(crate) user_ns: u64,
    /// Kernel-mode CPU time, nanoseconds.
    pub(crate) sys_ns: u64,
    /// Allocations (and reallocations).
    pub(crate) allocs: u64,
    /// Bytes requested from the allocator.
    pub(crate) alloc_bytes: u64,
}

impl Usage {
    /// This process's usage so far.
    pub(crate) fn now() -> Self {
        let (user_ns, sys_ns) = sys::cpu_time_ns();
        let (allocs, alloc_bytes) = alloc::counts();
        Self {
            user_ns,
            sys_ns,
            allocs,
            alloc_bytes,
        }
    }

    /// What was used between `earlier` and `self`.
    pub(crate) fn since(self, earlier: Usage) -> Usage {
        Usage {
            user_ns: self.user_ns.saturating_sub(earlier.user_ns),
            sys_ns: self.sys_ns.saturating_sub(earlier.sys_ns),
            allocs: self.allocs.saturating_sub(earlier.allocs),
            alloc_bytes: self.alloc_bytes.saturating_sub(earlier.alloc_bytes),
        }
    }

    /// Total CPU time in microseconds.
    pub(crate) fn cpu_us(self) -> f64 {
        (self.user_ns + self.sys_ns) as f64 / 1e3
    }

    fn parse(fields: &[String]) -> Result<Self> {
        let num = |i: usize| -> Result<u64> {
            fields
                .get(i)
                .ok_or_else(|| Error::msg("usage line too short"))?
                .parse()
                .context("usage line field")
        };
        Ok(Self {
            user_ns: num(0)?,
            sys_ns: num(1)?,
            allocs: num(2)?,
            alloc_bytes: num(3)?,
        })
    }
}

/// The parent's handle on a running peer process.
pub(crate) struct Peer {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    role: Role,
}

/// How long a peer may take to exit once told to.
const EXIT_DEADLINE: Duration = Duration::from_secs(20);

impl Peer {
    /// Starts this binary again as a peer. Must be called from the main thread: the peer is
    /// killed when the spawning thread exits (`PR_SET_PDEATHSIG`).
    pub(crate) fn spawn(args: &PeerArgs) -> Result<Self> {
        let exe = std::env::current_exe().context("locating the benchmark binary")?;
        let mut child = Command::new(&exe)
            .args(args.to_argv())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context(format_args!(
                "starting {} as a {:?} peer",
                exe.display(),
                args.role
            ))?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| Error::msg("peer has no stdout"))?;
        Ok(Self {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            role: args.role,
        })
    }

    /// Whether the peer process is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Reads the next control line, which must start with `word`; returns the other fields.
    pub(crate) fn expect(&mut self, word: &str) -> Result<Vec<String>> {
        let mut line = String::new();
        let n = self
            .stdout
            .read_line(&mut line)
            .context(format_args!("reading from the {:?} peer", self.role))?;
        if n == 0 {
            let status = self.child.wait().ok();
            return Err(Error::msg(format!(
                "the {:?} peer exited ({status:?}) while `{word}` was expected; see its message above",
                self.role
            )));
        }
        let mut fields = line.split_whitespace().map(str::to_owned);
        match fields.next() {
            Some(first) if first == word => Ok(fields.collect()),
            _ => Err(Error::msg(format!(
                "the {:?} peer said {:?} where `{word}` was expected",
                self.role,
                line.trim_end()
            ))),
        }
    }

    /// The peer's CPU time and allocations so far.
    pub(crate) fn usage(&mut self) -> Result<Usage> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| Error::msg("peer control channel already closed"))?;
        stdin
            .write_all(b"usage\n")
            .and_then(|()| stdin.flush())
            .context(format_args!(
                "asking the {:?} peer for its usage",
                self.role
            ))?;
        let fields = self.expect("usage")?;
        Usage::parse(&fields)
    }

    /// Sends one control line and waits for the reply line starting with `reply`.
    pub(crate) fn command(&mut self, line: &str, reply: &str) -> Result<Vec<String>> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| Error::msg("peer control channel already closed"))?;
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .context(format_args!("sending `{line}` to the {:?} peer", self.role))?;
        self.expect(reply)
    }

    /// Closes the control channel and waits for the peer to exit successfully.
    pub(crate) fn finish(mut self) -> Result<()> {
        drop(self.stdin.take());
        let deadline = Instant::now() + EXIT_DEADLINE;
        loop {
            match self.child.try_wait().context("waiting for a peer")? {
                Some(status) if status.success() => return Ok(()),
                Some(status) => {
                    return Err(Error::msg(format!(
                        "the {:?} peer failed with {status}",
                        self.role
                    )))
                }
                None if Instant::now() > deadline => {
                    return Err(Error::msg(format!(
                        "the {:?} peer did not exit within {EXIT_DEADLINE:?}",
                        self.role
                    )))
                }
                None => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Peer side of the control channel.
pub(crate) mod control {
    use super::Usage;
    use std::io::{BufRead, Write};

    /// Prints one control line to the parent.
    pub(crate) fn say(line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    /// Answers `usage` requests until the parent closes stdin. Allocation-free after the first
    /// request, so that it does not disturb the peer's allocation counts.
    pub(crate) fn serve() {
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        let mut line = String::with_capacity(64);
        loop {
            line.clear();
            match input.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) if line.trim() == "usage" => {
                    let u = Usage::now();
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(
                        out,
                        "usage {} {} {} {}",
                        u.user_ns, u.sys_ns, u.allocs, u.alloc_bytes
                    );
                    let _ = out.flush();
                }
                Ok(_) if line.trim() == "trace on" => {
                    crate::alloc::trace(true);
                    say("tracing");
                }
                Ok(_) if line.trim() == "trace off" => {
                    crate::alloc::trace(false);
                    say("traced");
                }
                Ok(_) => {
                    if let Some(ops) = line.trim().strip_prefix("sites ") {
                        let ops = ops.parse().unwrap_or(1);
                        eprint!("{}", crate::alloc::sites_report(ops));
                        say("sites");
                    }
                }
            }
        }
    }

    /// Answers `usage` requests on a background thread, for roles whose main thread is busy.
    pub(crate) fn serve_in_background() -> std::thread::JoinHandle<()> {
        std::thread::spawn(serve)
    }
}
