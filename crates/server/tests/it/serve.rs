//! Serving raw clients over real FIFOs: handshake, calls, errors, several clients in turn,
//! stray bytes, dead clients, pipelining, cancellation, slow readers, `exit`.

use fifo_rpc_protocol::{
    encode_frame, encode_request, frame_type, ErrorCode, FrameHeader, GoodbyeCode, Message,
    ProtocolError,
};
use fifo_rpc_server::ServerLog;

use crate::support::*;

fn expect_response(m: Message, request: u32) -> Vec<u8> {
    match m {
        Message::Response { request: r, body } if r == request => body,
        other => panic!("expected RESPONSE {request}, got {other:?}"),
    }
}

fn expect_error(m: Message, request: u32) -> (ErrorCode, String) {
    match m {
        Message::Error {
            request: r,
            code,
            message,
            ..
        } if r == request => (ErrorCode(code), message),
        other => panic!("expected ERROR {request}, got {other:?}"),
    }
}

// FR-HS-2, FR-CALL-2, FR-CALL-6, FR-FIFO-14, FR-FIFO-15: a handshake and calls, the errors a
// handler can cause, and a second client after the first closed its ends.
fn conversation(workers: usize) {
    let t = TestDir::new();
    let dir = t.service();
    let srv = Running::start(&dir, |b| b.workers(workers));

    let mut c = RawClient::connect(&dir, 0x1111_0001);
    c.handshake();
    let body = expect_response(c.call(1, "echo", &string_body("hello")), 1);
    assert_eq!(body, string_body("hello"));
    let body = expect_response(c.call(2, "reverse", b"abc"), 2);
    assert_eq!(body, b"cba");
    // FR-CALL-6: unknown method.
    let (code, _) = expect_error(c.call(3, "nope", b""), 3);
    assert_eq!(code, ErrorCode::METHOD_NOT_FOUND);
    // A panicking handler is answered and the server keeps serving.
    let (code, message) = expect_error(c.call(4, "panic", b""), 4);
    assert_eq!(code, ErrorCode::HANDLER_PANICKED);
    assert!(message.contains("always panics"), "{message}");
    // FR-CALL-6: a body the typed handler cannot decode.
    let (code, _) = expect_error(c.call(5, "echo", b"\x01"), 5);
    assert_eq!(code, ErrorCode::BAD_REQUEST);
    // FR-CALL-6: a malformed REQUEST payload (empty method name).
    let mut frame = Vec::new();
    let header = FrameHeader::new(frame_type::REQUEST, 0x1111_0001, 7);
    encode_frame(&header, &[], &[0, b'x'], 4096, &mut frame).unwrap();
    c.send(&frame);
    let (_, m) = c.recv().expect("an answer");
    assert_eq!(expect_error(m, 7).0, ErrorCode::BAD_REQUEST);
    let body = expect_response(c.call(6, "echo", &string_body("still here")), 6);
    assert_eq!(body, string_body("still here"));
    c.close();

    let mut c2 = RawClient::connect(&dir, 0x2222_0002);
    c2.handshake();
    let body = expect_response(c2.call(1, "echo", &string_body("second")), 1);
    assert_eq!(body, string_body("second"));
    c2.close();

    let summary = srv.stop();
    assert_eq!(summary.sessions, 2);
    assert_eq!(summary.calls, 7);
    assert_eq!(summary.handler_panics, 1);
    assert_eq!(summary.unknown_methods, 1);
    assert_eq!(summary.handler_errors, 1);
    assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
}

#[test]
fn conversation_inline() {
    conversation(0);
}

#[test]
fn conversation_with_workers() {
    conversation(2);
}

// FR-DEC-4, FR-DEC-6, FR-ERR-1: `echo hello > pipe.in` is a framing error, not a call, and the
// next client is served.
#[test]
fn fr_err_1_garbage_on_pipe_in_does_not_stop_serving() {
    let t = TestDir::new();
    let dir = t.service();
    let srv = Running::start(&dir, |b| b.workers(1));
    drop(stranger_writes(&dir, b"hello\n"));
    let record = srv.wait_log(|r| matches!(r, ServerLog::FramingError { .. }));
    assert!(record.to_string().contains("BAD_MAGIC"), "{record}");
    let mut c = RawClient::connect(&dir, 7);
    c.handshake();
    let body = expect_response(c.call(1, "echo", &string_body("after garbage")), 1);
    assert_eq!(body, string_body("after garbage"));
    c.close();
    let summary = srv.stop();
    assert!(summary.framing_errors >= 1);
    assert_eq!(summary.calls, 1);
}

