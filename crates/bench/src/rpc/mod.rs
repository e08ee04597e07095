//! fifo-rpc measured with the same method as the floors: the server ([`server`]) in the peer
//! process, a [`Client`] in the measuring process.
//!
//! Figure names start with a family that says how client and server were set up:
//! `rpc` (defaults: client and server spin before sleeping; server with `workers(0)`, handlers
//! inline), `rpc_nospin` (spin disabled on both sides), `rpc_clientspin` (only the client
//! spins), `rpc_raw` (raw calls), `rpc_raw_guard` (raw calls from a thread holding a
//! `SigpipeGuard`), `rpc_bytes` (typed calls with `serde_bytes::ByteBuf` bodies), `rpc_pool`
//! (the server's default worker pool), `rpc_smallpipe` (the server keeps the kernel's 64 KiB
//! FIFOs instead of asking for its default 1 MiB) and `rpc_into` (bulk answers received into
//! the caller's buffer with `call_raw_into`).

pub(crate) mod server;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use fifo_rpc_client::{Client, ClientConfig, PendingCall};

use crate::error::{Context, Error, Result};
use crate::measure::{batch, round_trips, Metrics};
use crate::peer::{Peer, PeerArgs, Role};
use crate::plan::{Placement, Plan};
use crate::raw::empty_dir;
use crate::raw::pingpong::size_label;
use serde_bytes::{ByteBuf, Bytes};
use server::{ECHO, ECHO_BYTES, ECHO_RAW};

/// Largest message the benchmark's server accepts (bulk runs send 16 MiB bodies).
pub(crate) const SERVER_MAX_MESSAGE: u32 = 32 << 20;
/// Calls one pipelining thread keeps in flight.
pub(crate) const WINDOW: usize = 256;
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one call may take: generous, so that a debug build's 16 MiB echo does not time out.
const CALL_TIMEOUT: Duration = Duration::from_secs(300);

/// How client and server are configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Setup {
    /// Whether the client uses its default spin-then-block idle strategy (`false`: spin 0).
    pub(crate) client_spin: bool,
    /// Whether the server uses its default spin-then-block idle strategy (`false`: spin 0).
    pub(crate) server_spin: bool,
    /// Whether the server uses its default worker pool (`false`: `workers(0)`).
    pub(crate) pool: bool,
    /// The server keeps the kernel's FIFO capacity (`pipe_size(0)`) instead of its default.
    pub(crate) small_pipe: bool,
    /// Round trips use raw calls (`call_raw("echo_raw")`) instead of typed `Vec<u8>` calls.
    pub(crate) raw: bool,
    /// The calling thread holds a `SigpipeGuard` (raw calls).
    pub(crate) sigpipe_guard: bool,
    /// Typed calls carry `serde_bytes::ByteBuf` instead of `Vec<u8>` (same octets on the wire).
    pub(crate) byte_buf: bool,
    /// Bulk calls receive their answers into one buffer (`call_raw_into`) instead of a new
    /// `Vec` each (`call_raw`).
    pub(crate) into: bool,
}

impl Setup {
    /// Client and server defaults, handlers inline.
    pub(crate) const DEFAULT: Setup = Setup {
        client_spin: true,
        server_spin: true,
        pool: false,
        small_pipe: false,
        raw: false,
        sigpipe_guard: false,
        byte_buf: false,
        into: false,
    };
    /// Spin disabled on both sides.
    pub(crate) const NOSPIN: Setup = Setup {
        client_spin: false,
        server_spin: false,
        ..Setup::DEFAULT
    };
    /// Only the client spins.
    pub(crate) const CLIENT_SPIN: Setup = Setup {
        server_spin: false,
        ..Setup::DEFAULT
    };
    /// Raw calls, client and server defaults.
    pub(crate) const RAW: Setup = Setup {
        raw: true,
        ..Setup::DEFAULT
    };
    /// Raw calls from a thread that holds a `SigpipeGuard`.
    pub(crate) const GUARD: Setup = Setup {
        raw: true,
        sigpipe_guard: true,
        ..Setup::DEFAULT
    };
    /// Typed calls with `serde_bytes::ByteBuf` bodies.
    pub(crate) const BYTES: Setup = Setup {
        byte_buf: true,
        ..Setup::DEFAULT
    };
    /// The server's default worker pool.
    pub(crate) const POOL: Setup = Setup {
        pool: true,
        ..Setup::DEFAULT
    };
    /// Bulk answers received into the caller's buffer.
    pub(crate) const INTO: Setup = Setup {
        into: true,
        ..Setup::DEFAULT
    };
    /// The kernel's 64 KiB FIFOs.
    pub(crate) const SMALLPIPE: Setup = Setup {
        small_pipe: true,
        ..Setup::DEFAULT
    };

