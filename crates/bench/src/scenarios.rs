//! What a run measures (the configurations, interleaved over runs) and how the figures pair up
//! into fifo-rpc-versus-floor rows.

use crate::error::{Context, Result};
use crate::measure::Metrics;
use crate::plan::{Placement, Plan};
use crate::raw::pingpong::Transport;
use crate::raw::{pingpong, pipelined, stream};
use crate::report::{row, Better, Figures, Row};
use crate::rpc::{self, Issue, Setup};

/// One configuration; each run of the benchmark measures every configuration once.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scenario {
    /// Raw ping-pong over a transport with a message size and placement.
    PingPong(Transport, usize, Placement),
    /// Raw one-way FIFO bandwidth with the default pipe capacity or the one given.
    Stream(Option<usize>, Placement),
    /// Raw pipelined 64-byte echo, one read per message (`false`) or batched reads (`true`).
    Pipelined(bool),
    /// fifo-rpc typed echo round trips with a payload size and placement.
    RpcRoundTrip(Setup, usize, Placement),
    /// fifo-rpc 64-byte calls per second.
    RpcThroughput(Setup, Issue),
    /// fifo-rpc bulk echo with a payload size.
    RpcBulk(Setup, usize, Placement),
}

impl Scenario {
    /// Whether this is one of the headline round-trip configurations, measured with the full
    /// method; the others use [`Plan::diagnostic`].
    fn is_headline(self) -> bool {
        use Placement::{Pinned, Unpinned};
        match self {
            Scenario::PingPong(Transport::Fifo, _, Pinned | Unpinned) => true,
            Scenario::RpcRoundTrip(setup, _, Pinned | Unpinned) => {
                setup == Setup::DEFAULT || setup == Setup::NOSPIN
            }
            Scenario::PingPong(..) | Scenario::RpcRoundTrip(..) => false,
            _ => true,
        }
    }

    /// Runs this configuration once.
    pub(crate) fn run(self, plan: &Plan) -> Result<Metrics> {
        let light = plan.diagnostic();
        let plan = if self.is_headline() { plan } else { &light };
        match self {
            Scenario::PingPong(t, size, p) => pingpong::run(t, size, p, plan),
            Scenario::Stream(pipe_size, p) => stream::run(pipe_size, p, plan),
            Scenario::Pipelined(batched) => pipelined::run(batched, plan),
            Scenario::RpcRoundTrip(setup, size, p) => rpc::round_trip(setup, size, p, plan),
            Scenario::RpcThroughput(setup, issue) => rpc::throughput(setup, issue, plan),
            Scenario::RpcBulk(setup, size, p) => {
                let count = if size > 1 << 20 {
                    plan.bulk_16mib_calls
                } else {
                    plan.bulk_1mib_calls
                };
                rpc::bulk(setup, size, count, p, plan)
            }
        }
        .context(format_args!("{self:?}"))
    }
}

const MIB: usize = 1 << 20;

