//! Server tests over real FIFOs: binding (spec §9.2), serving raw clients, shutdown, idle CPU.
//!
//! Every test runs in its own temporary directory and bounds every wait (`support::WAIT`).

mod bind;
mod idle;
mod serve;
mod support;