    /// The family part of figure names.
    pub(crate) fn family(self) -> String {
        let mut name = String::from("rpc");
        if self.pool {
            name.push_str("_pool");
        }
        match (self.client_spin, self.server_spin) {
            (true, true) => {}
            (false, false) => name.push_str("_nospin"),
            (true, false) => name.push_str("_clientspin"),
            (false, true) => name.push_str("_serverspin"),
        }
        if self.small_pipe {
            name.push_str("_smallpipe");
        }
        if self.raw {
            name.push_str("_raw");
        }
        if self.sigpipe_guard {
            name.push_str("_guard");
        }
        if self.byte_buf {
            name.push_str("_bytes");
        }
        if self.into {
            name.push_str("_into");
        }
        name
    }
}

/// A running server peer and a connected client.
pub(crate) struct Session {
    /// The connected client.
    pub(crate) client: Client,
    /// The server process.
    pub(crate) peer: Peer,
    _dir: tempfile::TempDir,
}

impl Session {
    /// Starts a server peer placed and configured as asked, and connects to it.
    pub(crate) fn start(setup: Setup, placement: Placement) -> Result<Self> {
        placement
            .apply_here()
            .context("setting the CPU affinity of the measuring thread")?;
        let dir = empty_dir()?;
        let svc: PathBuf = dir.path().join("svc");
        let mut args = PeerArgs::new(Role::RpcServer, svc.clone());
        args.cpu = placement.peer_cpu();
        args.workers = if setup.pool { None } else { Some(0) };
        args.spin_us = if setup.server_spin { None } else { Some(0) };
        args.pipe_size = setup.small_pipe.then_some(0);
        let mut peer = Peer::spawn(&args)?;
        peer.expect("ready")?;
        let mut config = ClientConfig::default()
            .connect_timeout(CONNECT_TIMEOUT)
            .call_timeout(Some(CALL_TIMEOUT));
        if !setup.client_spin {
            config = config.spin(Duration::ZERO);
        }
        let client = config
            .connect(&svc)
            .context(format_args!("connecting to {}", svc.display()))?;
        Ok(Self {
            client,
            peer,
            _dir: dir,
        })
    }

    /// Closes the session and waits for the server to shut down.
    pub(crate) fn finish(self) -> Result<()> {
        let Session { client, peer, _dir } = self;
        drop(client);
        peer.finish()
    }
}

/// One run of echo round trips with a `size`-byte payload (a typed `Vec<u8>`, or raw octets for
/// [`Setup::raw`]); figures are named `FAMILY.rtSIZE.PLACEMENT.*`.
pub(crate) fn round_trip(
    setup: Setup,
    size: usize,
    placement: Placement,
    plan: &Plan,
) -> Result<Metrics> {
    let prefix = format!(
        "{}.rt{}.{}",
        setup.family(),
        size_label(size),
        placement.name()
    );
    let mut session = Session::start(setup, placement)?;
    let payload = vec![0xA5u8; size];
    let client = &session.client;
    // The documented opt-in for a hot calling thread: SIGPIPE stays blocked, writes skip the
    // two pthread_sigmask calls each.
    let _guard = if setup.sigpipe_guard {
        Some(fifo_rpc_fifo::SigpipeGuard::new().context("blocking SIGPIPE in the caller")?)
    } else {
        None
    };
    let rt = round_trips(&mut session.peer, plan.warmup, plan.timed, || {
        let len = if setup.raw {
            client
                .call_raw(ECHO_RAW, &payload)
                .context("echo_raw call")?
                .len()
        } else if setup.byte_buf {
            let reply: ByteBuf = client
                .call(ECHO_BYTES, Bytes::new(&payload))
                .context("echo_bytes call")?;
            reply.len()
        } else {
            let reply: Vec<u8> = client.call(ECHO, &payload).context("echo call")?;
            reply.len()
        };
        check_len(len, size)
    })?;
    session.finish()?;
    Ok(rt.metrics(&prefix))
}

/// How a throughput run issues its 64-byte calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Issue {
    /// `threads` threads, each keeping [`WINDOW`] / `threads` raw calls in flight with
    /// `send_raw`: figures `FAMILY.pipelined64[_Nthreads].*`.
    Pipelined {
        /// Calling threads.
        threads: usize,
    },
    /// `threads` threads, each making blocking raw calls one after another:
    /// `FAMILY.concurrent64_Nthreads.*`.
    Blocking {
        /// Calling threads.
        threads: usize,
    },
}

/// Message size of the throughput runs.
const SMALL: usize = 64;

