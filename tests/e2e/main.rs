//! End-to-end tests: the example binaries and the library as real processes over real FIFOs.
//!
//! Every test runs in its own temporary directory and bounds every wait (see `support::WAIT`).

mod cli;
mod support;
