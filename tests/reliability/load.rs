//! Load: many threads on one client, and many client processes one after another.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::harness::{self, figure, open_fds, peak_rss_kib, reps, Bodies, Proc, Watchdog, WAIT};
use crate::roles::patient;
use crate::support::{example_bin, wait_output, ServerProc, TestDir};

/// Largest request body of the load test.
const MAX_BODY: usize = 256 << 10;

/// A generous bound on the server's peak RSS under load.
const RSS_BOUND_KIB: u64 = 512 << 10;

/// Calls of the load test: 20 000 in an optimised build (`cargo test --release`), 600 in an
/// unoptimised one (about 50 times slower: CRC and copies), times the soak factor; or
/// `FIFO_RPC_LOAD_CALLS`.
fn load_calls() -> u64 {
    let default = if cfg!(debug_assertions) { 600 } else { 20_000 };
    std::env::var("FIFO_RPC_LOAD_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default * harness::soak() as u64)
}

// FR-CALL-3, FR-FRAME-9, FR-FRAME-10, FR-FRAG-1, FR-FRAG-2, FR-FIFO-13: 16 threads share one
// client for 20 000 raw echo calls of 0 ..= 256 KiB to a server in another process. Every answer
// is checked octet for octet against its own request (nothing crossed), every call gets one
// (nothing lost), the server ran exactly as many calls as were made (nothing duplicated), and
// the server's peak RSS stays bounded.
#[test]
fn load_16_threads_20k_calls_up_to_256_kib() {
    let _wd = Watchdog::new("load", Duration::from_secs(600));
    let calls = load_calls();
    let threads = 16u64;
    let t = TestDir::new();
    let dir = t.service();
    let mut server = Proc::start("server", &dir);
    server.expect("READY", WAIT);
    let client = Arc::new(patient().connect(&dir).expect("connect"));
    let mut rng = harness::rng("load");
    let bodies = Arc::new(Bodies::new(&mut rng, MAX_BODY));
    let base: u64 = rng.gen();
    let next = Arc::new(AtomicU64::new(0));
    let octets = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (client, bodies) = (Arc::clone(&client), Arc::clone(&bodies));
            let (next, octets) = (Arc::clone(&next), Arc::clone(&octets));
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= calls {
                    break;
                }
                let mut r = StdRng::seed_from_u64(base ^ i);
                let len = r.gen_range(0..=MAX_BODY);
                let body = bodies.body(i, len, r.gen());
                let reply = client
                    .call_raw("bytes", &body)
                    .unwrap_or_else(|e| panic!("call {i} ({len} octets) failed: {e}"));
                assert!(
                    reply == body,
                    "call {i}: the answer ({} octets) is not its request ({len} octets)",
                    reply.len()
                );
                octets.fetch_add(len as u64, Ordering::Relaxed);
            })
        })
        .collect();
    for w in workers {
        w.join().expect("a caller thread failed");
    }
    let elapsed = started.elapsed();
    let rss = peak_rss_kib(server.pid());
    let stats = String::from_utf8(client.call_raw("stats", &[]).expect("stats")).expect("text");
    assert_eq!(
        harness::field(&stats, "bytes"),
        calls,
        "the server ran another number of calls than were made"
    );
    let mib = octets.load(Ordering::Relaxed) as f64 / f64::from(1 << 20);
    figure(format_args!(
        "load: {calls} calls, {threads} threads, bodies 0..=256 KiB ({mib:.0} MiB each way) in \
         {:.1} s: {:.0} calls/s, {:.0} MiB/s each way; server peak RSS {} MiB",
        elapsed.as_secs_f64(),
        calls as f64 / elapsed.as_secs_f64(),
        mib / elapsed.as_secs_f64(),
        rss >> 10
    ));
    assert!(
        rss < RSS_BOUND_KIB,
        "server peak RSS {rss} KiB is over {RSS_BOUND_KIB} KiB"
    );
    drop(client);
    server
        .signal(nix::sys::signal::Signal::SIGTERM)
        .expect("SIGTERM");
    let summary = server.expect("SUMMARY", WAIT);
    assert_eq!(harness::field(&summary, "bytes"), calls);
    server.expect_success(WAIT);
}

/// `echo_client --dir DIR` with `messages`, not waited for.
fn spawn_echo_client(dir: &std::path::Path, messages: &[String]) -> std::process::Child {
    std::process::Command::new(example_bin("echo_client"))
        .arg("--dir")
        .arg(dir)
        .args(["--timeout-ms", "20000"])
        .args(messages)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn echo_client")
}

// FR-FIFO-14, FR-FIFO-15, FR-FRAG-6, FR-SESS-1: 200 echo_client processes one after another
// against one echo_server; every second one is SIGKILLed at a random point (connecting, in the
// middle of a call, between calls). Every client that completes is served correctly, the server
// never wedges (the last client succeeds), and its open descriptors do not grow.
#[test]
fn two_hundred_client_processes_half_killed() {
    let _wd = Watchdog::new("200 clients", Duration::from_secs(600));
    let mut rng = harness::rng("200 clients");
    let t = TestDir::new();
    let dir = t.service();
    let mut server = ServerProc::start(&dir);
    let pid = server.child.id() as i32;
    let total = reps(200);
    let (mut completed, mut killed, mut killed_after_success) = (0, 0, 0);
    let mut fds_after_clean = Vec::new();
    let mut clean_time = Duration::from_millis(5);
    let started = Instant::now();
    for i in 0..total {
        let messages: Vec<String> = (0..5).map(|k| format!("client {i} message {k}")).collect();
        let mut child = spawn_echo_client(&dir, &messages);
        let kill = i % 2 == 1;
        if kill {
            // The random point: up to 1.5 times a clean client's whole run.
            let max = clean_time.as_micros() as u64 * 3 / 2;
            harness::fault_delay(Duration::from_micros(rng.gen_range(0..=max)));
            let _ = child.kill();
        }
        let begun = Instant::now();
        let out = wait_output(child, WAIT);
        let expected: String = messages
            .iter()
            .map(|m| format!("sent: {m}\nreceived: {m}\n"))
            .collect();
        if out.status.success() {
            assert_eq!(String::from_utf8_lossy(&out.stdout), expected, "client {i}");
            completed += 1;
            if kill {
                killed_after_success += 1;
            } else {
                clean_time = (clean_time + begun.elapsed()) / 2;
                fds_after_clean.push(open_fds(pid));
            }
        } else {
            assert!(
                kill,
                "client {i} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            killed += 1;
        }
    }
    // The server still serves: a last client, then exit.
    let out = crate::support::run_client(&dir, &["the last one", "exit"]);
    assert!(out.status.success(), "{}", crate::support::stderr_of(&out));
    assert!(server.wait_exit().success());
    let first = fds_after_clean[..5.min(fds_after_clean.len())].to_vec();
    let (lo, hi) = (
        fds_after_clean.iter().min().copied().unwrap_or(0),
        fds_after_clean.iter().max().copied().unwrap_or(0),
    );
    figure(format_args!(
        "clients: {total} echo_client processes in {:.1} s, {killed} SIGKILLed mid-run, \
         {completed} completed (of which {killed_after_success} finished before their kill); \
         server fds after clean clients: first {first:?}, last {:?}, range {lo}..={hi}",
        started.elapsed().as_secs_f64(),
        fds_after_clean.last()
    ));
    assert!(
        hi <= first[0] + 2,
        "the server's descriptors grew from {} to {hi}",
        first[0]
    );
    assert!(
        killed > 0,
        "no client was killed mid-run: the kill timing is off"
    );
}
