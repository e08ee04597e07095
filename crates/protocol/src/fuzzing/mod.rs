//! Fuzz target bodies, shared by `fuzz/fuzz_targets/*.rs` (cargo-fuzz) and by the stable test
//! `tests/fuzz_corpus.rs`, which replays `fuzz/corpus/<target>/`.
//!
//! Each target takes arbitrary bytes and panics when an invariant breaks; that is how a fuzzer
//! reports a finding. Not a stable API.
//!
//! To add a target: a file in this directory with `pub fn run(data: &[u8])`, a line in
//! [`TARGETS`], `fuzz/fuzz_targets/<name>.rs` calling it, a `[[bin]]` in `fuzz/Cargo.toml`, and seed
//! inputs in `fuzz/corpus/<name>/`.

mod decode_frame;
mod input;
mod receiver;
mod roundtrip;

pub use input::Input;

/// A fuzz target body.
pub type Target = fn(&[u8]);

/// Every target, by the name of its `fuzz/fuzz_targets/<name>.rs` and `fuzz/corpus/<name>/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("decode_frame", decode_frame::run),
    ("receiver", receiver::run),
    ("roundtrip", roundtrip::run),
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
