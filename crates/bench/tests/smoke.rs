//! CI smoke run: `fifo-rpc-bench --quick --json FILE` completes and writes every figure the
//! report promises. Timings are never asserted: this only checks that the benchmark runs.

use std::process::Command;
use std::time::{Duration, Instant};

/// The names the JSON `results` must hold.
const REQUIRED: &[&str] = &[
    "rt64_pinned_p50_us",
    "rt64_unpinned_p50_us",
    "rt4k_pinned_p50_us",
    "pipelined64_calls_per_s",
    "pipelined64_4threads_calls_per_s",
    "bulk1mib_gb_per_s",
    "bulk16mib_gb_per_s",
];

#[test]
fn quick_run_writes_json_with_every_result() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let json_path = dir.path().join("bench.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fifo-rpc-bench"))
        .arg("--quick")
        .arg("--json")
        .arg(&json_path)
        .spawn()
        .expect("start the benchmark");
    // Watchdog: a smoke run takes seconds; give a slow debug build plenty of room.
    let deadline = Instant::now() + Duration::from_secs(600);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the benchmark") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the quick benchmark run did not finish within 10 minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "benchmark failed: {status}");

    let text = std::fs::read_to_string(&json_path).expect("read the JSON report");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let machine = &doc["machine"];
    for key in ["cpu_model", "nproc", "kernel", "pipe_buf", "pipe_max_size"] {
        assert!(!machine[key].is_null(), "machine.{key} missing");
    }
    let results = doc["results"].as_array().expect("results array");
    for name in REQUIRED {
        let row = results
            .iter()
            .find(|r| r["name"] == *name)
            .unwrap_or_else(|| panic!("result {name} missing"));
        for key in ["unit", "fifo_rpc", "floor", "ratio"] {
            assert!(row.get(key).is_some(), "{name}.{key} missing");
        }
        let floor = row["floor"]
            .as_f64()
            .unwrap_or_else(|| panic!("{name} has no floor"));
        assert!(floor > 0.0, "{name} floor {floor} is not positive");
    }
}
