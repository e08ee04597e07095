//! A server that goes away: it stops reading (EPIPE, no SIGPIPE death), or it is killed with
//! SIGKILL while calls are pending; then reconnect to a new server.

mod support;

use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use fifo_rpc_client::{Client, ClientConfig, ClientError};
use fifo_rpc_fifo::{ServerLock, ServiceDir, PIPE_IN};
use fifo_rpc_protocol::{Receiver, ReceiverConfig};
use support::{ChildServer, TestDir, Watchdog, DIR, ROLE};

/// The entry point of the child processes of these tests (see `support::spawn_role`).
#[test]
#[ignore = "entry point of the child processes that the other tests start"]
fn child_entry() {
    let dir = std::path::PathBuf::from(std::env::var_os(DIR).expect("service directory"));
    support::bind_child_lifetime(Duration::from_secs(120));
    match std::env::var(ROLE).as_deref() {
        Ok("server") => support::run_child_server(&dir),
        Ok("client-sigpipe") => client_with_default_sigpipe(&dir),
        other => panic!("unknown role {other:?}"),
    }
}

/// Child role: SIGPIPE at its default action (kill), connect, call. The server stopped reading,
/// so the call must fail with a typed error, and the process must survive to report it.
fn client_with_default_sigpipe(dir: &std::path::Path) {
    // SAFETY: resetting a signal disposition to SIG_DFL at the start of a single-purpose child
    // process; no handler is installed and nothing else depends on the old disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let config = ClientConfig::default()
        .connect_timeout(Duration::from_secs(20))
        .call_timeout(Some(Duration::from_secs(20)));
    let client = Client::connect(dir, config).expect("connect to the fake server");
    let err = client.call_raw("echo", b"anyone?").unwrap_err();
    assert!(
        matches!(err, ClientError::ServerGone),
        "expected ServerGone, got {err:?}"
    );
    let err = client.call_raw("echo", b"again").unwrap_err();
    assert!(
        matches!(err, ClientError::Disconnected),
        "expected Disconnected, got {err:?}"
    );
    println!("typed error: {err}");
}

// FR-FIFO-17, FR-FIFO-18, FR-BYE-4: a server that closed its pipe.in read end gives EPIPE, a
// typed error, and no SIGPIPE death even with SIGPIPE at SIG_DFL.
#[test]
fn server_that_stopped_reading_gives_typed_error_not_sigpipe() {
    let _wd = Watchdog::new("stopped_reading", Duration::from_secs(60));
    let t = TestDir::new();
    // A fake server: bind by hand, read HELLO, close pipe.in, then answer WELCOME.
    let dir = ServiceDir::create_or_verify(t.service()).unwrap();
    let lock = ServerLock::acquire(&dir).unwrap();
    lock.reclaim_and_create().unwrap();
    let mut pipe_in = dir.open_reader(PIPE_IN).unwrap();
    let mut child = support::spawn_role("child_entry", "client-sigpipe", &t.service());

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut rx = Receiver::new(ReceiverConfig::default());
    let session = support::read_hello(&mut pipe_in, &mut rx, deadline);
    drop(pipe_in); // the server stops reading: the client's next write gets EPIPE
    let pipe_out = support::send_welcome(&dir, session, 1 << 20, deadline);

    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        None,
        "the client died of a signal: {status:?}"
    );
    assert!(
        status.success(),
        "the client reported a failure: {status:?}"
    );
    drop(pipe_out);
    lock.remove_files().unwrap();
}

// FR-BYE-4, FR-HS-3, FR-FIFO-9: a server killed with SIGKILL while calls are pending: they all
// fail within a second with ServerGone (the client sees end of stream, which an O_RDWR open of
// pipe.out would hide), later calls with Disconnected; after a new server starts, reconnect()
// works and server_info shows a new instance id.
#[test]
fn server_killed_then_reconnect_to_new_instance() {
    let _wd = Watchdog::new("server_killed", Duration::from_secs(90));
    let t = TestDir::new();
    let mut server = ChildServer::start("child_entry", &t.service());
    let config = ClientConfig::default()
        .connect_timeout(Duration::from_secs(20))
        .call_timeout(Some(Duration::from_secs(30)));
    let client = Arc::new(Client::connect(t.service(), config).unwrap());
    let first = client.server_info();
    let reply: String = client.call("echo", "alive").unwrap();
    assert_eq!(reply, "alive");

    // Four calls that the server never answers (they wait at a gate), then the kill.
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let callers: Vec<_> = (0..4)
        .map(|_| {
            let client = Arc::clone(&client);
            let started_tx = started_tx.clone();
            thread::spawn(move || {
                let pending = client.send_raw("block", &[]).unwrap();
                client.flush().unwrap();
                started_tx.send(()).unwrap();
                let result = pending.wait();
                (result, Instant::now())
            })
        })
        .collect();
    for _ in 0..4 {
        started_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    }
    let killed_at = Instant::now();
    server.kill();
    for caller in callers {
        let (result, at) = caller.join().unwrap();
        assert!(matches!(result, Err(ClientError::ServerGone)), "{result:?}");
        assert!(
            at.duration_since(killed_at) < Duration::from_secs(1),
            "took {:?}",
            at - killed_at
        );
    }
    assert!(matches!(
        client.call_raw("bytes", b"x"),
        Err(ClientError::Disconnected)
    ));
    assert!(!client.is_connected());

    // A new server reclaims the stale files; the client reconnects to it.
    let _second = ChildServer::start("child_entry", &t.service());
    client.reconnect().unwrap();
    let second = client.server_info();
    assert_ne!(first.instance_id, second.instance_id);
    assert_ne!(first.server_pid, second.server_pid);
    let reply: String = client.call("echo", "again").unwrap();
    assert_eq!(reply, "again");
}
