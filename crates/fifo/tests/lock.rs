//! The server lock (FR-FIFO-5, §9.8) across processes, and the client lock (FR-FIFO-10).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;

use common::{child_command, role, served, within, DIR_VAR, WATCHDOG};
use fifo_rpc_fifo::{ClientLock, FifoError, ServerLock, ServiceDir};

const HOLD_ROLE: &str = "hold-server-lock";
const READY: &str = "server lock held";

/// Child half: take the server lock of the directory in `DIR_VAR`, say so, and hold it until
/// stdin closes.
fn hold_server_lock() {
    let d = std::env::var(DIR_VAR).unwrap();
    let dir = ServiceDir::create_or_verify(Path::new(&d)).unwrap();
    let lock = ServerLock::acquire(&dir).unwrap();
    println!("{READY}");
    std::io::stdout().flush().unwrap();
    let mut rest = Vec::new();
    std::io::stdin().read_to_end(&mut rest).unwrap();
    drop(lock);
}

/// Starts a child that holds the server lock of `d` and waits for its readiness line. A thread
/// keeps draining the child's stdout so that its later output never meets a closed pipe.
fn spawn_holder(test_name: &str, d: &Path) -> Child {
    let mut cmd = child_command(test_name, HOLD_ROLE);
    cmd.env(DIR_VAR, d).stdin(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    // The test harness prints "test NAME ... " before the line, without a newline.
    let (ready_tx, ready_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            match line {
                Ok(l) if l.ends_with(READY) => {
                    let _ = ready_tx.send(());
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    if ready_rx.recv_timeout(WATCHDOG).is_err() {
        let _ = child.kill();
        panic!("the child never reported holding the lock");
    }
    child
}

/// The two halves of a test against a lock holder: in the child role, holds the lock and
/// returns `None`; in the test, returns a fresh service directory `svc` (its temporary parent
/// first, to keep it alive) and a child that holds its server lock.
fn against_holder(
    test_name: &str,
) -> Option<(tempfile::TempDir, std::path::PathBuf, ServiceDir, Child)> {
    if role().as_deref() == Some(HOLD_ROLE) {
        hold_server_lock();
        return None;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("svc");
    let dir = ServiceDir::create_or_verify(&d).unwrap();
    let child = spawn_holder(test_name, &d);
    Some((tmp, d, dir, child))
}

/// Waits for a child under the watchdog.
fn reap(mut child: Child) -> std::process::ExitStatus {
    within(WATCHDOG, move || child.wait().unwrap())
}

// FR-FIFO-5: while another process holds the lock, a second server is refused at once with an
// error that says so; when the holder exits, the lock is free again.
#[test]
fn fr_fifo_5_second_server_is_refused_while_first_holds_lock() {
    let Some((_tmp, d, dir, mut child)) =
        against_holder("fr_fifo_5_second_server_is_refused_while_first_holds_lock")
    else {
        return;
    };

    let started = std::time::Instant::now();
    let err = ServerLock::acquire(&dir).unwrap_err();
    assert!(
        started.elapsed() < WATCHDOG,
        "refused at once, not after waiting"
    );
    match &err {
        FifoError::AlreadyServing { dir: p } => assert_eq!(*p, d),
        other => panic!("expected AlreadyServing, got {other:?}"),
    }
    assert!(err.to_string().contains("another server"), "{err}");
    assert!(err.to_string().contains(&d.display().to_string()), "{err}");

    drop(child.stdin.take()); // tell the child to release and exit
    assert!(reap(child).success());
    ServerLock::acquire(&dir).unwrap();
}

// §9.8: a server that dies (SIGKILL, no cleanup) leaves its lock free; the next server takes it
// and reclaims the files.
#[test]
fn killed_server_releases_its_lock() {
    let Some((_tmp, _d, dir, mut child)) = against_holder("killed_server_releases_its_lock") else {
        return;
    };
    assert!(matches!(
        ServerLock::acquire(&dir),
        Err(FifoError::AlreadyServing { .. })
    ));
    child.kill().unwrap(); // SIGKILL to our own child, by its handle
    let status = reap(child);
    assert!(!status.success());
    let lock = ServerLock::acquire(&dir).unwrap();
    lock.reclaim_and_create().unwrap();
}

// FR-FIFO-10: client.lock missing = no server (NotFound); held = busy (None); released on drop.
#[test]
fn fr_fifo_10_client_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("svc");
    let dir = ServiceDir::create_or_verify(&d).unwrap();
    match ClientLock::try_acquire(&dir) {
        Err(FifoError::NotFound { path }) => assert_eq!(path, d.join("client.lock")),
        other => panic!("expected NotFound, got {other:?}"),
    }
    let server = ServerLock::acquire(&dir).unwrap();
    server.reclaim_and_create().unwrap();
    let first = ClientLock::try_acquire(&dir).unwrap().expect("free");
    // flock conflicts between open file descriptions, even within one process.
    let client_dir = ServiceDir::open_existing(&d).unwrap();
    assert!(ClientLock::try_acquire(&client_dir).unwrap().is_none());
    assert!(ClientLock::try_acquire(&client_dir).unwrap().is_none());
    drop(first);
    let second = ClientLock::try_acquire(&client_dir).unwrap();
    assert!(second.is_some());
    assert_eq!(second.unwrap().path(), d.join("client.lock"));
}

// FR-FIFO-5 in one process: two lock attempts are two open file descriptions and conflict.
#[test]
fn fr_fifo_5_lock_is_exclusive_within_a_process() {
    let (_tmp, dir, lock) = served();
    assert!(matches!(
        ServerLock::acquire(&dir),
        Err(FifoError::AlreadyServing { .. })
    ));
    assert_eq!(lock.dir().path(), dir.path());
    drop(lock);
    ServerLock::acquire(&dir).unwrap();
}
