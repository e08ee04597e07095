//! SIGUSR1 storms at the client and server processes, with handlers installed with and without
//! `SA_RESTART`, during connect and bind (the opens), reads and writes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use rand::SeedableRng;

use crate::harness::{self, field, figure, reps, Spawn, Storm, Watchdog, WAIT};
use crate::support::TestDir;

/// One storm run: the client starts first (it waits for the server under the storm), then the
/// server binds under the storm; 4 threads make 120 calls of 0 ..= 256 KiB; every answer is
/// checked. Returns (signals sent, client's count, server's count, seconds).
fn storm_run(restart: bool, seed: u64) -> (u64, u64, u64, f64) {
    let mode = if restart { "restart" } else { "norestart" };
    let t = TestDir::new();
    let dir = t.service();
    let targets: Arc<Mutex<Vec<i32>>> = Arc::default();
    let aim = Arc::clone(&targets);
    let storm = Storm::start(
        rand::rngs::StdRng::seed_from_u64(seed),
        Duration::from_micros(300),
        move || {
            for &pid in aim.lock().expect("targets").iter() {
                let _ = kill(Pid::from_raw(pid), Signal::SIGUSR1);
            }
        },
    );
    let started = Instant::now();
    let mut client = Spawn::default()
        .arg("usr1", mode)
        .arg("threads", 4)
        .arg("calls", 120)
        .arg("max", 256 << 10)
        .start("storm-client", &dir);
    client.expect("ARMED", WAIT);
    targets.lock().expect("targets").push(client.pid());
    let mut server = Spawn::default().arg("usr1", mode).start("server", &dir);
    server.expect("ARMED", WAIT);
    targets.lock().expect("targets").push(server.pid());
    server.expect("READY", WAIT);
    let done = client.expect("DONE", Duration::from_secs(120));
    client.expect_success(WAIT);
    server.signal(Signal::SIGTERM).expect("SIGTERM");
    let summary = server.expect("SUMMARY", WAIT);
    server.expect_success(WAIT);
    let sent = storm.stop();
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(field(&done, "calls"), 120, "{done}");
    assert_eq!(field(&summary, "bytes"), 120, "{summary}");
    (sent, field(&done, "usr1"), field(&summary, "usr1"), seconds)
}

// FR-FIFO-12: EINTR is retried everywhere (open retries, poll, read, write); with handlers
// installed without SA_RESTART and with it, no call fails, no frame is torn, and both processes
// exit cleanly. The storm starts before either process opens anything.
#[test]
fn sigusr1_storms_with_and_without_sa_restart() {
    let _wd = Watchdog::new("signal storms", Duration::from_secs(400));
    let mut rng = harness::rng("signal storms");
    let n = reps(2);
    for restart in [false, true] {
        let (mut sent, mut at_client, mut at_server, mut seconds) = (0, 0, 0, 0.0);
        for _ in 0..n {
            let (s, c, v, secs) = storm_run(restart, rand::Rng::gen(&mut rng));
            assert!(
                c > 0 && v > 0,
                "the storm reached both processes ({c}, {v})"
            );
            sent += s;
            at_client += c;
            at_server += v;
            seconds += secs;
        }
        figure(format_args!(
            "signals: SIGUSR1 storm, handlers {} SA_RESTART, x{n} runs of 120 calls (0..=256 KiB, \
             4 threads) in {seconds:.1} s: {sent} kill() rounds, {at_client} signals handled by \
             the client, {at_server} by the server; 0 failures, 0 torn frames",
            if restart { "with" } else { "without" }
        ));
    }
}
