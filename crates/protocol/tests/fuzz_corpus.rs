//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the fuzz target bodies on a
//! stable toolchain, so every seed and every fixed finding stays a regression test.

use std::path::Path;

use fifo_rpc_protocol::fuzzing::TARGETS;

#[test]
fn replay_fuzz_corpus() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    for (name, run) in TARGETS {
        let dir = corpus.join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| {
                panic!("fuzz target {name} has no corpus at {}: {e}", dir.display())
            })
            .map(|entry| entry.expect("corpus entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "fuzz target {name}: empty corpus");
        for file in files {
            let data = std::fs::read(&file).expect("readable corpus file");
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(
                outcome.is_ok(),
                "fuzz target {name} failed on {}",
                file.display()
            );
        }
    }
}

// Every target is reachable by name, as fuzz/fuzz_targets/<name>.rs expects.
#[test]
fn targets_are_named_uniquely() {
    let mut names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), TARGETS.len());
    for name in names {
        assert!(fifo_rpc_protocol::fuzzing::target(name).is_some());
        let source = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/fuzz_targets")
            .join(format!("{name}.rs"));
        assert!(source.is_file(), "missing {}", source.display());
    }
}
