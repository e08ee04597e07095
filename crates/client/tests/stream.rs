//! A large request is written while it is encoded, a chunk at a time. Against a fake server
//! that reads `pipe.in` only when the test says so: a request whose writing times out half-way
//! still reaches the server whole (the next writer completes it), followed by its CANCEL.

mod support;

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use fifo_rpc_client::{Client, ClientConfig, ClientError};
use fifo_rpc_fifo::{FifoReader, ReadOutcome, ServerLock, ServiceDir, PIPE_IN};
use fifo_rpc_protocol::{Event, Message, Receiver, ReceiverConfig};
use support::{TestDir, Watchdog};

/// Reads `pipe_in` into `rx` until `want` returns something (or the deadline passes).
fn read_until<T>(
    pipe_in: &mut FifoReader,
    rx: &mut Receiver,
    deadline: Instant,
    mut want: impl FnMut(Event) -> Option<T>,
) -> T {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        while let Some(event) = rx.poll_event() {
            if let Some(found) = want(event) {
                return found;
            }
        }
        assert!(Instant::now() < deadline, "nothing came in time");
        match pipe_in.read(&mut buf).unwrap() {
            ReadOutcome::Data(n) => rx.push(&buf[..n]),
            ReadOutcome::WouldBlock | ReadOutcome::Eof => {
                pipe_in.wait_readable(Some(deadline), None).unwrap();
            }
        }
    }
}

// FR-FRAG-1, FR-FRAME-9, FR-CANCEL-1: a streamed 1 MiB request that times out with the pipe
// full arrives whole once the server reads again, then its CANCEL; nothing else is on the wire.
#[test]
fn streamed_request_that_times_out_still_arrives_whole_then_cancel() {
    let _wd = Watchdog::new("streamed_request_times_out", Duration::from_secs(60));
    let t = TestDir::new();
    let dir = ServiceDir::create_or_verify(t.service()).unwrap();
    let lock = ServerLock::acquire(&dir).unwrap();
    lock.reclaim_and_create().unwrap();
    let mut pipe_in = dir.open_reader(PIPE_IN).unwrap();
    let body: Vec<u8> = (0..1u32 << 20).map(|i| (i % 253) as u8).collect();

    let (timed_out, wait_timed_out) = mpsc::channel();
    let client_dir = t.service();
    let sent = body.clone();
    let client = thread::spawn(move || {
        let config = ClientConfig::default()
            .connect_timeout(Duration::from_secs(10))
            .call_timeout(Some(Duration::from_secs(20)));
        let client = Client::connect(&client_dir, config).unwrap();
        // The fake server does not read: the 64 KiB pipe fills and the write times out.
        let err = client
            .call_raw_with_timeout("put", &sent, Some(Duration::from_millis(200)))
            .unwrap_err();
        assert!(matches!(err, ClientError::Timeout { .. }), "{err:?}");
        timed_out.send(()).unwrap();
        // Writes what is queued (the rest of the request, then CANCEL) as the server reads.
        client.flush().unwrap();
        client
    });

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut rx = Receiver::new(ReceiverConfig {
        max_frame: 4096,
        max_message: 4 << 20,
        max_partial: 4,
    });
    let session = support::read_hello(&mut pipe_in, &mut rx, deadline);
    let pipe_out = support::send_welcome(&dir, session, 4 << 20, deadline);

    wait_timed_out
        .recv_timeout(Duration::from_secs(30))
        .expect("the call timed out");
    let mut seen = Vec::new();
    let request = read_until(&mut pipe_in, &mut rx, deadline, |e| {
        seen.push(format!("{e:?}").chars().take(80).collect::<String>());
        match e {
            Event::Message {
                message: Message::Request { request, call },
                ..
            } => {
                assert_eq!(call.method(), "put");
                assert!(call.body() == &body[..], "the request arrived changed");
                Some(request)
            }
            _ => None,
        }
    });
    let cancelled = read_until(&mut pipe_in, &mut rx, deadline, |e| {
        seen.push(format!("{e:?}").chars().take(80).collect::<String>());
        match e {
            Event::Message {
                message: Message::Cancel { request },
                ..
            } => Some(request),
            _ => None,
        }
    });
    assert_eq!(cancelled, request);
    assert_eq!(seen.len(), 2, "only the request and its CANCEL: {seen:?}");
    let client = client.join().unwrap();
    drop(client);
    drop(pipe_out);
    lock.remove_files().unwrap();
}
