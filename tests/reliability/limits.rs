//! Resource limits: a refused pipe size, and too few file descriptors.

use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::harness::{figure, Proc, Spawn, Watchdog, WAIT};
use crate::support::TestDir;

/// A command prefix that drops `CAP_SYS_RESOURCE` (so `F_SETPIPE_SZ` above
/// `/proc/sys/fs/pipe-max-size` is refused even for root), if `setpriv` is there.
fn without_sys_resource() -> Vec<String> {
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    match setpriv {
        Some(p) => [
            p,
            "--inh-caps=-sys_resource",
            "--bounding-set=-sys_resource",
        ]
        .map(String::from)
        .to_vec(),
        None => Vec::new(),
    }
}

// Linux F_SETPIPE_SZ: a server and a client that ask for 64 MiB pipes in a process without
// CAP_SYS_RESOURCE (above pipe-max-size) get the documented fallback: the refusal is logged
// (ServerLog::PipeSizeRefused) and ignored, the default size stays, and calls up to 1 MiB work.
#[test]
fn refused_pipe_size_falls_back_to_the_default() {
    let _wd = Watchdog::new("refused pipe size", Duration::from_secs(120));
    let max: u64 = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1 << 20);
    let t = TestDir::new();
    let bytes = (64u64 << 20).max(max * 2);
    let mut child = Spawn::default()
        .arg("bytes", bytes)
        .wrap(&without_sys_resource())
        .start("pipe-size", &t.service());
    let line = child.expect("PIPE-SIZE", WAIT);
    child.expect_success(WAIT);
    assert_eq!(crate::harness::field(&line, "calls"), 6);
    let refused = crate::harness::field(&line, "refused");
    assert!(
        refused >= 1,
        "the server reports the refusal (once per FIFO it sizes): {line}"
    );
    assert!(child.stderr_text().contains("pipe size unchanged"));
    figure(format_args!(
        "limits: F_SETPIPE_SZ of {bytes} octets (pipe-max-size {max}) without CAP_SYS_RESOURCE: \
         refused, logged by the server ({refused} records: pipe.in and pipe.out), ignored by the client; calls 0..=1 MiB intact"
    ));
}

// Too many open files: with RLIMIT_NOFILE at the descriptors already open plus 0 to 11, binding a
// server and connecting a client fail with an error that names the cause (EMFILE, os error 24)
// or succeed; the process never crashes.
#[test]
fn too_many_open_files_gives_a_clear_error() {
    let _wd = Watchdog::new("too many open files", Duration::from_secs(300));
    let t = TestDir::new();
    let live = t.tmp.path().join("live");
    let mut server = Proc::start("server", &live);
    server.expect("READY", WAIT);
    let mut outcomes = Vec::new();
    for extra in 0..12 {
        let dir = t.tmp.path().join(format!("svc{extra}"));
        let mut child = Spawn::default()
            .arg("extra", extra)
            .arg("client_dir", live.display())
            .start("nofile", &dir);
        let bind = child.expect("BIND", WAIT);
        let connect = child.expect("CONNECT", WAIT);
        child.expect_success(WAIT);
        if bind.starts_with("err") {
            // A refused start leaves nothing behind (FR-FIFO-19).
            crate::support::assert_clean(&dir);
        }
        for (what, line) in [("bind", &bind), ("connect", &connect)] {
            if line.starts_with("err") {
                let lower = line.to_lowercase();
                assert!(
                    lower.contains("too many open files") || lower.contains("os error 24"),
                    "extra {extra}: {what} failed without naming the cause: {line}"
                );
            } else {
                assert!(line.starts_with("ok"), "{line}");
            }
        }
        outcomes.push(format!(
            "+{extra}: bind {}, connect {}",
            bind.split(' ').next().unwrap_or("?"),
            connect.split(' ').next().unwrap_or("?")
        ));
        if extra == 0 {
            assert!(bind.starts_with("err") && connect.starts_with("err"));
            eprintln!("with no descriptor to spare: bind: {bind}; connect: {connect}");
        }
    }
    assert!(
        outcomes.last().is_some_and(|o| !o.contains("err")),
        "with 11 descriptors to spare both work: {outcomes:?}"
    );
    server.signal(Signal::SIGTERM).expect("SIGTERM");
    server.expect("SUMMARY", WAIT);
    server.expect_success(WAIT);
    figure(format_args!(
        "limits: RLIMIT_NOFILE at open+0..=11: {}",
        outcomes.join("; ")
    ));
}