// FR-DEC-7: stray bytes that start like a frame do not hold up the next client's HELLO.
#[test]
fn fr_dec_7_stray_frame_start_does_not_hold_up_hello() {
    let t = TestDir::new();
    let dir = t.service();
    let srv = Running::start(&dir, |b| b.workers(0));
    // The stranger keeps pipe.in open: no end of stream helps the server here.
    let stranger = stranger_writes(&dir, &[0xf1, 0xf0, 0x00, 0x40]);
    srv.wait_log(|r| {
        matches!(
            r,
            ServerLog::FramingError {
                error: ProtocolError::TruncatedFrame { .. }
            }
        )
    });
    let mut c = RawClient::connect(&dir, 0x1234);
    c.handshake();
    expect_response(c.call(1, "echo", &string_body("x")), 1);
    c.close();
    drop(stranger);
    srv.stop();
}

// FR-FRAG-6, FR-FIFO-14: a client that dies in the middle of a fragmented message is noticed,
// its partial message dropped, and the next client served.
#[test]
fn fr_frag_6_client_dies_mid_message() {
    let t = TestDir::new();
    let dir = t.service();
    let srv = Running::start(&dir, |b| b.workers(0));
    let mut c = RawClient::connect(&dir, 0x3333);
    c.handshake();
    let mut frames = Vec::new();
    encode_request(
        0x3333,
        1,
        "echo",
        &string_body(&"x".repeat(10_000)),
        4096,
        &mut frames,
    )
    .unwrap();
    c.send(&frames[..4096]); // the first fragment only
    c.close();
    srv.wait_log(|r| {
        matches!(
            r,
            ServerLog::FramingError {
                error: ProtocolError::TruncatedMessage {
                    session: 0x3333,
                    request: 1
                }
            }
        )
    });
    let mut c2 = RawClient::connect(&dir, 0x4444);
    c2.handshake();
    let body = expect_response(c2.call(1, "echo", &string_body("next")), 1);
    assert_eq!(body, string_body("next"));
    c2.close();
    let summary = srv.stop();
    assert_eq!(summary.sessions, 2);
}

// FR-CALL-3, FR-FRAME-10: many pipelined calls, each answered exactly once; answers of large
// bodies are fragmented.
fn pipelined(workers: usize) {
    let t = TestDir::new();
    let dir = t.service();
    let srv = Running::start(&dir, |b| b.workers(workers));
    let mut c = RawClient::connect(&dir, 0x5555);
    c.handshake();
    let n = 300u32;
    let mut batch = Vec::new();
    for r in 1..=n {
        let size: u32 = if r % 50 == 0 { 9000 } else { 8 };
        encode_request(0x5555, r, "big", &size.to_le_bytes(), 4096, &mut batch).unwrap();
    }
    c.send(&batch);
    let mut seen = vec![false; n as usize + 1];
    for _ in 0..n {
        let (session, m) = c.recv().expect("an answer");
        assert_eq!(session, 0x5555);
        let Message::Response { request, body } = m else {
            panic!("{m:?}")
        };
        assert!(!seen[request as usize], "request {request} answered twice");
        seen[request as usize] = true;
        assert_eq!(body.len(), if request % 50 == 0 { 9000 } else { 8 });
    }
    c.close();
    assert_eq!(srv.stop().calls, u64::from(n));
}

#[test]
fn pipelined_inline() {
    pipelined(0);
}

#[test]
fn pipelined_with_workers() {
    pipelined(2);
}

// FR-FRAG-1, FR-CALL-2: large answers are encoded while they are written; a smaller one after
// a larger one (whose buffer the server keeps) and sizes around the streaming threshold all
// arrive whole, one call at a time and then pipelined, inline and on workers.
fn large_answers_of_changing_sizes(workers: usize) {
    let t = TestDir::new();
    let dir = t.service();
    let srv = Running::start(&dir, |b| b.workers(workers));
    let mut c = RawClient::connect(&dir, 0x7777);
    c.handshake();
    let sizes: [u32; 8] = [
        4 << 20,
        200_000,
        65_535,
        65_536,
        3 << 20,
        70_000,
        100,
        1 << 20,
    ];
    let mut request = 0;
    for &size in &sizes {
        request += 1;
        c.send_request(request, "big", &size.to_le_bytes());
        let (_, m) = c.recv().expect("an answer");
        let Message::Response { request: r, body } = m else {
            panic!("{m:?}")
        };
        assert_eq!((r, body.len()), (request, size as usize));
        assert!(body.iter().all(|&b| b == 0xab), "answer {r} changed");
    }
    let mut batch = Vec::new();
    for &size in &sizes {
        request += 1;
        encode_request(
            0x7777,
            request,
            "big",
            &size.to_le_bytes(),
            4096,
            &mut batch,
        )
        .unwrap();
    }
    c.send(&batch);
    let mut got = std::collections::HashMap::new();
    for _ in &sizes {
        let (_, m) = c.recv().expect("an answer");
        let Message::Response { request: r, body } = m else {
            panic!("{m:?}")
        };
        assert!(body.iter().all(|&b| b == 0xab), "answer {r} changed");
        assert!(got.insert(r, body.len()).is_none(), "{r} answered twice");
    }
    for (i, &size) in sizes.iter().enumerate() {
        assert_eq!(got[&(request - 7 + i as u32)], size as usize);
    }
    c.close();
    assert_eq!(srv.stop().calls, 2 * sizes.len() as u64);
}

