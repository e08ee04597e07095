//! Helpers shared by the integration tests: a prepared service directory, a watchdog for
//! anything that can block, and re-running this test binary as a child process in a role.

#![allow(dead_code, unreachable_pub)]

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fifo_rpc_fifo::{ServerLock, ServiceDir};

/// Environment variable that turns a test into the child half of a two-process test.
pub const ROLE_VAR: &str = "FIFO_RPC_FIFO_TEST_ROLE";
/// Environment variable that passes a service directory path to a child.
pub const DIR_VAR: &str = "FIFO_RPC_FIFO_TEST_DIR";

/// How long any single test step may block before the watchdog fails the test.
pub const WATCHDOG: Duration = Duration::from_secs(30);

/// A deadline `WATCHDOG` from now.
pub fn watchdog_deadline() -> Option<Instant> {
    Some(Instant::now() + WATCHDOG)
}

/// A fresh private service directory `svc` inside a new temporary directory, with the server
/// lock taken and the service files created.
pub fn served() -> (tempfile::TempDir, ServiceDir, ServerLock) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = ServiceDir::create_or_verify(tmp.path().join("svc")).expect("service dir");
    let lock = ServerLock::acquire(&dir).expect("server lock");
    lock.reclaim_and_create().expect("create service files");
    (tmp, dir, lock)
}

/// Runs `f` on another thread and returns its result, failing the test if it takes longer than
/// `limit`.
pub fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(value) => value,
        Err(_) => panic!("watchdog: step did not finish within {limit:?}"),
    }
}

/// The role this process plays, if it was started as a child by [`run_child`].
pub fn role() -> Option<String> {
    std::env::var(ROLE_VAR).ok()
}

/// A command that re-runs exactly the test `test_name` of this binary in role `role`.
pub fn child_command(test_name: &str, role: &str) -> Command {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE_VAR, role)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs the child to completion under the watchdog; kills it (by its pid) if it hangs.
pub fn run_child(mut cmd: Command) -> Output {
    let child = cmd.spawn().expect("spawn child");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(WATCHDOG) {
        Ok(output) => output.expect("wait for child"),
        Err(_) => {
            let pid = libc::pid_t::try_from(pid).expect("pid fits pid_t");
            // SAFETY: kill(2) takes no pointers; `pid` is our own child, which has not been
            // reaped (its waiting thread is still blocked).
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("watchdog: child {pid} did not finish within {WATCHDOG:?}");
        }
    }
}

/// Combined stdout and stderr of a child, for assertions and failure messages.
pub fn output_text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Permission bits of a path, not following a final symbolic link.
pub fn mode_of(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).expect("lstat").mode() & 0o7777
}

/// Inode number of a path, not following a final symbolic link.
pub fn inode_of(path: &Path) -> u64 {
    std::fs::symlink_metadata(path).expect("lstat").ino()
}

/// Creates a FIFO at `path` with exactly `mode` (mkfifo, then chmod: test setup only).
pub fn plant_fifo(path: &Path, mode: u32) {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    set_mode(path, mode);
}

/// chmod by path (test setup only).
pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The uid of `nobody`, used to plant files owned by another user.
pub const NOBODY: u32 = 65534;

/// chown to `nobody` (needs root, which the test machines are).
pub fn give_to_nobody(path: &Path) {
    std::os::unix::fs::lchown(path, Some(NOBODY), Some(NOBODY)).expect("chown to nobody");
}

/// Whether this process runs as root (needed to chown to another user).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}
