//! The two measuring loops shared by the floors and the fifo-rpc runs: round trips timed one by
//! one, and a batch of work timed as a whole, each with both processes' CPU time and allocations.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::peer::{Peer, Usage};
use crate::stats::Latency;

/// Named figures of one run of one configuration, e.g. `("fifo.rt64.pinned.p50_us", 2.2)`.
#[derive(Debug, Default, Clone)]
pub(crate) struct Metrics(pub(crate) Vec<(String, f64)>);

impl Metrics {
    /// Adds `prefix.name = value`.
    pub(crate) fn push(&mut self, prefix: &str, name: &str, value: f64) {
        self.0.push((format!("{prefix}.{name}"), value));
    }
}

/// Client and server usage over the measured stretch, and how many operations it held.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cost {
    /// The measuring (client) process.
    pub(crate) client: Usage,
    /// The peer (server) process.
    pub(crate) server: Usage,
    /// Operations (calls, round trips, messages) measured.
    pub(crate) ops: usize,
}

impl Cost {
    /// Adds per-operation CPU time (µs) and allocation figures for both sides under `prefix`.
    pub(crate) fn push_into(&self, m: &mut Metrics, prefix: &str) {
        let ops = self.ops.max(1) as f64;
        for (side, usage) in [("client", self.client), ("server", self.server)] {
            m.push(prefix, &format!("{side}_cpu_us"), usage.cpu_us() / ops);
            m.push(prefix, &format!("{side}_allocs"), usage.allocs as f64 / ops);
            m.push(
                prefix,
                &format!("{side}_alloc_bytes"),
                usage.alloc_bytes as f64 / ops,
            );
        }
    }
}

/// Result of [`round_trips`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct RoundTrips {
    /// Per-round-trip latency summary.
    pub(crate) latency: Latency,
    /// Usage over the timed round trips.
    pub(crate) cost: Cost,
}

impl RoundTrips {
    /// The figures of this run under `prefix`: mean/p50/p99 in µs, CPU and allocations per call.
    pub(crate) fn metrics(&self, prefix: &str) -> Metrics {
        let mut m = Metrics::default();
        m.push(prefix, "mean_us", self.latency.mean_us);
        m.push(prefix, "p50_us", self.latency.p50_us);
        m.push(prefix, "p99_us", self.latency.p99_us);
        self.cost.push_into(&mut m, prefix);
        m
    }
}

/// Runs `op` `warmup` times untimed, then `timed` times, timing each on its own.
pub(crate) fn round_trips(
    peer: &mut Peer,
    warmup: usize,
    timed: usize,
    mut op: impl FnMut() -> Result<()>,
) -> Result<RoundTrips> {
    for _ in 0..warmup {
        op()?;
    }
    let mut samples: Vec<u64> = Vec::with_capacity(timed);
    let server_start = peer.usage()?;
    let client_start = Usage::now();
    for _ in 0..timed {
        let start = Instant::now();
        op()?;
        samples.push(duration_ns(start.elapsed()));
    }
    let client = Usage::now().since(client_start);
    let server = peer.usage()?.since(server_start);
    let latency =
        Latency::from_ns(&mut samples).ok_or_else(|| Error::msg("no round trips were timed"))?;
    Ok(RoundTrips {
        latency,
        cost: Cost {
            client,
            server,
            ops: timed,
        },
    })
}

/// Runs `work` once, timing it as a whole; `ops` is the number of operations it performs. `work`
/// gets the peer to read its control lines (e.g. `done`).
pub(crate) fn batch(
    peer: &mut Peer,
    ops: usize,
    work: impl FnOnce(&mut Peer) -> Result<()>,
) -> Result<(Duration, Cost)> {
    let server_start = peer.usage()?;
    let client_start = Usage::now();
    let start = Instant::now();
    work(peer)?;
    let elapsed = start.elapsed();
    let client = Usage::now().since(client_start);
    let server = peer.usage()?.since(server_start);
    Ok((
        elapsed,
        Cost {
            client,
            server,
            ops,
        },
    ))
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
