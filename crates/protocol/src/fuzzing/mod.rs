//! Fuzz target bodies, shared by `fuzz/fuzz_targets/*.rs` (cargo-fuzz) and by the stable test
//! `tests/fuzz_corpus.rs`, which replays `fuzz/corpus/<target>/`.
//!
//! Each target takes arbitrary bytes and panics when an invariant breaks; that is how a fuzzer
//! reports a finding. Not a stable API.
//!
//! To add a target: a file in this directory with `pub fn run(data: &[u8])`, a line in
//! [`TARGETS`], `fuzz/fuzz_targets/<name>.rs` calling it, a `[[bin]]` in `fuzz/Cargo.toml`, and seed
//! inputs in `fuzz/corpus/<name>/`.

mod client_session;
mod decode_frame;
mod input;
mod receiver;
mod roundtrip;
mod server_session;
mod wire;

pub use input::Input;

/// A fuzz target body.
pub type Target = fn(&[u8]);

/// Every target, by the name of its `fuzz/fuzz_targets/<name>.rs` and `fuzz/corpus/<name>/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("decode_frame", decode_frame::run),
    ("receiver", receiver::run),
    ("roundtrip", roundtrip::run),
    ("client_session", client_session::run),
    ("server_session", server_session::run),
];

/// The target called `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// FrameDecoder: chunking never changes the results, frames satisfy the header rules, and
/// re-encoding a frame decodes to the same frame (FR-DEC-1, FR-DEC-2).
pub fn decode_frame(data: &[u8]) {
    decode_frame::run(data);
}

/// Receiver: chunking never changes the events; every message re-encodes and is received again
/// unchanged (FR-DEC-1, spec §7).
pub fn receiver(data: &[u8]) {
    receiver::run(data);
}

/// Message -> frames -> Receiver gives back the message, for any MaxFrame.
pub fn roundtrip(data: &[u8]) {
    roundtrip::run(data);
}

/// ClientSession driven by fuzzer-chosen calls, cancels and server bytes: every started call gets
/// exactly one reply, counts stay consistent, everything sent is valid frames (spec §8).
pub fn client_session(data: &[u8]) {
    client_session::run(data);
}

/// ServerSession driven by fuzzer-chosen client bytes and driver calls: one terminal message per
/// call, nothing written for an ended session, consistent in-flight counts (spec §8).
pub fn server_session(data: &[u8]) {
    server_session::run(data);
}
