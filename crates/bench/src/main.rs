//! Two-process benchmark of fifo-rpc against the physical floors of the machine it runs on.
//!
//! `cargo run --release -p fifo-rpc-bench -- [--quick] [--json FILE]` measures, in one run and
//! with the method of `shared/floors.md` (warm-up, then round trips each timed on their own, runs
//! interleaved, medians over runs), side by side:
//!
//! - the floors ([`raw`]): raw FIFO and Unix-socket ping-pong, raw pipe bandwidth, a raw
//!   pipelined echo;
//! - fifo-rpc ([`rpc`]): typed and raw echo round trips, pipelined and concurrent calls, bulk
//!   echo, with the client and server idle strategies on and off and the server's handlers
//!   inline or on its worker pool;
//!
//! then prints one table of fifo-rpc figures against their floors, followed by every figure
//! measured, and optionally writes JSON. Placements: `pinned` (both processes on CPU 0),
//! `unpinned` (the scheduler decides) and `split` (client on CPU 0, server on CPU 1).
//!
//! `--alloc-check` instead counts the allocations of a steady-state 64-byte call on each side
//! and prints where they come from ([`alloc_check`]); `--only TEXT` runs a subset.
//!
//! The parent re-executes its own binary as the peer process (`peer --role ...`, hidden); see
//! [`peer`] for the control channel between the two.

mod alloc;
mod alloc_check;
mod error;
mod measure;
mod peer;
mod plan;
mod raw;
mod report;
mod rpc;
mod scenarios;
mod stats;
mod sys;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::Result;
use crate::peer::{PeerArgs, Role};
use crate::plan::Plan;
use crate::report::{Machine, Report};

#[global_allocator]
static ALLOC: alloc::CountingAlloc = alloc::CountingAlloc;

/// Benchmark fifo-rpc against raw FIFOs, raw Unix sockets and raw pipe bandwidth.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Scaled-down smoke run (well under a minute); figures are indicative only.
    #[arg(long)]
    quick: bool,
    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Only run the configurations whose description contains this text (e.g. `RpcBulk`,
    /// `Pinned`); for investigating one figure.
    #[arg(long, value_name = "TEXT")]
    only: Option<String>,
    /// Instead of the benchmark: count the allocations of a steady-state 64-byte call on each
    /// side and print where they come from.
    #[arg(long)]
    alloc_check: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Internal: run as the peer process of a measurement.
    #[command(hide = true)]
    Peer(PeerArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Some(Command::Peer(args)) => run_peer(args),
        None if cli.alloc_check => {
            alloc_check::run(if cli.quick { &Plan::QUICK } else { &Plan::FULL })
        }
        None => run_parent(&cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("fifo-rpc-bench: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run_peer(args: &PeerArgs) -> Result<()> {
    sys::die_with_parent();
    if let Some(cpu) = args.cpu {
        use crate::error::Context;
        sys::set_affinity(Some(cpu)).context(format_args!("pinning the peer to CPU {cpu}"))?;
    }
    match args.role {
        Role::FifoEcho => raw::peers::fifo_echo(args),
        Role::FifoSpinEcho => raw::peers::fifo_spin_echo(args),
        Role::FifoBatchEcho => raw::peers::fifo_batch_echo(args),
        Role::UnixEcho => raw::peers::unix_echo(args),
        Role::FifoSink => raw::peers::fifo_sink(args),
        Role::RpcServer => rpc::server::serve(args),
    }
}

fn run_parent(cli: &Cli) -> Result<()> {
    let plan = if cli.quick { Plan::QUICK } else { Plan::FULL };
    let date = report::utc_now();
    let command = std::iter::once("fifo-rpc-bench".to_owned())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    let machine = Machine::describe();
    let mut selected = scenarios::all();
    if let Some(text) = &cli.only {
        selected.retain(|s| format!("{s:?}").contains(text.as_str()));
    }
    let figures = scenarios::measure(&plan, &selected)?;
    let rows = scenarios::rows();
    let report = Report {
        machine: &machine,
        rows: &rows,
        figures: &figures,
        date: &date,
        command: &command,
        quick: plan.quick,
    };
    println!("{}", report.table());
    if let Some(path) = &cli.json {
        report.write_json(path)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
