//! Client connect (spec §9.4) with real FIFOs: no server, a busy server, a late server.

mod support;

use std::thread;
use std::time::{Duration, Instant};

use fifo_rpc_client::{Client, ClientConfig, ClientError};
use fifo_rpc_fifo::{ClientLock, ServerLock, ServiceDir};
use support::{ServerThread, TestDir, Watchdog};

fn quick(timeout_ms: u64) -> ClientConfig {
    ClientConfig::default().connect_timeout(Duration::from_millis(timeout_ms))
}

// FR-FIFO-10, FR-FIFO-11: with no server at all (no directory), connect fails with NoServer at
// its deadline, not before and not much later.
#[test]
fn no_server_times_out_with_no_server() {
    let _wd = Watchdog::new("no_server_times_out", Duration::from_secs(30));
    let t = TestDir::new();
    let started = Instant::now();
    let err = Client::connect(t.service(), quick(300)).unwrap_err();
    let waited = started.elapsed();
    match &err {
        ClientError::NoServer { dir, waited: w } => {
            assert_eq!(dir, &t.service());
            assert!(*w >= Duration::from_millis(300), "{w:?}");
        }
        other => panic!("expected NoServer, got {other:?}"),
    }
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    let text = err.to_string();
    assert!(text.contains(&t.service().display().to_string()), "{text}");
    assert!(text.starts_with(char::is_lowercase), "{text}");
}

// FR-FIFO-8, spec §9.8: stale files of a dead server (no reader on pipe.in): ENXIO until the
// deadline, then NoServer.
#[test]
fn stale_files_without_server_give_no_server() {
    let _wd = Watchdog::new("stale_files_without_server", Duration::from_secs(30));
    let t = TestDir::new();
    let dir = ServiceDir::create_or_verify(t.service()).unwrap();
    let lock = ServerLock::acquire(&dir).unwrap();
    lock.reclaim_and_create().unwrap();
    drop(lock); // the "server" died; its files stay
    let started = Instant::now();
    let err = Client::connect(t.service(), quick(300)).unwrap_err();
    assert!(matches!(err, ClientError::NoServer { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

// FR-FIFO-10, FR-FIFO-4: while another client holds client.lock, connect keeps waiting and fails
// with Busy at its deadline, so pipe.out never has two reading clients.
#[test]
fn busy_client_lock_gives_busy() {
    let _wd = Watchdog::new("busy_client_lock", Duration::from_secs(30));
    let t = TestDir::new();
    let _server = ServerThread::start(&t.service());
    let dir = ServiceDir::open_existing(t.service()).unwrap();
    let held = ClientLock::try_acquire(&dir)
        .unwrap()
        .expect("the lock is free");
    let started = Instant::now();
    let err = Client::connect(t.service(), quick(300)).unwrap_err();
    assert!(matches!(err, ClientError::Busy { .. }), "{err:?}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(started.elapsed() < Duration::from_secs(3));
    // Once the other client leaves, connecting works.
    drop(held);
    let client = Client::connect(t.service(), quick(10_000)).unwrap();
    let reply: String = client.call("echo", "free now").unwrap();
    assert_eq!(reply, "free now");
}

// FR-FIFO-10: a second Client waits while the first is connected, and gets in when it closes.
#[test]
fn second_client_waits_for_the_first() {
    let _wd = Watchdog::new("second_client_waits", Duration::from_secs(30));
    let t = TestDir::new();
    let _server = ServerThread::start(&t.service());
    let first = Client::connect(t.service(), quick(10_000)).unwrap();
    let dir = t.service();
    let second = thread::spawn(move || Client::connect(dir, quick(20_000)));
    let _: String = first.call("echo", "first").unwrap();
    first.close();
    let second = second.join().unwrap().unwrap();
    let reply: String = second.call("echo", "second").unwrap();
    assert_eq!(reply, "second");
}

// FR-FIFO-7, FR-FIFO-8: the client starts first and waits; a server that binds later is found.
#[test]
fn client_first_then_server() {
    let _wd = Watchdog::new("client_first_then_server", Duration::from_secs(30));
    let t = TestDir::new();
    let dir = t.service();
    let connecting = thread::spawn(move || Client::connect(dir, quick(20_000)));
    // The client is retrying against a missing directory; bind the server now.
    let _server = ServerThread::start(&t.service());
    let client = connecting.join().unwrap().unwrap();
    let reply: String = client.call("echo", "late server").unwrap();
    assert_eq!(reply, "late server");
}

// FR-FIFO-1, FR-FIFO-3: a service directory open to others is refused at once, naming it.
#[test]
fn insecure_directory_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let _wd = Watchdog::new("insecure_directory", Duration::from_secs(30));
    let t = TestDir::new();
    std::fs::create_dir(t.service()).unwrap();
    std::fs::set_permissions(t.service(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let started = Instant::now();
    let err = Client::connect(t.service(), quick(5_000)).unwrap_err();
    assert!(matches!(err, ClientError::Fifo(_)), "{err:?}");
    assert!(
        err.to_string().contains(&t.service().display().to_string()),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refused at once, not at the deadline"
    );
}