/// One unpinned run of `plan.pipelined_msgs` 64-byte raw echo calls issued as `issue` says.
pub(crate) fn throughput(setup: Setup, issue: Issue, plan: &Plan) -> Result<Metrics> {
    let prefix = match issue {
        Issue::Pipelined { threads: 1 } => format!("{}.pipelined64", setup.family()),
        Issue::Pipelined { threads } => format!("{}.pipelined64_{threads}threads", setup.family()),
        Issue::Blocking { threads } => {
            format!("{}.concurrent64_{threads}threads", setup.family())
        }
    };
    let mut session = Session::start(setup, Placement::Unpinned)?;
    let n = plan.pipelined_msgs;
    let body = [0x3Cu8; SMALL];
    let client = &session.client;
    // Warm-up: connect-time effects and first allocations out of the timed stretch.
    pipeline(client, (n / 10).max(1), WINDOW, &body)?;
    let (elapsed, cost) = batch(&mut session.peer, n, |_| match issue {
        Issue::Pipelined { threads: 1 } => pipeline(client, n, WINDOW, &body),
        Issue::Pipelined { threads } => on_threads(threads, n, |calls| {
            pipeline(client, calls, (WINDOW / threads).max(1), &body)
        }),
        Issue::Blocking { threads } => on_threads(threads, n, |calls| {
            for _ in 0..calls {
                let reply = client.call_raw(ECHO_RAW, &body).context("echo_raw call")?;
                check_len(reply.len(), SMALL)?;
            }
            Ok(())
        }),
    })?;
    session.finish()?;
    let mut m = Metrics::default();
    m.push(&prefix, "calls_per_s", n as f64 / elapsed.as_secs_f64());
    cost.push_into(&mut m, &prefix);
    Ok(m)
}

/// `calls` raw echo calls with up to `window` in flight, answers collected in order.
pub(crate) fn pipeline(client: &Client, calls: usize, window: usize, body: &[u8]) -> Result<()> {
    pipeline_with(
        client,
        calls,
        window,
        body,
        &mut VecDeque::with_capacity(window),
    )
}

/// [`pipeline`] with the caller's queue of calls in flight (no allocation of its own).
pub(crate) fn pipeline_with(
    client: &Client,
    calls: usize,
    window: usize,
    body: &[u8],
    in_flight: &mut VecDeque<PendingCall<'static>>,
) -> Result<()> {
    in_flight.clear();
    for _ in 0..calls {
        if in_flight.len() >= window {
            if let Some(call) = in_flight.pop_front() {
                wait_echo(call, body.len())?;
            }
        }
        in_flight.push_back(client.send_raw(ECHO_RAW, body).context("send_raw")?);
    }
    while let Some(call) = in_flight.pop_front() {
        wait_echo(call, body.len())?;
    }
    Ok(())
}

fn wait_echo(call: PendingCall<'_>, len: usize) -> Result<()> {
    let reply = call.wait().context("waiting for a pipelined answer")?;
    check_len(reply.len(), len)
}

/// Splits `total` calls over `threads` scoped threads running `work(calls)`.
fn on_threads(
    threads: usize,
    total: usize,
    work: impl Fn(usize) -> Result<()> + Sync,
) -> Result<()> {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let calls = total / threads + usize::from(i < total % threads);
                let work = &work;
                s.spawn(move || work(calls))
            })
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .map_err(|_| Error::msg("a calling thread panicked"))?
        })
    })
}

/// One run of `count` raw echo calls with a `size`-byte body; figures `FAMILY.bulkSIZE.PLACEMENT.*`
/// with `gb_per_s` counting the octets of both directions (2 x size per call).
pub(crate) fn bulk(
    setup: Setup,
    size: usize,
    count: usize,
    placement: Placement,
    plan: &Plan,
) -> Result<Metrics> {
    let prefix = format!(
        "{}.bulk{}m.{}",
        setup.family(),
        size >> 20,
        placement.name()
    );
    let mut session = Session::start(setup, placement)?;
    let body = vec![0x17u8; size];
    let client = &session.client;
    if !plan.quick {
        let reply = client
            .call_raw(ECHO_RAW, &body)
            .context("warm-up bulk call")?;
        check_len(reply.len(), size)?;
    }
    let mut answer = Vec::new();
    let (elapsed, cost) = batch(&mut session.peer, count, |_| {
        for _ in 0..count {
            if setup.into {
                client
                    .call_raw_into(ECHO_RAW, &body, &mut answer)
                    .context("bulk echo_raw call into a buffer")?;
                check_len(answer.len(), size)?;
            } else {
                let reply = client
                    .call_raw(ECHO_RAW, &body)
                    .context("bulk echo_raw call")?;
                check_len(reply.len(), size)?;
            }
        }
        Ok(())
    })?;
    session.finish()?;
    let mut m = Metrics::default();
    let bytes = 2.0 * size as f64 * count as f64;
    m.push(&prefix, "gb_per_s", bytes / elapsed.as_secs_f64() / 1e9);
    cost.push_into(&mut m, &prefix);
    Ok(m)
}

fn check_len(got: usize, want: usize) -> Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(Error::msg(format!(
            "echo answered {got} octets for a {want}-octet request"
        )))
    }
}
