//! The echo demo's command-line contract, exercised with real processes.

use crate::support::*;
use nix::sys::signal::Signal;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

fn expected_default_run() -> String {
    let mut s = String::new();
    for i in 1..=10 {
        s.push_str(&format!("sent: msg {i}\nreceived: msg {i}\n"));
    }
    s.push_str("server exited\n");
    s
}

/// FR-EXIT-1, FR-FIFO-19: server first, the classic demo run, `exit` leaves nothing behind.
#[test]
fn server_first_then_default_client_run_exits_clean() {
    let t = TestDir::new();
    let dir = t.service();
    let mut server = ServerProc::start(&dir);
    // FR-FIFO-1, FR-FIFO-2: what the server created, and with which modes.
    let dmode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o7777;
    assert_eq!(dmode, 0o700);
    assert_fifo_mode(&dir.join("pipe.in"), 0o600);
    assert_fifo_mode(&dir.join("pipe.out"), 0o600);
    for f in ["lock", "client.lock"] {
        let m = std::fs::metadata(dir.join(f)).unwrap();
        assert!(m.is_file());
        assert_eq!(m.permissions().mode() & 0o7777, 0o600, "{f}");
    }

    let out = run_client(&dir, &[]);
    assert!(out.status.success(), "client failed: {}", stderr_of(&out));
    assert_eq!(stdout_of(&out), expected_default_run());
    assert!(server.wait_exit().success());
    assert_clean(&dir);
}