#[test]
fn large_answers_of_changing_sizes_inline() {
    large_answers_of_changing_sizes(0);
}

#[test]
fn large_answers_of_changing_sizes_with_workers() {
    large_answers_of_changing_sizes(2);
}

// FR-CANCEL-2: a running call sees the cancellation and still gets exactly one answer.
#[test]
fn fr_cancel_2_running_handler_sees_cancel() {
    let t = TestDir::new();
    let dir = t.service();
    let srv = Running::start(&dir, |b| b.workers(2));
    let mut c = RawClient::connect(&dir, 0x6666);
    c.handshake();
    c.send_request(5, "until_cancelled", b"");
    c.send_message(Message::Cancel { request: 5 });
    let (session, m) = c.recv().expect("one answer for the cancelled call");
    assert_eq!(session, 0x6666);
    let (code, _) = expect_error(m, 5);
    assert!(
        code == ErrorCode(1001) || code == ErrorCode::CANCELLED,
        "{code}"
    );
    // Nothing else for request 5: the next message answers request 6.
    let body = expect_response(c.call(6, "echo", &string_body("after")), 6);
    assert_eq!(body, string_body("after"));
    c.close();
    srv.stop();
}

// FR-EXIT-1, FR-BYE-2, FR-FIFO-19: `exit` is answered, then GOODBYE SHUTTING_DOWN, then end of
// stream; serve returns and the files are gone.
#[test]
fn fr_exit_1_exit_answers_then_goodbye_then_eof() {
    for workers in [0, 2] {
        let t = TestDir::new();
        let dir = t.service();
        let srv = Running::start(&dir, |b| b.workers(workers));
        let mut c = RawClient::connect(&dir, 0x7777);
        c.handshake();
        expect_response(c.call(1, "echo", &string_body("x")), 1);
        let body = expect_response(c.call(2, "exit", b""), 2);
        assert!(body.is_empty());
        match c.recv() {
            Some((0x7777, Message::Goodbye(g))) => {
                assert_eq!(GoodbyeCode(g.code), GoodbyeCode::SHUTTING_DOWN);
                assert_eq!(g.last_request, 2);
            }
            other => panic!("expected GOODBYE, got {other:?}"),
        }
        assert!(c.recv().is_none(), "end of stream after GOODBYE");
        let summary = srv.join().expect("serve ok");
        assert_eq!(summary.calls, 2);
        assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
        c.close();
    }
}

// FR-BYE-2: a shutdown while a client is connected sends GOODBYE SHUTTING_DOWN.
#[test]
fn fr_bye_2_shutdown_handle_with_a_client() {
    let t = TestDir::new();
    let dir = t.service();
    let srv = Running::start(&dir, |b| b.workers(1));
    let mut c = RawClient::connect(&dir, 0x8888);
    c.handshake();
    expect_response(c.call(1, "echo", &string_body("x")), 1);
    srv.handle.shutdown();
    match c.recv() {
        Some((_, Message::Goodbye(g))) => {
            assert_eq!(GoodbyeCode(g.code), GoodbyeCode::SHUTTING_DOWN)
        }
        other => panic!("expected GOODBYE, got {other:?}"),
    }
    assert!(c.recv().is_none());
    srv.join().expect("serve ok");
    assert!(entries(&dir).is_empty());
}

// FR-FIFO-13, FR-BYE-5: a client that never reads is dropped as a slow reader while the
// server keeps reading pipe.in; the next client is served.
#[test]
fn slow_reader_is_dropped() {
    let t = TestDir::new();
    let dir = t.service();
    let srv = Running::start(&dir, |b| {
        b.workers(0)
            .write_timeout(std::time::Duration::from_millis(300))
    });
    let mut c = RawClient::connect(&dir, 0x9999);
    c.handshake();
    // 24 answers of 60 000 octets: more than a 1 MiB pipe (the default size) holds.
    for r in 1..=24 {
        c.send_request(r, "big", &60_000u32.to_le_bytes());
    }
    srv.wait_log(|r| {
        matches!(
            r,
            ServerLog::SlowReader {
                session: 0x9999,
                ..
            }
        )
    });
    // What the client finds: answers, perhaps GOODBYE SLOW_READER, then end of stream.
    let mut answers = 0;
    while let Some((_, m)) = c.recv() {
        match m {
            Message::Response { .. } => answers += 1,
            Message::Goodbye(g) => assert_eq!(GoodbyeCode(g.code), GoodbyeCode::SLOW_READER),
            other => panic!("{other:?}"),
        }
    }
    assert!(answers < 24, "not every answer fit in the pipe");
    c.close();
    let mut c2 = RawClient::connect(&dir, 0xaaaa);
    c2.handshake();
    expect_response(c2.call(1, "echo", &string_body("ok")), 1);
    c2.close();
    let summary = srv.stop();
    assert_eq!(summary.slow_readers, 1);
}
