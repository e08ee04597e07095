//! FR-FIFO-16, FR-FIFO-15: an idle server, with a client connected but silent or after a client
//! left, sleeps in `poll`.

use std::time::{Duration, Instant};

use crate::support::*;

/// CPU time (user + system) of one thread of this process, from /proc.
fn thread_cpu(tid: i32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).expect("thread stat");
    // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')').expect("name") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .unwrap()
        .unwrap_or(100) as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

#[test]
fn fr_fifo_16_idle_server_uses_no_cpu() {
    for workers in [0, 2] {
        let t = TestDir::new();
        let dir = t.service();
        let srv = Running::start(&dir, |b| b.workers(workers));
        let mut c = RawClient::connect(&dir, 0xcafe);
        c.handshake();
        let _ = c.call(1, "echo", &string_body("wake up"));
        // The measured idle window: the client is connected and silent.
        assert_idle(srv.tid, workers, "a client connected and silent");
        // Still serving after the idle period.
        let m = c.call(2, "echo", &string_body("again"));
        assert!(
            matches!(m, fifo_rpc_protocol::Message::Response { request: 2, .. }),
            "{m:?}"
        );
        c.close();
        // FR-FIFO-15: after the client left (POLLHUP), the server does not spin on the hang-up.
        srv.wait_log(|r| matches!(r, fifo_rpc_server::ServerLog::SessionEnded { .. }));
        assert_idle(srv.tid, workers, "after the client left");
        srv.stop();
    }
}

/// Measures the serving thread's CPU time over a half-second window of idleness.
fn assert_idle(tid: i32, workers: usize, what: &str) {
    let before = thread_cpu(tid);
    let start = Instant::now();
    std::thread::sleep(Duration::from_millis(500));
    let used = thread_cpu(tid) - before;
    let elapsed = start.elapsed();
    assert!(
        used.as_secs_f64() < 0.05 * elapsed.as_secs_f64(),
        "the I/O thread used {used:?} of CPU in {elapsed:?} while idle, {what} (workers {workers})"
    );
}
