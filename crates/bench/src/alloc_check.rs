//! `--alloc-check`: allocations per steady-state 64-byte call on each side, and where they come
//! from.
//!
//! For the server with `workers(0)` and with its default pool, and for a typed call, a raw call
//! and pipelined raw calls: after a warm-up, count the allocations of both processes over many
//! calls (the counting allocator of [`crate::alloc`]), then record the allocation stacks of a few
//! calls and print the sites. A received message is expected to cost one allocation on each side
//! (its payload, handed to the application); anything beyond is reported.

use std::io::Write;

use crate::alloc;
use crate::error::{Context, Result};
use crate::measure::round_trips;
use crate::plan::{Placement, Plan};
use crate::rpc::server::{ECHO, ECHO_RAW};
use crate::rpc::{pipeline_with, Session, Setup, WINDOW};

/// Calls whose allocation stacks are recorded.
const TRACE_CALLS: usize = 64;
/// Payload size.
const SIZE: usize = 64;
/// Allocations a call may make on each side: the received payload.
const PAYLOAD_ALLOCS: f64 = 1.0;

/// How the calls are made.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `Client::call::<Vec<u8>, Vec<u8>>("echo", ..)`.
    Typed,
    /// `Client::call_raw("echo_raw", ..)`.
    Raw,
    /// `Client::call_raw_into("echo_raw", .., &mut answer)`, the same buffer every call.
    RawInto,
    /// `Client::send_raw("echo_raw", ..)` with a window of calls in flight.
    Pipelined,
}

/// Runs the check and prints the result; the sites go to stderr.
pub(crate) fn run(plan: &Plan) -> Result<()> {
    println!(
        "allocations per steady-state {SIZE}-byte echo call (payload: {PAYLOAD_ALLOCS} per side)\n"
    );
    println!("| server | call | client allocs | client bytes | server allocs | server bytes | beyond payload |");
    println!("|---|---|---:|---:|---:|---:|---|");
    for (label, setup) in [
        ("workers(0)", Setup::DEFAULT),
        ("default pool", Setup::POOL),
    ] {
        let mut session = Session::start(setup, Placement::Unpinned)?;
        for kind in [Kind::Typed, Kind::Raw, Kind::RawInto, Kind::Pipelined] {
            check(&mut session, label, kind, plan)?;
        }
        session.finish()?;
    }
    Ok(())
}

fn check(session: &mut Session, label: &str, kind: Kind, plan: &Plan) -> Result<()> {
    let payload = vec![0xA5u8; SIZE];
    let client = &session.client;
    let mut queue = std::collections::VecDeque::with_capacity(WINDOW);
    // Pipelined calls are counted per batch of WINDOW calls.
    let per_op = match kind {
        Kind::Pipelined => WINDOW,
        Kind::Typed | Kind::Raw | Kind::RawInto => 1,
    };
    let mut answer = Vec::new();
    let mut op = || -> Result<()> {
        match kind {
            Kind::Typed => {
                let _: Vec<u8> = client.call(ECHO, &payload).context("echo call")?;
            }
            Kind::Raw => {
                client
                    .call_raw(ECHO_RAW, &payload)
                    .context("echo_raw call")?;
            }
            Kind::RawInto => {
                client
                    .call_raw_into(ECHO_RAW, &payload, &mut answer)
                    .context("echo_raw call into a buffer")?;
            }
            Kind::Pipelined => pipeline_with(client, WINDOW, WINDOW, &payload, &mut queue)?,
        }
        Ok(())
    };
    let ops = (plan.timed / per_op).max(1);
    let rt = round_trips(&mut session.peer, plan.warmup / per_op, ops, &mut op)?;
    let calls = (ops * per_op) as f64;
    let c = rt.cost.client;
    let s = rt.cost.server;
    let (ca, sa) = (c.allocs as f64 / calls, s.allocs as f64 / calls);
    let beyond = if ca > PAYLOAD_ALLOCS + 0.01 || sa > PAYLOAD_ALLOCS + 0.01 {
        "yes"
    } else {
        "no"
    };
    println!(
        "| {label} | {kind:?} | {ca:.2} | {:.0} | {sa:.2} | {:.0} | {beyond} |",
        c.alloc_bytes as f64 / calls,
        s.alloc_bytes as f64 / calls
    );

    let traced_ops = (TRACE_CALLS / per_op).max(1);
    let traced_calls = traced_ops * per_op;
    session.peer.command("trace on", "tracing")?;
    alloc::trace(true);
    for _ in 0..traced_ops {
        op()?;
    }
    alloc::trace(false);
    session.peer.command("trace off", "traced")?;
    let _ = std::io::stdout().flush();
    eprintln!("\n== {label}, {kind:?}: client allocation sites ({traced_calls} calls)");
    eprint!("{}", alloc::sites_report(traced_calls));
    eprintln!("== {label}, {kind:?}: server allocation sites ({traced_calls} calls)");
    session
        .peer
        .command(&format!("sites {traced_calls}"), "sites")?;
    Ok(())
}
