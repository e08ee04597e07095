//! Faults with real processes: clients and servers SIGKILLed at random points (mid-frame, mid
//! fragmented message, with calls pending, mid-answer), servers restarted, and hosts that keep
//! SIGPIPE at its default action. Each scenario is repeated with random timing.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fifo_rpc_client::ClientError;
use nix::sys::signal::Signal;
use rand::Rng;

use crate::harness::{
    self, big_reply, big_request, field, figure, reps, Proc, Spawn, Watchdog, WAIT,
};
use crate::roles::patient;
use crate::support::TestDir;

/// A client of the test process calls `bytes` once and checks the answer: the server serves.
fn served(dir: &std::path::Path, rng: &mut impl Rng) -> Duration {
    let started = Instant::now();
    let client = patient().connect(dir).expect("connect after the fault");
    let mut body = vec![0u8; rng.gen_range(0..=300_000)];
    rng.fill(&mut body[..]);
    assert_eq!(
        client
            .call_raw("bytes", &body)
            .expect("call after the fault"),
        body
    );
    client.close();
    started.elapsed()
}

/// SIGTERM to a server role; its summary line. The server must exit 0.
fn stop(server: &mut Proc) -> String {
    server.signal(Signal::SIGTERM).expect("SIGTERM");
    let summary = server.expect("SUMMARY", WAIT);
    server.expect_success(WAIT);
    summary
}

// FR-DEC-5, FR-DEC-6, FR-DEC-7, FR-FIFO-14: a raw client writes the first part of a REQUEST frame
// (for `forbidden`) and is SIGKILLed after a random delay. The partial frame is reported as a
// framing error and never run; the next client is served.
#[test]
fn client_killed_mid_frame() {
    let _wd = Watchdog::new("client killed mid-frame", Duration::from_secs(300));
    let mut rng = harness::rng("client killed mid-frame");
    let t = TestDir::new();
    let dir = t.service();
    let mut server = Proc::start("server", &dir);
    server.expect("READY", WAIT);
    let n = reps(10);
    for _ in 0..n {
        let cut = rng.gen_range(1..1036);
        let mut raw = Spawn::default().arg("cut", cut).start("half-frame", &dir);
        raw.expect("HALF", WAIT);
        harness::fault_delay(Duration::from_micros(rng.gen_range(0..5000)));
        raw.kill();
        served(&dir, &mut rng);
    }
    let summary = stop(&mut server);
    assert_eq!(field(&summary, "forbidden"), 0, "a partial frame was run");
    assert!(
        field(&summary, "framing_errors") >= n as u64,
        "each partial frame is a framing error: {summary}"
    );
    assert!(server.stderr_text().contains("TRUNCATED_FRAME"));
    figure(format_args!(
        "fault: client SIGKILLed mid-frame x{n}: served after each, {summary}"
    ));
}

// FR-FRAG-6, FR-FIFO-14, FR-SESS-1: a client is SIGKILLed in the middle of a fragmented
// message. Two ways: a real client streaming 1 MiB requests (about 260 frames each, written frame
// by frame), killed after a random delay within one call's duration (measured first), and a raw
// client that wrote a random number of whole fragments plus a random part of the next frame.
// The server drops the partial message, never runs it, and serves the next client.
#[test]
fn client_killed_mid_fragmented_message() {
    let _wd = Watchdog::new("client killed mid-message", Duration::from_secs(300));
    let mut rng = harness::rng("client killed mid-message");
    let t = TestDir::new();
    let dir = t.service();
    let mut server = Proc::start("server", &dir);
    server.expect("READY", WAIT);
    // One call's duration, READY to answer, so that the kills fall inside calls.
    let mut probe = Spawn::default()
        .arg("size", 1 << 20)
        .arg("n", 3)
        .start("caller", &dir);
    probe.expect("READY", WAIT);
    let begun = Instant::now();
    probe.expect("DONE", WAIT);
    let per_call = begun.elapsed() / 3;
    probe.expect_success(WAIT);
    let n = reps(10);
    let mut worst = Duration::ZERO;
    for _ in 0..n {
        let mut client = Spawn::default().arg("size", 1 << 20).start("caller", &dir);
        client.expect("READY", WAIT);
        let max = per_call.as_micros() as u64 * 3 / 2;
        harness::fault_delay(Duration::from_micros(rng.gen_range(0..=max)));
        client.kill();
        worst = worst.max(served(&dir, &mut rng));
    }
    for _ in 0..n {
        let mut raw = Spawn::default()
            .arg("fragments", rng.gen_range(1..8))
            .arg("cut", rng.gen_range(0..4096))
            .start("half-frame", &dir);
        raw.expect("HALF", WAIT);
        harness::fault_delay(Duration::from_micros(rng.gen_range(0..5000)));
        raw.kill();
        worst = worst.max(served(&dir, &mut rng));
    }
    let summary = stop(&mut server);
    assert_eq!(field(&summary, "forbidden"), 0, "a partial message was run");
    let log = server.stderr_text();
    let truncated = log.matches("TRUNCATED_MESSAGE").count();
    // When the next client opens pipe.in before the dead one's descriptor is closed, the server
    // sees no end of stream: the new HELLO replaces the session (FR-SESS-1), and the partial
    // message is dropped with the session, without a framing error.
    let replaced = log.matches("replaced by a new session").count();
    assert!(
        truncated + replaced >= n,
        "every raw client left a partial message: {truncated} reported, {replaced} replaced"
    );
    figure(format_args!(
        "fault: client SIGKILLed mid fragmented message x{} ({n} real clients sending 1 MiB \
         requests, one call = {per_call:?}; {n} raw clients): {truncated} partial messages \
         reported at end of stream, {replaced} sessions replaced by the next HELLO first; next \
         client served within {worst:?} each",
        2 * n
    ));
}

