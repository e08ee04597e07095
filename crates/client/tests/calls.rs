//! Calls against the real server (`fifo-rpc-server`) over real FIFOs.

mod support;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use fifo_rpc_client::{Client, ClientConfig, ClientError, ErrorCode};
use rand::{Rng, SeedableRng};
use support::{ServerThread, TestDir, Watchdog};

fn config() -> ClientConfig {
    ClientConfig::default()
        .connect_timeout(Duration::from_secs(10))
        .call_timeout(Some(Duration::from_secs(20)))
}

// FR-CALL-2, FR-ENC-1: a typed echo, and the same call with raw octets.
#[test]
fn typed_and_raw_echo() {
    let _wd = Watchdog::new("typed_and_raw_echo", Duration::from_secs(60));
    let t = TestDir::new();
    let _server = ServerThread::start(&t.service());
    let client = Client::connect(t.service(), config()).unwrap();
    let reply: String = client.call("echo", "hello").unwrap();
    assert_eq!(reply, "hello");
    // Spec §10.1: "hi" is 02 00 00 00 00 00 00 00 68 69.
    let hi = b"\x02\0\0\0\0\0\0\0hi";
    assert_eq!(client.call_raw("echo", hi).unwrap(), hi);
    assert_eq!(client.call_raw("bytes", b"").unwrap(), b"");
    let info = client.server_info();
    assert_eq!(info.encoding, "bincode1");
    assert_eq!(info.version, 1);
    assert!(client.is_connected());
}

// FR-CALL-6, spec §11.1: errors arrive typed, with code, name and message; the session goes on.
#[test]
fn remote_errors_are_typed() {
    let _wd = Watchdog::new("remote_errors_are_typed", Duration::from_secs(60));
    let t = TestDir::new();
    let _server = ServerThread::start(&t.service());
    let client = Client::connect(t.service(), config()).unwrap();
    match client.call::<_, String>("fail", "it broke") {
        Err(ClientError::Remote {
            code,
            name,
            message,
            ..
        }) => {
            assert_eq!(code, ErrorCode(1000));
            assert_eq!(name, "APPLICATION");
            assert_eq!(message, "it broke");
        }
        other => panic!("expected a remote error, got {other:?}"),
    }
    let err = client.call_raw("no-such-method", b"").unwrap_err();
    assert_eq!(err.remote_code(), Some(ErrorCode::METHOD_NOT_FOUND));
    assert!(err.to_string().contains("METHOD_NOT_FOUND"), "{err}");
    // A body that does not decode as the handler's type: BAD_REQUEST (FR-CALL-6).
    let err = client.call_raw("echo", b"\xff").unwrap_err();
    assert_eq!(err.remote_code(), Some(ErrorCode::BAD_REQUEST));
    let reply: String = client.call("echo", "still fine").unwrap();
    assert_eq!(reply, "still fine");
}

// FR-CALL-3, FR-FRAME-10, FR-FRAG-2: many threads at once, random sizes (fragmented ones too),
// every answer checked octet for octet against its request.
#[test]
fn many_threads_random_sizes() {
    many_threads(config());
}

// The same without spinning: every wait sleeps in poll or parks at once.
#[test]
fn many_threads_random_sizes_without_spin() {
    many_threads(config().spin(Duration::ZERO));
}