/// Every configuration, in the order one run measures them.
pub(crate) fn all() -> Vec<Scenario> {
    use Placement::{Pinned, Split, Unpinned};
    let mut list = Vec::new();
    for size in [64, 4096] {
        for placement in [Pinned, Unpinned, Split] {
            list.push(Scenario::PingPong(Transport::Fifo, size, placement));
            list.push(Scenario::RpcRoundTrip(Setup::DEFAULT, size, placement));
            list.push(Scenario::RpcRoundTrip(Setup::NOSPIN, size, placement));
            list.push(Scenario::RpcRoundTrip(Setup::RAW, size, placement));
            if placement != Split {
                list.push(Scenario::RpcRoundTrip(Setup::BYTES, size, placement));
            }
            if placement != Split {
                list.push(Scenario::PingPong(Transport::Unix, size, placement));
            }
            if size == 64 {
                list.push(Scenario::PingPong(Transport::FifoSpin, size, placement));
            }
        }
    }
    for placement in [Pinned, Unpinned] {
        list.push(Scenario::RpcRoundTrip(Setup::POOL, 64, placement));
        list.push(Scenario::RpcRoundTrip(Setup::CLIENT_SPIN, 64, placement));
        list.push(Scenario::RpcRoundTrip(Setup::GUARD, 64, placement));
    }
    list.push(Scenario::Pipelined(false));
    list.push(Scenario::Pipelined(true));
    for setup in [Setup::DEFAULT, Setup::POOL] {
        list.push(Scenario::RpcThroughput(
            setup,
            Issue::Pipelined { threads: 1 },
        ));
        list.push(Scenario::RpcThroughput(
            setup,
            Issue::Pipelined { threads: 4 },
        ));
    }
    list.push(Scenario::RpcThroughput(
        Setup::DEFAULT,
        Issue::Blocking { threads: 4 },
    ));
    for placement in [Unpinned, Split] {
        list.push(Scenario::Stream(None, placement));
        list.push(Scenario::Stream(Some(MIB), placement));
        list.push(Scenario::RpcBulk(Setup::DEFAULT, MIB, placement));
        list.push(Scenario::RpcBulk(Setup::DEFAULT, 16 * MIB, placement));
    }
    list.push(Scenario::RpcBulk(Setup::SMALLPIPE, MIB, Unpinned));
    list.push(Scenario::RpcBulk(Setup::SMALLPIPE, 16 * MIB, Unpinned));
    list.push(Scenario::RpcBulk(Setup::INTO, MIB, Unpinned));
    list.push(Scenario::RpcBulk(Setup::INTO, 16 * MIB, Unpinned));
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
    // Round trips: (row prefix, fifo-rpc family, placement), all against the raw FIFO floor of
    // the same placement.
    let latency: &[(&str, &str, &str)] = &[
        ("", "rpc", "pinned"),
        ("", "rpc", "unpinned"),
        ("", "rpc", "split"),
        ("nospin_", "rpc_nospin", "pinned"),
        ("nospin_", "rpc_nospin", "unpinned"),
        ("nospin_", "rpc_nospin", "split"),
        ("pool_", "rpc_pool", "pinned"),
        ("pool_", "rpc_pool", "unpinned"),
        ("raw_", "rpc_raw", "pinned"),
        ("raw_", "rpc_raw", "unpinned"),
        ("raw_", "rpc_raw", "split"),
        ("clientspin_", "rpc_clientspin", "pinned"),
        ("clientspin_", "rpc_clientspin", "unpinned"),
        ("bytes_", "rpc_bytes", "pinned"),
        ("bytes_", "rpc_bytes", "unpinned"),
        ("raw_guard_", "rpc_raw_guard", "pinned"),
        ("raw_guard_", "rpc_raw_guard", "unpinned"),
    ];
    for size in ["rt64", "rt4k"] {
        for &(variant, family, placement) in latency {
            let only64 = ["rpc_pool", "rpc_clientspin", "rpc_raw_guard"];
            if only64.contains(&family) && size == "rt4k" {
                continue;
            }
            for stat in ["p50", "mean", "p99"] {
                // rt64_pinned_p50_us, rt64_unpinned_nospin_p50_us, ...
                let name = match variant {
                    "" => format!("{size}_{placement}_{stat}_us"),
                    v => format!("{size}_{placement}_{v}{stat}_us"),
                };
                rows.push(row(
                    &name,
                    "us",
                    Lower,
                    &format!("{family}.{size}.{placement}.{stat}_us"),
                    &format!("fifo.{size}.{placement}.{stat}_us"),
                ));
            }
        }
    }
    // Against readers that busy-poll with a yield (the best a spin-then-block strategy can do).
    for placement in ["pinned", "unpinned", "split"] {
        rows.push(row(
            &format!("rt64_{placement}_vs_busypoll_p50_us"),
            "us",
            Lower,
            &format!("rpc.rt64.{placement}.p50_us"),
            &format!("fifo_spin.rt64.{placement}.p50_us"),
        ));
    }
    // CPU and allocations per call.
    let per_call: &[(&str, &str, &str)] = &[
        ("rt64_pinned", "rpc.rt64.pinned", "fifo.rt64.pinned"),
        ("rt64_unpinned", "rpc.rt64.unpinned", "fifo.rt64.unpinned"),
        ("rt64_split", "rpc.rt64.split", "fifo.rt64.split"),
        (
            "rt64_unpinned_nospin",
            "rpc_nospin.rt64.unpinned",
            "fifo.rt64.unpinned",
        ),
        (
            "rt64_split_nospin",
            "rpc_nospin.rt64.split",
            "fifo.rt64.split",
        ),
        ("pipelined64", "rpc.pipelined64", "fifo.pipelined64"),
    ];
    for &(name, rpc, floor) in per_call {
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
    for side in ["client", "server"] {
        rows.push(row(
            &format!("rt64_pinned_{side}_allocs_per_call"),
            "allocs/call",
            Lower,
            &format!("rpc.rt64.pinned.{side}_allocs"),
            &format!("fifo.rt64.pinned.{side}_allocs"),
        ));
    }
    // Throughput.
    for (name, rpc) in [
        ("pipelined64_calls_per_s", "rpc.pipelined64"),
        (
            "pipelined64_4threads_calls_per_s",
            "rpc.pipelined64_4threads",
        ),
        ("pipelined64_pool_calls_per_s", "rpc_pool.pipelined64"),
        (
            "pipelined64_4threads_pool_calls_per_s",
            "rpc_pool.pipelined64_4threads",
        ),
        (
            "concurrent64_4threads_calls_per_s",
            "rpc.concurrent64_4threads",
        ),
    ] {
        rows.push(row(
            name,
            "calls/s",
            Higher,
            &format!("{rpc}.calls_per_s"),
            "fifo.pipelined64.msgs_per_s",
        ));
    }
    rows.push(row(
        "pipelined64_vs_batched_floor_calls_per_s",
        "calls/s",
        Higher,
        "rpc.pipelined64.calls_per_s",
        "fifo.pipelined64_batched.msgs_per_s",
    ));
    // Bulk.
    for (name, rpc, floor) in [
        (
            "bulk1mib_gb_per_s",
            "rpc.bulk1m.unpinned",
            "fifo.stream.default.unpinned",
        ),
        (
            "bulk16mib_gb_per_s",
            "rpc.bulk16m.unpinned",
            "fifo.stream.default.unpinned",
        ),
        (
            "bulk1mib_split_gb_per_s",
            "rpc.bulk1m.split",
            "fifo.stream.default.split",
        ),
        (
            "bulk16mib_split_gb_per_s",
            "rpc.bulk16m.split",
            "fifo.stream.default.split",
        ),
        (
            "bulk1mib_vs_bigpipe_floor_gb_per_s",
            "rpc.bulk1m.unpinned",
            "fifo.stream.1m.unpinned",
        ),
        (
            "bulk16mib_vs_bigpipe_floor_gb_per_s",
            "rpc.bulk16m.unpinned",
            "fifo.stream.1m.unpinned",
        ),
        (
            "bulk1mib_smallpipe_gb_per_s",
            "rpc_smallpipe.bulk1m.unpinned",
            "fifo.stream.default.unpinned",
        ),
        (
            "bulk16mib_smallpipe_gb_per_s",
            "rpc_smallpipe.bulk16m.unpinned",
            "fifo.stream.default.unpinned",
        ),
        (
            "bulk1mib_into_gb_per_s",
            "rpc_into.bulk1m.unpinned",
            "fifo.stream.default.unpinned",
        ),
        (
            "bulk16mib_into_gb_per_s",
            "rpc_into.bulk16m.unpinned",
            "fifo.stream.default.unpinned",
        ),
    ] {
        rows.push(row(
            name,
            "GB/s",
            Higher,
            &format!("{rpc}.gb_per_s"),
            &format!("{floor}.gb_per_s"),
        ));
    }
    rows
}