// FR-SESS-2, FR-FIFO-18, FR-BYE-1: a client with calls in progress (handlers sleeping, 1 MiB
// answers being written) is SIGKILLed after a random delay. The server drops the answers (EPIPE,
// no SIGPIPE death), stops the handlers through cancellation, and serves the next client promptly.
#[test]
fn client_killed_with_calls_pending() {
    let _wd = Watchdog::new("client killed with calls pending", Duration::from_secs(300));
    let mut rng = harness::rng("client killed with calls pending");
    let t = TestDir::new();
    let dir = t.service();
    let mut server = Proc::start("server", &dir);
    server.expect("READY", WAIT);
    let n = reps(10);
    let mut worst = Duration::ZERO;
    for _ in 0..n {
        let mut client = Spawn::default()
            .arg("threads", 6)
            .arg("ms", 20_000)
            .arg("size", 1 << 20)
            .start("pending", &dir);
        client.expect("PENDING", WAIT);
        harness::fault_delay(Duration::from_micros(rng.gen_range(0..50_000)));
        client.kill();
        worst = worst.max(served(&dir, &mut rng));
    }
    assert!(
        worst < Duration::from_secs(10),
        "the next client waited {worst:?}: handlers of a dead client were not stopped"
    );
    let summary = stop(&mut server);
    figure(format_args!(
        "fault: client SIGKILLed with 6 calls pending x{n}: next client served within {worst:?}"
    ));
    let _ = summary;
}

/// What one calling thread saw when the server died.
struct Failure {
    error: String,
    at: Instant,
    gone: bool,
}

// FR-BYE-4, FR-HS-3, FR-FIFO-6: the server is SIGKILLed after a random delay while it writes
// 4 MiB answers to four threads (even repetitions) or while calls wait in handlers (odd ones).
// Every pending call fails within a second with ServerGone (outcome unknown), later calls with
// Disconnected; a new server reclaims the directory, reconnect() reaches it (new instance id)
// and calls work again.
#[test]
fn server_killed_mid_answer_then_restarted() {
    let _wd = Watchdog::new("server killed mid-answer", Duration::from_secs(300));
    let mut rng = harness::rng("server killed mid-answer");
    let t = TestDir::new();
    let dir = t.service();
    let mut server = Proc::start("server", &dir);
    server.expect("READY", WAIT);
    let client = Arc::new(patient().connect(&dir).expect("connect"));
    let n = reps(6);
    let mut slowest = Duration::ZERO;
    for rep in 0..n {
        let before = client.server_info().instance_id;
        let failures = Arc::new(Mutex::new(Vec::new()));
        let stop_flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let callers: Vec<_> = (0..4u8)
            .map(|k| {
                let (client, failures) = (Arc::clone(&client), Arc::clone(&failures));
                let stop_flag = Arc::clone(&stop_flag);
                std::thread::spawn(move || {
                    let mut i = 0u8;
                    while !stop_flag.load(std::sync::atomic::Ordering::Relaxed) {
                        i = i.wrapping_add(1);
                        let result = if rep % 2 == 0 {
                            let seed = k.wrapping_mul(64).wrapping_add(i);
                            let size = 4 << 20;
                            client
                                .call_raw("big", &big_request(size, seed))
                                .map(|r| assert!(r == big_reply(size, seed), "a torn answer"))
                        } else {
                            client.call_raw("sleep", &20_000u32.to_le_bytes()).map(drop)
                        };
                        if let Err(e) = result {
                            let gone = matches!(e, ClientError::ServerGone);
                            assert!(
                                gone || matches!(e, ClientError::Disconnected),
                                "an untyped failure: {e:?}"
                            );
                            let error = crate::roles::kind(&e);
                            failures.lock().expect("failures").push(Failure {
                                error,
                                at: Instant::now(),
                                gone,
                            });
                            return;
                        }
                    }
                })
            })
            .collect();
        harness::fault_delay(Duration::from_micros(rng.gen_range(10_000..300_000)));
        let killed = Instant::now();
        server.kill();
        for c in callers {
            c.join().expect("caller thread");
        }
        stop_flag.store(true, std::sync::atomic::Ordering::Relaxed);
        let failures = failures.lock().expect("failures");
        assert_eq!(failures.len(), 4, "every caller saw the server die");
        assert!(
            failures.iter().any(|f| f.gone),
            "no pending call got ServerGone"
        );
        for f in failures.iter() {
            let after = f.at.saturating_duration_since(killed);
            slowest = slowest.max(after);
            assert!(
                after < Duration::from_secs(1),
                "{} came {after:?} after the kill",
                f.error
            );
        }
        assert!(matches!(
            client.call_raw("bytes", b"x"),
            Err(ClientError::Disconnected)
        ));
        server = Proc::start("server", &dir);
        server.expect("READY", WAIT);
        client.reconnect().expect("reconnect to the new server");
        assert_ne!(
            client.server_info().instance_id,
            before,
            "FR-HS-3: a new instance id"
        );
        assert_eq!(client.call_raw("bytes", b"again").expect("call"), b"again");
    }
    client.close();
    stop(&mut server);
    figure(format_args!(
        "fault: server SIGKILLed mid-answer or with calls pending, then restarted x{n}: every \
         pending call failed typed within {slowest:?} (bound 1 s), reconnect reached a new \
         instance every time"
    ));
}

