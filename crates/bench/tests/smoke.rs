//! CI smoke run: `fifo-rpc-bench --quick --json FILE` completes and writes every figure the
//! report promises. Timings are never asserted: this only checks that the benchmark runs.

use std::io::Read;
use std::process::{Command, Stdio};
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
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the benchmark");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let log = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    // Watchdog: a smoke run takes seconds in release, a minute or two in a debug build.
    let deadline = Instant::now() + Duration::from_secs(900);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the benchmark") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the quick benchmark run did not finish within 15 minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = log.join().expect("stderr reader");
    assert!(status.success(), "benchmark failed: {status}\n{log}");

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
        for key in ["fifo_rpc", "floor", "ratio"] {
            let value = row[key]
                .as_f64()
                .unwrap_or_else(|| panic!("{name}.{key} is not a number"));
            assert!(value > 0.0, "{name}.{key} = {value} is not positive");
        }
    }
}
