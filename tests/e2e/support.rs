//! Shared helpers for the end-to-end tests: temporary service directories, the example binaries
//! as real processes, readiness lines instead of sleeps, and a watchdog for every wait.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// Upper bound for any single wait in these tests. Generous: CI machines are slow.
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// Path of an example binary built by `cargo test` (examples are built next to `deps/`).
pub(crate) fn example_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let target_profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps");
    let bin = target_profile_dir.join("examples").join(name);
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test`, which builds the examples",
        bin.display()
    );
    bin
}

/// A fresh private parent directory; the service directory is a child that the server creates.
pub(crate) struct TestDir {
    pub(crate) tmp: tempfile::TempDir,
}

impl TestDir {
    pub(crate) fn new() -> Self {
        TestDir {
            tmp: tempfile::Builder::new()
                .prefix("fifo-rpc-e2e")
                .tempdir()
                .expect("tempdir"),
        }
    }

    /// The service directory (not created yet).
    pub(crate) fn service(&self) -> PathBuf {
        self.tmp.path().join("svc")
    }
}

/// The names left in a directory, sorted (empty when the directory does not exist).
pub(crate) fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| {
                e.expect("dir entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

/// Asserts that the service directory holds none of the files a server creates.
pub(crate) fn assert_clean(dir: &Path) {
    let left = entries(dir);
    assert!(
        left.is_empty(),
        "files left behind in {}: {left:?}",
        dir.display()
    );
}

/// Asserts that `path` is a FIFO with exactly the given permission bits.
pub(crate) fn assert_fifo_mode(path: &Path, mode: u32) {
    let meta = std::fs::symlink_metadata(path).expect("stat FIFO");
    assert!(
        meta.file_type().is_fifo(),
        "{} is not a FIFO",
        path.display()
    );
    assert_eq!(
        meta.permissions().mode() & 0o7777,
        mode,
        "mode of {}",
        path.display()
    );
}

/// A running `echo_server` process whose stdout is read line by line on a thread.
pub(crate) struct ServerProc {
    pub(crate) child: Child,
    lines: mpsc::Receiver<String>,
    exited: bool,
}

impl ServerProc {
    /// Starts `echo_server --dir DIR` and does not wait for it.
    pub(crate) fn spawn(dir: &Path) -> Self {
        let mut child = Command::new(example_bin("echo_server"))
            .arg("--dir")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn echo_server");
        let lines = line_channel(child.stdout.take().expect("stdout"));
        ServerProc {
            child,
            lines,
            exited: false,
        }
    }

    /// Starts the server and waits for its readiness line.
    pub(crate) fn start(dir: &Path) -> Self {
        let mut s = Self::spawn(dir);
        s.wait_listening(dir);
        s
    }

    /// Waits for exactly `listening on DIR`.
    pub(crate) fn wait_listening(&mut self, dir: &Path) {
        let line = self
            .lines
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("server printed no readiness line within {WAIT:?}"));
        assert_eq!(line, format!("listening on {}", dir.display()));
    }

    /// Waits for the process to exit, with the watchdog.
    pub(crate) fn wait_exit(&mut self) -> ExitStatus {
        let status = wait_child(&mut self.child, WAIT);
        self.exited = true;
        status
    }

    /// Sends a signal to the server process.
    pub(crate) fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), sig)
            .expect("kill");
    }

    /// Reads the rest of stderr (call after the process exited, or it blocks until it does).
    pub(crate) fn stderr_after_exit(&mut self) -> String {
        let mut s = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut s);
        }
        s
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        // Best effort: a server that is still running (a failed test) must not outlive the test.
        if !self.exited {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn line_channel(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            match line {
                Ok(l) => {
                    if tx.send(l).is_err() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    });
    rx
}

/// Waits for a child with a deadline; kills it and fails the test when the deadline passes.
///
/// A thread blocks in `waitpid(2)` and reports through a channel, so the test waits on the exit
/// itself: no polling loop, no sleep.
pub(crate) fn wait_child(child: &mut Child, limit: Duration) -> ExitStatus {
    let pid = child.id() as i32;
    let (tx, rx) = mpsc::channel();
    let waiter = thread::spawn(move || {
        let mut status = 0;
        // SAFETY: waitpid on our own child's pid with a valid pointer to a local int.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        let _ = tx.send((r, status));
    });
    match rx.recv_timeout(limit) {
        Ok((r, status)) => {
            let _ = waiter.join();
            assert_eq!(r, pid, "waitpid failed");
            use std::os::unix::process::ExitStatusExt;
            ExitStatus::from_raw(status)
        }
        Err(_) => {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            panic!("process {pid} did not exit within {limit:?}");
        }
    }
}

/// Runs `echo_client --dir DIR [args]` to completion under the watchdog.
pub(crate) fn run_client(dir: &Path, args: &[&str]) -> Output {
    let child = Command::new(example_bin("echo_client"))
        .arg("--dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn echo_client");
    wait_output(child, WAIT)
}

/// Collects a child's output with a deadline.
pub(crate) fn wait_output(child: Child, limit: Duration) -> Output {
    let id = child.id();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("wait_with_output"),
        Err(_) => {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(id as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            panic!("process {id} did not finish within {limit:?}");
        }
    }
}

/// stdout of a finished process as text.
pub(crate) fn stdout_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// stderr of a finished process as text.
pub(crate) fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
