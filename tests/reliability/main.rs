//! Reliability and security of fifo-rpc as a tested promise: load, faults (processes killed,
//! stopped and continued), signal storms, resource limits, bad input from strangers, and files
//! planted by others. Real processes over real FIFOs; every wait is bounded; random timings log
//! their seed (`FIFO_RPC_SEED` replays one) and `FIFO_RPC_SOAK=N` multiplies the repetitions.
//!
//! Figures are printed as `FIGURE ...` lines on stderr (`cargo test --test reliability --
//! --nocapture`); docs/RELIABILITY.md quotes them.

// Helpers are `pub` inside this test crate; nothing is exported.
#![allow(unreachable_pub)]

#[allow(dead_code, unreachable_pub)]
#[path = "../e2e/support.rs"]
mod support;

#[allow(dead_code)]
mod harness;

#[allow(dead_code)]
mod client_roles;
mod roles;

mod bad_input;
mod faults;
mod limits;
mod load;
mod security;
mod signals;
mod stopped;

/// The entry point of the child processes that the tests start (see `harness::Spawn`).
#[test]
#[ignore = "entry point of the child processes that the other tests start"]
fn child_entry() {
    roles::child_main();
}
