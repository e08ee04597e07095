//! FR-FIFO-16: an idle server, with a client connected but silent, sleeps in `poll`.

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
        let window = Duration::from_secs(1);
        let before = thread_cpu(srv.tid);
        let start = Instant::now();
        std::thread::sleep(window);
        let used = thread_cpu(srv.tid) - before;
        let elapsed = start.elapsed();
        assert!(
            used.as_secs_f64() < 0.05 * elapsed.as_secs_f64(),
            "the I/O thread used {used:?} of CPU in {elapsed:?} while idle (workers {workers})"
        );
        // Still serving after the idle period.
        let m = c.call(2, "echo", &string_body("again"));
        assert!(
            matches!(m, fifo_rpc_protocol::Message::Response { request: 2, .. }),
            "{m:?}"
        );
        c.close();
        srv.stop();
    }
}