fn many_threads(config: ClientConfig) {
    let _wd = Watchdog::new("many_threads_random_sizes", Duration::from_secs(120));
    let t = TestDir::new();
    let _server = ServerThread::start(&t.service());
    let client = Arc::new(Client::connect(t.service(), config).unwrap());
    let threads: Vec<_> = (0..8u64)
        .map(|seed| {
            let client = Arc::clone(&client);
            thread::spawn(move || {
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
                for _ in 0..150 {
                    let len = match rng.gen_range(0..10) {
                        0 => rng.gen_range(4000..40_000),
                        _ => rng.gen_range(0..300),
                    };
                    let body: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
                    assert_eq!(client.call_raw("bytes", &body).unwrap(), body);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("caller thread");
    }
}

// FR-FRAG-1, FR-FRAG-3: an 8 MiB body crosses both ways intact.
#[test]
fn eight_mib_payload_intact() {
    let _wd = Watchdog::new("eight_mib_payload_intact", Duration::from_secs(120));
    let t = TestDir::new();
    let _server = ServerThread::start(&t.service());
    let client = Client::connect(t.service(), config()).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(8);
    let body: Vec<u8> = (0..8 << 20).map(|_| rng.gen()).collect();
    let answer = client.call_raw("bytes", &body).unwrap();
    assert!(answer == body, "8 MiB body came back different");
    let text = "x".repeat(3 << 20);
    let echoed: String = client.call("echo", &text).unwrap();
    assert_eq!(echoed, text);
}

// FR-FRAG-4: a request over the server's Max Message fails locally; nothing is sent.
#[test]
fn request_over_max_message_fails_locally() {
    let _wd = Watchdog::new(
        "request_over_max_message_fails_locally",
        Duration::from_secs(60),
    );
    let t = TestDir::new();
    let _server = ServerThread::start(&t.service());
    let client = Client::connect(t.service(), config()).unwrap();
    let max = client.server_info().max_message;
    let err = client
        .call_raw("bytes", &vec![0; max as usize])
        .unwrap_err();
    assert!(
        matches!(err, ClientError::MessageTooLarge { len, max: m } if m == max && len == u64::from(max) + 6)
    );
    assert_eq!(client.call_raw("bytes", b"after").unwrap(), b"after");
}

// FR-FRAG-1: answers received into the caller's buffer are intact at every size, and once warm
// the calls take turns with two buffers instead of allocating one per answer.
#[test]
fn call_raw_into_reuses_the_callers_buffers() {
    let _wd = Watchdog::new("call_raw_into", Duration::from_secs(60));
    let t = TestDir::new();
    let _server = ServerThread::start(&t.service());
    let client = Client::connect(t.service(), config()).unwrap();
    let mut answer = b"old contents".to_vec();
    let mut seen = Vec::new();
    let sizes = [
        0usize,
        10,
        5000,
        1 << 20,
        100,
        70_000,
        1 << 20,
        1 << 20,
        1 << 20,
        1 << 20,
    ];
    for (i, size) in sizes.into_iter().enumerate() {
        let body: Vec<u8> = (0..size).map(|j| (j + i) as u8).collect();
        client.call_raw_into("bytes", &body, &mut answer).unwrap();
        assert!(
            answer == body,
            "call {i}: answer of {} octets",
            answer.len()
        );
        seen.push(answer.as_ptr());
    }
    // The last two answers came in the buffers of the two before them.
    let n = seen.len();
    let (warm, last) = (&seen[n - 4..n - 2], &seen[n - 2..]);
    assert!(
        last.iter().all(|p| warm.contains(p)),
        "a new buffer was allocated for an answer: {seen:?}"
    );
    // A failed call leaves the buffer alone.
    let before = answer.clone();
    assert!(client
        .call_raw_into("no-such-method", b"", &mut answer)
        .is_err());
    assert_eq!(answer, before);
}

// FR-CANCEL-1, FR-CALL-5: a call that times out is cancelled, its late answer discarded, and the
// next call gets its own answer.
#[test]
fn timeout_cancels_and_late_answer_is_discarded() {
    let _wd = Watchdog::new("timeout_cancels", Duration::from_secs(60));
    let t = TestDir::new();
    let server = ServerThread::start(&t.service());
    let client = Client::connect(t.service(), config()).unwrap();
    let started = Instant::now();
    let err = client
        .call_with_timeout::<_, String>("block", &(), Some(Duration::from_millis(200)))
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Timeout { method, .. } if method == "block"),
        "{err:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(200));
    // The handler is running: let it finish, so its answer comes late.
    server.gate.wait_for_waiters(1);
    server.gate.open();
    for i in 0..20 {
        let text = format!("next {i}");
        let reply: String = client.call("echo", &text).unwrap();
        assert_eq!(reply, text);
    }
}

// FR-EXIT-1, FR-FIFO-19: `exit` returns once RESPONSE, GOODBYE and EOF came; the server is gone
// and its files too; later calls fail with Disconnected.
#[test]
fn exit_stops_the_server() {
    let _wd = Watchdog::new("exit_stops_the_server", Duration::from_secs(60));
    let t = TestDir::new();
    let server = ServerThread::start(&t.service());
    let client = Client::connect(t.service(), config()).unwrap();
    let _: String = client.call("echo", "before").unwrap();
    client.exit().unwrap();
    let summary = server.join();
    assert_eq!(summary.sessions, 1);
    assert_eq!(std::fs::read_dir(t.service()).unwrap().count(), 0);
    assert!(!client.is_connected());
    assert!(matches!(
        client.call_raw("bytes", b"x"),
        Err(ClientError::Disconnected)
    ));
}

// FR-BYE-1, FR-FIFO-10: close() says GOODBYE and frees client.lock for the next client.
#[test]
fn close_frees_the_server_for_the_next_client() {
    let _wd = Watchdog::new("close_frees_the_server", Duration::from_secs(60));
    let t = TestDir::new();
    let _server = ServerThread::start(&t.service());
    let first = Client::connect(t.service(), config()).unwrap();
    let _: String = first.call("echo", "one").unwrap();
    first.close();
    assert!(matches!(
        first.call_raw("bytes", b""),
        Err(ClientError::Disconnected)
    ));
    let second = Client::connect(
        t.service(),
        config().connect_timeout(Duration::from_secs(5)),
    )
    .unwrap();
    let reply: String = second.call("echo", "two").unwrap();
    assert_eq!(reply, "two");
    drop(second); // Drop closes too
    first.reconnect().unwrap();
    let reply: String = first.call("echo", "three").unwrap();
    assert_eq!(reply, "three");
}

// FR-FRAME-9: pipelined calls from one thread share writes; answers match their calls.
#[test]
fn pipelined_calls_from_one_thread() {
    let _wd = Watchdog::new("pipelined_calls", Duration::from_secs(60));
    let t = TestDir::new();
    let _server = ServerThread::start(&t.service());
    let client = Client::connect(t.service(), config()).unwrap();
    for round in 0..20u32 {
        let bodies: Vec<Vec<u8>> = (0..200u32)
            .map(|i| (round * 1000 + i).to_le_bytes().repeat(16))
            .collect();
        let pending: Vec<_> = bodies
            .iter()
            .map(|b| client.send_raw("bytes", b).unwrap())
            .collect();
        for (call, body) in pending.into_iter().zip(&bodies) {
            assert_eq!(&call.wait().unwrap(), body);
        }
    }
    // A dropped pending call is cancelled; the session goes on.
    drop(client.send_raw("bytes", b"dropped").unwrap());
    client
        .notify("echo", "a notification nobody answers")
        .unwrap();
    assert_eq!(client.call_raw("bytes", b"after").unwrap(), b"after");
}

// FR-CALL-4: more concurrent calls than Max In-flight wait for a place instead of failing.
#[test]
fn more_callers_than_max_in_flight() {
    let _wd = Watchdog::new("more_callers_than_max_in_flight", Duration::from_secs(60));
    let t = TestDir::new();
    let server = fifo_rpc_server::Server::builder(t.service())
        .max_in_flight(2)
        .bind()
        .unwrap();
    let stop = server.shutdown_handle();
    let serving = thread::spawn(move || server.serve(support::router(support::Gate::default())));
    let client = Arc::new(Client::connect(t.service(), config()).unwrap());
    assert_eq!(client.server_info().max_in_flight, 2);
    let pending: Vec<_> = (0..50u32)
        .map(|i| client.send_raw("bytes", &[i as u8; 3]))
        .collect();
    for (i, call) in pending.into_iter().enumerate() {
        assert_eq!(call.unwrap().wait().unwrap(), [i as u8; 3]);
    }
    let threads: Vec<_> = (0..6u8)
        .map(|n| {
            let client = Arc::clone(&client);
            thread::spawn(move || {
                for _ in 0..50 {
                    assert_eq!(client.call_raw("bytes", &[n; 100]).unwrap(), [n; 100]);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    drop(client);
    stop.shutdown();
    serving.join().unwrap().unwrap();
}

// The client is shared between threads by reference or Arc.
#[test]
fn client_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Client>();
    assert_send_sync::<ClientError>();
    let _wd = Watchdog::new("client_is_send_and_sync", Duration::from_secs(60));
    let t = TestDir::new();
    let _server = ServerThread::start(&t.service());
    let client = Client::connect(t.service(), config()).unwrap();
    thread::scope(|s| {
        for i in 0..4u8 {
            let client = &client;
            s.spawn(move || assert_eq!(client.call_raw("bytes", &[i]).unwrap(), [i]));
        }
    });
}

// FR-FIFO-13: one thread pipelines large calls without reading; while it waits for room in a
// full pipe.in it must drain pipe.out, which the server fills with answers meanwhile.
#[test]
fn writer_drains_answers_while_pipe_in_is_full() {
    let _wd = Watchdog::new("writer_drains_answers", Duration::from_secs(60));
    let t = TestDir::new();
    let _server = ServerThread::start(&t.service());
    let client = Client::connect(t.service(), config()).unwrap();
    let bodies: Vec<Vec<u8>> = (0..16u8).map(|i| vec![i; 256 << 10]).collect();
    let pending: Vec<_> = bodies
        .iter()
        .map(|b| client.send_raw("bytes", b).unwrap())
        .collect();
    for (call, body) in pending.into_iter().zip(&bodies) {
        assert!(call.wait().unwrap() == *body);
    }
}
