//! A client that stops reading: its process is SIGSTOPped while the server has large answers
//! to write. The server must not deadlock, must honour shutdown, and either resume when the
//! client continues or drop it after its write timeout (GOODBYE `SLOW_READER`).

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use rand::Rng;

use crate::harness::{self, field, figure, reps, Proc, Spawn, Watchdog, WAIT};
use crate::support::{assert_clean, TestDir};

/// A server with `write_timeout_ms`, and a `stopped` client that sent `k` calls of 1 MiB answers
/// and has just been SIGSTOPped (after its `@@SENT`).
fn stopped_pair(dir: &std::path::Path, write_timeout_ms: u64, expect: &str) -> (Proc, Proc) {
    let mut server = Spawn::default()
        .arg("write_timeout_ms", write_timeout_ms)
        .start("server", dir);
    server.expect("READY", WAIT);
    let mut client = Spawn::default()
        .arg("k", 8)
        .arg("size", 1 << 20)
        .arg("expect", expect)
        .start("stopped", dir);
    client.expect("SENT", WAIT);
    client.signal(Signal::SIGSTOP).expect("SIGSTOP");
    (server, client)
}

// FR-FIFO-13, FR-FIFO-11: the client is stopped for a random time shorter than the write
// timeout while 8 MiB of answers wait; after SIGCONT every answer arrives intact.
#[test]
fn stopped_client_resumes_and_gets_every_answer() {
    let _wd = Watchdog::new("stopped client resumes", Duration::from_secs(300));
    let mut rng = harness::rng("stopped client resumes");
    let n = reps(4);
    for _ in 0..n {
        let t = TestDir::new();
        let dir = t.service();
        let (mut server, mut client) = stopped_pair(&dir, 10_000, "ok");
        harness::fault_delay(Duration::from_millis(rng.gen_range(50..1500)));
        client.signal(Signal::SIGCONT).expect("SIGCONT");
        client.expect("OK", WAIT);
        client.expect_success(WAIT);
        server.signal(Signal::SIGTERM).expect("SIGTERM");
        let summary = server.expect("SUMMARY", WAIT);
        assert_eq!(field(&summary, "slow_readers"), 0);
        server.expect_success(WAIT);
    }
    figure(format_args!(
        "stopped reader: client SIGSTOPped 50..1500 ms with 8 MiB of answers pending, then \
         SIGCONT x{n}: every answer intact"
    ));
}

// FR-BYE-5, GOODBYE SLOW_READER: the client stays stopped past the server's write timeout
// (300 ms); the server drops it and counts a slow reader. After SIGCONT the client's calls fail
// with typed errors and a reconnect works.
#[test]
fn stopped_client_is_dropped_after_write_timeout() {
    let _wd = Watchdog::new("stopped client dropped", Duration::from_secs(300));
    let n = reps(3);
    let mut seen = Vec::new();
    let mut latest = Duration::ZERO;
    for _ in 0..n {
        let t = TestDir::new();
        let dir = t.service();
        let stopped_at = Instant::now();
        let (mut server, mut client) = stopped_pair(&dir, 300, "dropped");
        server.expect("SLOW", WAIT);
        latest = latest.max(stopped_at.elapsed());
        client.signal(Signal::SIGCONT).expect("SIGCONT");
        let dropped = client.expect("DROPPED", WAIT);
        client.expect_success(WAIT);
        seen.push(dropped);
        server.signal(Signal::SIGTERM).expect("SIGTERM");
        let summary = server.expect("SUMMARY", WAIT);
        assert_eq!(field(&summary, "slow_readers"), 1, "{summary}");
        server.expect_success(WAIT);
    }
    seen.sort();
    seen.dedup();
    figure(format_args!(
        "stopped reader: client SIGSTOPped past a 300 ms write timeout x{n}: dropped as a slow \
         reader within {latest:?} of the stop; after SIGCONT: {seen:?}"
    ));
}

// FR-BYE-2, FR-BYE-5, FR-FIFO-19: SIGTERM while the client is stopped with answers pending: the server
// still exits 0 within a bound (its write timeout, 2 s, plus margin) and removes its files.
#[test]
fn server_honours_sigterm_while_client_is_stopped() {
    let _wd = Watchdog::new("sigterm with stopped client", Duration::from_secs(300));
    let mut rng = harness::rng("sigterm with stopped client");
    let n = reps(3);
    let mut slowest = Duration::ZERO;
    for _ in 0..n {
        let t = TestDir::new();
        let dir = t.service();
        let (mut server, mut client) = stopped_pair(&dir, 2000, "any");
        harness::fault_delay(Duration::from_millis(rng.gen_range(0..500)));
        let sent = Instant::now();
        server.signal(Signal::SIGTERM).expect("SIGTERM");
        server.expect("SUMMARY", Duration::from_secs(10));
        server.expect_success(Duration::from_secs(10));
        let took = sent.elapsed();
        slowest = slowest.max(took);
        assert!(took < Duration::from_secs(7), "shutdown took {took:?}");
        assert_clean(&dir);
        client.signal(Signal::SIGCONT).expect("SIGCONT");
        client.expect("END", WAIT);
        client.expect_success(WAIT);
    }
    figure(format_args!(
        "stopped reader: SIGTERM to the server while its client is stopped x{n}: exit 0 and \
         files removed within {slowest:?} (write timeout 2 s)"
    ));
}