// FR-FIFO-17, FR-FIFO-18: a client process that keeps SIGPIPE at its default action writes 1 MiB
// requests when the server is SIGKILLed after a random delay: it gets a typed error and lives.
#[test]
fn sigpipe_default_client_survives_server_death() {
    let _wd = Watchdog::new("SIGPIPE client", Duration::from_secs(300));
    let mut rng = harness::rng("SIGPIPE client");
    let t = TestDir::new();
    let dir = t.service();
    let n = reps(6);
    let mut errors = Vec::new();
    for _ in 0..n {
        let mut server = Proc::start("server", &dir);
        server.expect("READY", WAIT);
        let mut client = Spawn::default()
            .arg("sigpipe", "default")
            .arg("size", 1 << 20)
            .start("caller", &dir);
        client.expect("READY", WAIT);
        harness::fault_delay(Duration::from_micros(rng.gen_range(0..100_000)));
        server.kill();
        let error = client.expect("ERROR", WAIT);
        let status = client.wait(WAIT);
        assert!(
            status.success(),
            "the client died ({status:?}) instead of reporting: {}",
            client.stderr_text()
        );
        assert!(
            error.starts_with("ServerGone") || error.starts_with("Disconnected"),
            "{error}"
        );
        errors.push(error.split(' ').next().unwrap_or("?").to_owned());
    }
    errors.sort();
    errors.dedup();
    figure(format_args!(
        "fault: SIGPIPE at SIG_DFL in the client, server killed while it writes x{n}: \
         no death, typed errors {errors:?}"
    ));
}

// FR-FIFO-17, FR-SESS-2: a server process that keeps SIGPIPE at its default action writes 4 MiB
// answers to clients that are SIGKILLed after a random delay: it never dies, serves the next
// client, and exits 0 on SIGTERM.
#[test]
fn sigpipe_default_server_survives_vanishing_readers() {
    let _wd = Watchdog::new("SIGPIPE server", Duration::from_secs(300));
    let mut rng = harness::rng("SIGPIPE server");
    let t = TestDir::new();
    let dir = t.service();
    let mut server = Spawn::default()
        .arg("sigpipe", "default")
        .start("server", &dir);
    server.expect("READY", WAIT);
    let n = reps(8);
    for _ in 0..n {
        let mut client = Spawn::default()
            .arg("method", "big")
            .arg("size", 4 << 20)
            .start("caller", &dir);
        client.expect("READY", WAIT);
        harness::fault_delay(Duration::from_micros(rng.gen_range(0..150_000)));
        client.kill();
        served(&dir, &mut rng);
    }
    let summary = stop(&mut server);
    figure(format_args!(
        "fault: SIGPIPE at SIG_DFL in the server, readers SIGKILLed mid-answer x{n}: server \
         alive, served each next client, exit 0; {summary}"
    ));
}
