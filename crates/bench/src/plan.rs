//! How much work each measurement does: the floors.md method for a full run, scaled down for a
//! `--quick` smoke run.

/// Counts for one benchmark run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// Whether this is the scaled-down smoke run.
    pub(crate) quick: bool,
    /// Runs of every configuration, interleaved; figures are the median over runs.
    pub(crate) runs: usize,
    /// Untimed round trips before the timed ones.
    pub(crate) warmup: usize,
    /// Round trips timed one by one.
    pub(crate) timed: usize,
    /// Bytes written per one-way bandwidth run.
    pub(crate) stream_bytes: usize,
    /// 64-byte messages per pipelined run.
    pub(crate) pipelined_msgs: usize,
    /// Calls per bulk run with a 1 MiB payload.
    pub(crate) bulk_1mib_calls: usize,
    /// Calls per bulk run with a 16 MiB payload.
    pub(crate) bulk_16mib_calls: usize,
}

impl Plan {
    /// The floors.md method: 10,000 warm-up and 100,000 timed round trips, five runs.
    pub(crate) const FULL: Plan = Plan {
        quick: false,
        runs: 5,
        warmup: 10_000,
        timed: 100_000,
        stream_bytes: 512 << 20,
        pipelined_msgs: 1_000_000,
        bulk_1mib_calls: 200,
        bulk_16mib_calls: 16,
    };

    /// The plan for diagnostic configurations (Unix socket, split placement, variants of the
    /// fifo-rpc setup): a fifth of the round trips, so that a full run stays within minutes.
    pub(crate) fn diagnostic(self) -> Plan {
        Plan {
            warmup: (self.warmup / 5).max(1),
            timed: (self.timed / 5).max(1),
            ..self
        }
    }

    /// A smoke run that exercises every measurement in a few seconds.
    pub(crate) const QUICK: Plan = Plan {
        quick: true,
        runs: 1,
        warmup: 200,
        timed: 2_000,
        stream_bytes: 16 << 20,
        pipelined_msgs: 20_000,
        bulk_1mib_calls: 4,
        bulk_16mib_calls: 1,
    };
}

/// Where the two processes may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// Both processes pinned to CPU 0.
    Pinned,
    /// The scheduler decides (what users get).
    Unpinned,
    /// One process per CPU: the client on CPU 0, the server on CPU 1 (every message crosses CPUs).
    Split,
}

impl Placement {
    /// Lower-case name used in figure names.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Placement::Pinned => "pinned",
            Placement::Unpinned => "unpinned",
            Placement::Split => "split",
        }
    }

    /// The CPU the peer pins itself to, if any.
    pub(crate) fn peer_cpu(self) -> Option<usize> {
        match self {
            Placement::Pinned => Some(0),
            Placement::Unpinned => None,
            Placement::Split => Some(1 % crate::sys::online_cpus()),
        }
    }

    /// Applies this placement to the calling (measuring) thread and the threads it creates.
    pub(crate) fn apply_here(self) -> std::io::Result<()> {
        crate::sys::set_affinity(match self {
            Placement::Pinned | Placement::Split => Some(0),
            Placement::Unpinned => None,
        })
    }
}
