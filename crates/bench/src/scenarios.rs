//! What a run measures (the configurations, interleaved over runs) and how the figures pair up
//! into fifo-rpc-versus-floor rows.

use crate::error::{Context, Result};
use crate::measure::Metrics;
use crate::plan::{Placement, Plan};
use crate::raw::pingpong::Transport;
use crate::raw::{pingpong, pipelined, stream};
use crate::report::{row, Better, Figures, Row};

/// One configuration; each run of the benchmark measures every configuration once.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scenario {
    /// Raw ping-pong over a transport with a message size and placement.
    PingPong(Transport, usize, Placement),
    /// Raw one-way FIFO bandwidth with the default pipe capacity or the one given.
    Stream(Option<usize>, Placement),
    /// Raw pipelined 64-byte echo, one read per message (`false`) or batched reads (`true`).
    Pipelined(bool),
}

impl Scenario {
    /// Runs this configuration once.
    pub(crate) fn run(self, plan: &Plan) -> Result<Metrics> {
        match self {
            Scenario::PingPong(t, size, p) => pingpong::run(t, size, p, plan),
            Scenario::Stream(pipe_size, p) => stream::run(pipe_size, p, plan),
            Scenario::Pipelined(batched) => pipelined::run(batched, plan),
        }
        .context(format_args!("{self:?}"))
    }
}

/// Every configuration, in the order one run measures them.
pub(crate) fn all() -> Vec<Scenario> {
    let mut list = Vec::new();
    for transport in [Transport::Fifo, Transport::Unix] {
        for size in [64, 4096] {
            for placement in [Placement::Pinned, Placement::Unpinned, Placement::Split] {
                if transport == Transport::Unix && placement == Placement::Split {
                    continue;
                }
                list.push(Scenario::PingPong(transport, size, placement));
            }
        }
    }
    for placement in [Placement::Unpinned, Placement::Split] {
        list.push(Scenario::Stream(None, placement));
        list.push(Scenario::Stream(Some(1 << 20), placement));
    }
    list.push(Scenario::Pipelined(false));
    list.push(Scenario::Pipelined(true));
    list
}

/// Runs every configuration `plan.runs` times, interleaved, collecting one value per run.
pub(crate) fn measure(plan: &Plan, scenarios: &[Scenario]) -> Result<Figures> {
    let mut figures = Figures::new();
    for run in 1..=plan.runs {
        for &scenario in scenarios {
            eprintln!("run {run}/{}: {scenario:?}", plan.runs);
            for (name, value) in scenario.run(plan)?.0 {
                figures.entry(name).or_default().push(value);
            }
        }
    }
    Ok(figures)
}

/// The comparison rows: each fifo-rpc figure against its floor.
pub(crate) fn rows() -> Vec<Row> {
    use Better::{Higher, Lower};
    let mut rows = Vec::new();
    for (label, size) in [("rt64", "rt64"), ("rt4k", "rt4k")] {
        for placement in ["pinned", "unpinned"] {
            for stat in ["mean", "p50", "p99"] {
                rows.push(row(
                    &format!("{label}_{placement}_{stat}_us"),
                    "us",
                    Lower,
                    &format!("rpc.{size}.{placement}.{stat}_us"),
                    &format!("fifo.{size}.{placement}.{stat}_us"),
                ));
            }
        }
        for stat in ["mean", "p50", "p99"] {
            rows.push(row(
                &format!("{label}_unpinned_nospin_{stat}_us"),
                "us",
                Lower,
                &format!("rpc_nospin.{size}.unpinned.{stat}_us"),
                &format!("fifo.{size}.unpinned.{stat}_us"),
            ));
        }
    }
    for (name, rpc, floor) in [
        ("rt64_pinned", "rpc.rt64.pinned", "fifo.rt64.pinned"),
        ("rt64_unpinned", "rpc.rt64.unpinned", "fifo.rt64.unpinned"),
        (
            "rt64_unpinned_nospin",
            "rpc_nospin.rt64.unpinned",
            "fifo.rt64.unpinned",
        ),
        ("pipelined64", "rpc.pipelined64", "fifo.pipelined64"),
    ] {
        for side in ["client", "server"] {
            rows.push(row(
                &format!("{name}_{side}_cpu_us_per_call"),
                "us/call",
                Lower,
                &format!("{rpc}.{side}_cpu_us"),
                &format!("{floor}.{side}_cpu_us"),
            ));
        }
    }
    rows.push(row(
        "pipelined64_calls_per_s",
        "calls/s",
        Higher,
        "rpc.pipelined64.calls_per_s",
        "fifo.pipelined64.msgs_per_s",
    ));
    rows.push(row(
        "pipelined64_4threads_calls_per_s",
        "calls/s",
        Higher,
        "rpc.pipelined64_4threads.calls_per_s",
        "fifo.pipelined64.msgs_per_s",
    ));
    rows.push(row(
        "bulk1mib_gb_per_s",
        "GB/s",
        Higher,
        "rpc.bulk1m.gb_per_s",
        "fifo.stream.default.unpinned.gb_per_s",
    ));
    rows.push(row(
        "bulk16mib_gb_per_s",
        "GB/s",
        Higher,
        "rpc.bulk16m.gb_per_s",
        "fifo.stream.default.unpinned.gb_per_s",
    ));
    rows
}