/// FR-FIFO-7, FR-FIFO-8, FR-FIFO-10: the client starts first and waits for the server.
#[test]
fn client_first_waits_for_server() {
    let t = TestDir::new();
    let dir = t.service();
    let client = Command::new(example_bin("echo_client"))
        .arg("--dir")
        .arg(&dir)
        .args(["--timeout-ms", "15000", "hello", "exit"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The client is already waiting: its first attempts found no directory at all.
    let mut server = ServerProc::start(&dir);
    let out = wait_output(client, WAIT);
    assert!(out.status.success(), "client failed: {}", stderr_of(&out));
    assert_eq!(
        stdout_of(&out),
        "sent: hello\nreceived: hello\nserver exited\n"
    );
    assert!(server.wait_exit().success());
    assert_clean(&dir);
}

/// No server within the timeout: a one-line error and a non-zero exit, promptly.
#[test]
fn client_without_server_fails_after_timeout() {
    let t = TestDir::new();
    let dir = t.service();
    let started = std::time::Instant::now();
    let out = run_client(&dir, &["--timeout-ms", "300", "hi"]);
    assert!(!out.status.success());
    let err = stderr_of(&out);
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one-line error, got {err:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(stdout_of(&out).is_empty());
}

/// FR-FIFO-6: stale FIFOs from a crashed server (SIGKILL) are reclaimed by the next server.
#[test]
fn stale_files_after_crash_are_reclaimed() {
    let t = TestDir::new();
    let dir = t.service();
    let mut first = ServerProc::start(&dir);
    first.signal(Signal::SIGKILL);
    first.wait_exit();
    assert!(
        dir.join("pipe.in").exists(),
        "a killed server leaves its FIFOs"
    );
    let mut second = ServerProc::start(&dir);
    let out = run_client(&dir, &["after crash", "exit"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        stdout_of(&out),
        "sent: after crash\nreceived: after crash\nserver exited\n"
    );
    assert!(second.wait_exit().success());
    assert_clean(&dir);
}

/// FR-FIFO-5: a second server on the same directory is refused at once while the first lives.
#[test]
fn second_server_is_refused() {
    let t = TestDir::new();
    let dir = t.service();
    let mut first = ServerProc::start(&dir);
    let mut second = ServerProc::spawn(&dir);
    let status = second.wait_exit();
    assert!(!status.success());
    let err = second.stderr_after_exit();
    assert!(
        err.contains(&dir.display().to_string()),
        "error should name the directory: {err}"
    );
    // The first server is unharmed.
    let out = run_client(&dir, &["still here", "exit"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(first.wait_exit().success());
    assert_clean(&dir);
}

/// SIGTERM and SIGINT stop the server gracefully: exit 0, nothing left on disk.
#[test]
fn sigterm_and_sigint_stop_server_cleanly() {
    for sig in [Signal::SIGTERM, Signal::SIGINT] {
        let t = TestDir::new();
        let dir = t.service();
        let mut server = ServerProc::start(&dir);
        let out = run_client(&dir, &["before signal"]);
        assert!(out.status.success(), "{}", stderr_of(&out));
        server.signal(sig);
        assert!(server.wait_exit().success(), "{sig:?}");
        assert_clean(&dir);
    }
}

/// FR-DEC-4, FR-DEC-6, FR-ERR-1: `echo hello > pipe.in` while serving is a framing error, not a
/// call, and the next client is served.
#[test]
fn stray_text_on_pipe_in_does_not_stop_serving() {
    let t = TestDir::new();
    let dir = t.service();
    let mut server = ServerProc::start(&dir);
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("echo hello > '{}'", dir.join("pipe.in").display()))
        .status()
        .unwrap();
    assert!(status.success());
    let out = run_client(&dir, &["after garbage", "exit"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        stdout_of(&out),
        "sent: after garbage\nreceived: after garbage\nserver exited\n"
    );
    assert!(server.wait_exit().success());
    let err = server.stderr_after_exit();
    assert!(
        err.to_lowercase().contains("bad_magic") || err.to_lowercase().contains("magic"),
        "the server reports the protocol error on stderr: {err:?}"
    );
    assert_clean(&dir);
}

/// FR-FIFO-3, FR-FIFO-6: files planted at `pipe.in` are refused, and the error names the path.
#[test]
fn planted_files_at_pipe_in_are_refused() {
    type Plant = fn(&std::path::Path);
    let plants: [(&str, Plant); 3] = [
        ("symlink", |p| {
            std::os::unix::fs::symlink("/dev/null", p).unwrap()
        }),
        ("regular file", |p| {
            std::fs::write(p, b"not a fifo").unwrap()
        }),
        ("fifo 0666", |p| {
            nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o666)).unwrap();
        }),
    ];
    for (what, plant) in plants {
        let t = TestDir::new();
        let dir = t.service();
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let target = dir.join("pipe.in");
        plant(&target);
        let mut server = ServerProc::spawn(&dir);
        let status = server.wait_exit();
        assert!(!status.success(), "{what}: server must refuse");
        let err = server.stderr_after_exit();
        assert!(
            err.contains(&target.display().to_string()),
            "{what}: error must name {}: {err}",
            target.display()
        );
        // The planted file is left alone for the user to inspect.
        assert!(std::fs::symlink_metadata(&target).is_ok(), "{what}");
    }
}

/// FR-FIFO-1: a service directory writable by others is refused.
#[test]
fn world_writable_directory_is_refused() {
    let t = TestDir::new();
    let dir = t.service();
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut server = ServerProc::spawn(&dir);
    assert!(!server.wait_exit().success());
    let err = server.stderr_after_exit();
    assert!(err.contains(&dir.display().to_string()), "{err}");
}

/// FR-FRAG-1: `--message-file` sends a message larger than an argument may be, reports it by
/// size, and is sent before the MSG arguments (so `exit` comes last).
#[test]
fn client_message_file_sends_a_large_message_before_the_msgs() {
    let t = TestDir::new();
    let dir = t.service();
    let file = t.tmp.path().join("big.txt");
    let text: String = (0..1_000_000u32)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect::<String>()
        + "\u{e9}\u{2713}";
    std::fs::write(&file, &text).unwrap();
    let mut server = ServerProc::start(&dir);
    let out = run_client(
        &dir,
        &["--message-file", file.to_str().unwrap(), "after", "exit"],
    );
    assert!(out.status.success(), "client failed: {}", stderr_of(&out));
    let n = text.len();
    assert_eq!(
        stdout_of(&out),
        format!(
            "sent: {n} bytes from {path}\nreceived: {n} bytes, identical\n\
             sent: after\nreceived: after\nserver exited\n",
            path = file.display()
        )
    );
    assert!(server.wait_exit().success());
    assert_clean(&dir);
}

/// FR-CALL-1, FR-CALL-3: `--in-flight N --repeat K` pipelines the calls and prints them in
/// MSG order, each reply matched to its own request.
#[test]
fn client_in_flight_and_repeat_print_in_message_order() {
    let t = TestDir::new();
    let dir = t.service();
    let mut server = ServerProc::start(&dir);
    let msgs: Vec<String> = (1..=150).map(|i| format!("m{i}")).collect();
    let mut args = vec!["--in-flight", "100", "--repeat", "2"];
    args.extend(msgs.iter().map(String::as_str));
    args.push("exit");
    let out = run_client(&dir, &args);
    assert!(out.status.success(), "client failed: {}", stderr_of(&out));
    let mut want = String::new();
    for m in &msgs {
        for _ in 0..2 {
            want.push_str(&format!("sent: {m}\nreceived: {m}\n"));
        }
    }
    want.push_str("server exited\n");
    assert_eq!(stdout_of(&out), want);
    assert!(server.wait_exit().success());
    assert_clean(&dir);
}

/// §10.2 `fail`, FR-CALL-6: `--method fail` gets ERROR 1000; the client prints the `sent:` line,
/// one stderr line with the code and the message, and exits 1 without sending the rest.
#[test]
fn client_method_fail_reports_the_error_answer() {
    let t = TestDir::new();
    let dir = t.service();
    let mut server = ServerProc::start(&dir);
    for in_flight in ["1", "3"] {
        let out = run_client(
            &dir,
            &[
                "--in-flight",
                in_flight,
                "--method",
                "fail",
                "oops",
                "later",
            ],
        );
        assert_eq!(out.status.code(), Some(1), "--in-flight {in_flight}");
        assert_eq!(stdout_of(&out), "sent: oops\n", "--in-flight {in_flight}");
        assert_eq!(
            stderr_of(&out),
            "echo_client: the server answered with error 1000: oops\n"
        );
    }
    let out = run_client(&dir, &["exit"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(server.wait_exit().success());
    assert_clean(&dir);
}

/// Bad usage of the new flags exits 2 before connecting.
#[test]
fn client_in_flight_and_repeat_zero_are_bad_usage() {
    let t = TestDir::new();
    let dir = t.service();
    for flag in ["--in-flight", "--repeat"] {
        let out = run_client(&dir, &["--timeout-ms", "100", flag, "0", "hi"]);
        assert_eq!(out.status.code(), Some(2), "{flag} 0: {}", stderr_of(&out));
        assert!(stdout_of(&out).is_empty());
    }
}
