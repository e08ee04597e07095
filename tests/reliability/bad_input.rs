//! Bad input written live by a stranger process while a legitimate client is connected and
//! calling: every invalid vector of `spec/vectors/invalid.json`, frames crafted to call a
//! distinctive method (`forbidden`) if a check were missing, and random bytes; on `pipe.in`
//! (the server's input) and on `pipe.out` (the client's input, the stranger being a second
//! writer).

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fifo_rpc_client::Client;
use fifo_rpc_protocol::{encode_frame, encode_request, encode_response, frame_type, FrameHeader};
use nix::sys::signal::Signal;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

use crate::harness::{self, field, figure, reps, Proc, Spawn, Watchdog, WAIT};
use crate::roles::patient;
use crate::support::TestDir;

/// Records a stranger writes, one `write(2)` each (at most `PIPE_BUF` octets), and what they are.
#[derive(Default)]
struct Records {
    data: Vec<u8>,
    vectors: usize,
    crafted: usize,
    random: usize,
    octets: usize,
}

impl Records {
    fn push(&mut self, record: &[u8]) {
        for chunk in record.chunks(4096) {
            self.data
                .extend_from_slice(&(chunk.len() as u16).to_be_bytes());
            self.data.extend_from_slice(chunk);
            self.octets += chunk.len();
        }
    }

    /// Every case of spec/vectors/invalid.json, as written in its `hex`.
    fn vectors(&mut self) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("spec/vectors/invalid.json");
        let text = std::fs::read_to_string(path).expect("spec/vectors/invalid.json");
        for part in text.split("\"hex\":").skip(1) {
            let hex = part.split('"').nth(1).expect("a hex string");
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect();
            self.push(&bytes);
            self.vectors += 1;
        }
        assert!(self.vectors > 50, "the vectors were found");
    }

    /// `n` random records of 1 ..= 4096 octets, some with `F1 F0` (a frame start) inside.
    fn random(&mut self, rng: &mut StdRng, n: usize) {
        for _ in 0..n {
            let mut record = vec![0u8; rng.gen_range(1..=4096)];
            rng.fill_bytes(&mut record);
            for _ in 0..rng.gen_range(0..4) {
                let at = rng.gen_range(0..record.len());
                record[at] = 0xf1;
                if at + 1 < record.len() {
                    record[at + 1] = 0xf0;
                }
            }
            self.push(&record);
            self.random += 1;
        }
    }

    fn write(&self, dir: &Path, name: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, &self.data).expect("write the records");
        path
    }
}

/// Variants of a valid frame `good` that each break one receiver check (spec §5 steps 1-11 and
/// the request-id rule); none may be acted on (FR-DEC-6).
fn broken(good: &[u8], header: FrameHeader, payload: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut bad_crc = good.to_vec();
    *bad_crc.last_mut().expect("crc") ^= 0x55;
    out.push(bad_crc);
    let mut bad_magic = good.to_vec();
    bad_magic[1] = 0xf1;
    out.push(bad_magic);
    let mut in_payload = good.to_vec();
    let mid = in_payload.len() / 2;
    in_payload[mid] ^= 0x01;
    out.push(in_payload);
    // Cut in the middle: whatever follows completes it with a CRC-32 that matches with
    // probability 2^-32. (Cut by one octet, the next octet would complete a valid frame with
    // probability 1/256: a forgery, which the threat model leaves to the file permissions.)
    out.push(good[..good.len() / 2].to_vec());
    let frame = |h: FrameHeader, ext: &[u8], p: &[u8]| {
        let mut v = Vec::new();
        encode_frame(&h, ext, p, 4096, &mut v).expect("frame");
        v
    };
    out.push(frame(
        FrameHeader {
            version: 2,
            ..header
        },
        &[],
        payload,
    ));
    out.push(frame(
        FrameHeader {
            session: 0,
            ..header
        },
        &[],
        payload,
    ));
    out.push(frame(
        FrameHeader {
            request: 0,
            ..header
        },
        &[],
        payload,
    ));
    out.push(frame(
        FrameHeader {
            frame_type: 0x17,
            ..header
        },
        &[],
        payload,
    ));
    out.push(frame(header, &[0x05, 0x01, 0xaa], payload)); // unknown critical extension
    out.push(frame(header, &[0x85, 0x05, 0xaa], payload)); // runs past the extension area
    out
}

/// A REQUEST for `forbidden` in session `session`, and the frames that break it.
fn forbidden_requests(session: u32, request: u32) -> Vec<Vec<u8>> {
    let body = b"this call must never run";
    let mut good = Vec::new();
    encode_request(session, request, "forbidden", body, 4096, &mut good).expect("REQUEST");
    let mut payload = vec![9u8];
    payload.extend_from_slice(b"forbidden");
    payload.extend_from_slice(body);
    let header = FrameHeader::new(frame_type::REQUEST, session, request);
    let mut frames = broken(&good, header, &payload);
    // Valid, but of another session (FR-HS-4): discarded, never run.
    let mut foreign = Vec::new();
    encode_request(
        session ^ 0x8000_0001,
        request,
        "forbidden",
        body,
        4096,
        &mut foreign,
    )
    .expect("REQUEST");
    frames.push(foreign);
    frames
}

/// The legitimate client: `threads` threads call `bytes` with random bodies until `stop`, then
/// `after` more calls each; every answer is checked. Returns the number of calls.
/// Runs the legitimate callers while a stranger process writes the records of `data` into
/// `pipe` (one `write(2)` each); returns the calls made and the stranger's `WROTE` line.
fn stranger_during_calls(
    client: &Arc<Client>,
    dir: &Path,
    pipe: &str,
    data: &Path,
    seed: u64,
) -> (u64, String) {
    let stop = Arc::new(AtomicBool::new(false));
    let callers = {
        let (client, stop) = (Arc::clone(client), Arc::clone(&stop));
        std::thread::spawn(move || legit_calls(&client, seed, &stop, 20))
    };
    let mut stranger = Spawn::default()
        .arg("path", dir.join(pipe).display())
        .arg("data", data.display())
        .arg("pause_us", 300)
        .start("stranger", dir);
    let wrote = stranger.expect("WROTE", Duration::from_secs(120));
    stranger.expect_success(WAIT);
    stop.store(true, Ordering::Relaxed);
    let calls = callers.join().expect("legitimate callers");
    (calls, wrote)
}

fn legit_calls(client: &Arc<Client>, seed: u64, stop: &Arc<AtomicBool>, after: u64) -> u64 {
    let calls = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..3u64)
        .map(|t| {
            let (client, stop, calls) = (Arc::clone(client), Arc::clone(stop), Arc::clone(&calls));
            std::thread::spawn(move || {
                let mut rng = StdRng::seed_from_u64(seed ^ t);
                let mut extra = 0;
                while extra < after {
                    if stop.load(Ordering::Relaxed) {
                        extra += 1;
                    }
                    let mut body = vec![0u8; rng.gen_range(0..=20_000)];
                    rng.fill_bytes(&mut body);
                    let reply = client
                        .call_raw("bytes", &body)
                        .unwrap_or_else(|e| panic!("a legitimate call failed: {e}"));
                    assert!(reply == body, "a legitimate call got a wrong answer");
                    calls.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("legitimate caller");
    }
    calls.load(Ordering::Relaxed)
}

// FR-DEC-1..7, FR-DEC-6, FR-HS-4, FR-ERR-1, spec §8.6: a stranger writes every invalid vector,
// broken REQUESTs for `forbidden` carrying the live session's own Session ID, a valid one of a
// foreign session, and random bytes into pipe.in while the client calls. The server never runs
// `forbidden`, runs exactly the client's calls, reports framing errors, keeps the session (one
// session in all) and serves the client correctly throughout and afterwards.
#[test]
fn stranger_on_pipe_in_while_a_client_calls() {
    let _wd = Watchdog::new("stranger on pipe.in", Duration::from_secs(300));
    let mut rng = harness::rng("stranger on pipe.in");
    let t = TestDir::new();
    let dir = t.service();
    let mut server = Proc::start("server", &dir);
    server.expect("READY", WAIT);
    let client = Arc::new(patient().connect(&dir).expect("connect"));
    let session: u32 = server.expect("SESSION", WAIT).parse().expect("session id");
    let mut records = Records::default();
    let rounds = reps(2);
    for round in 0..rounds {
        records.vectors();
        for request in 1..=40 {
            for frame in forbidden_requests(session, 0x7000_0000 + request + round as u32 * 100) {
                records.push(&frame);
                records.crafted += 1;
            }
        }
        records.random(&mut rng, 300);
    }
    let data = records.write(t.tmp.path(), "records");
    let (calls, wrote) = stranger_during_calls(&client, &dir, "pipe.in", &data, rng.gen());
    assert!(client.is_connected(), "FR-ERR-1: the session was kept");
    let stats = String::from_utf8(client.call_raw("stats", &[]).expect("stats")).expect("text");
    assert_eq!(
        field(&stats, "forbidden"),
        0,
        "a broken frame was run as a call"
    );
    assert_eq!(
        field(&stats, "bytes"),
        calls,
        "calls run that the client did not make"
    );
    client.close();
    server.signal(Signal::SIGTERM).expect("SIGTERM");
    let summary = server.expect("SUMMARY", WAIT);
    server.expect_success(WAIT);
    assert_eq!(
        field(&summary, "sessions"),
        1,
        "one session throughout: {summary}"
    );
    let errors = field(&summary, "framing_errors");
    assert!(errors > 0, "framing errors are reported: {summary}");
    assert!(
        field(&summary, "discarded") > 0,
        "FR-HS-4: foreign frames discarded"
    );
    figure(format_args!(
        "bad input on pipe.in: {} invalid vectors + {} crafted `forbidden` frames + {} random \
         records ({} octets, {wrote}) while 3 threads made {calls} calls: 0 run as calls, \
         {errors} framing errors reported, {} frames discarded, 1 session kept, every call \
         answered correctly",
        records.vectors,
        records.crafted,
        records.random,
        records.octets,
        field(&summary, "discarded")
    ));
}

// FR-HS-5, FR-DEC-6, FR-CALL-5: a stranger writes (as a second writer) every invalid vector,
// broken RESPONSEs carrying the client's own Session ID and Request IDs it is using, valid
// RESPONSEs of a foreign session, and random bytes into pipe.out while the client's calls are in
// flight. The client never takes any of it for an answer: every call gets its own answer.
#[test]
fn stranger_on_pipe_out_while_calls_are_in_flight() {
    let _wd = Watchdog::new("stranger on pipe.out", Duration::from_secs(300));
    let mut rng = harness::rng("stranger on pipe.out");
    let t = TestDir::new();
    let dir = t.service();
    let mut server = Proc::start("server", &dir);
    server.expect("READY", WAIT);
    let client = Arc::new(patient().connect(&dir).expect("connect"));
    let session: u32 = server.expect("SESSION", WAIT).parse().expect("session id");
    let mut records = Records::default();
    for _ in 0..reps(2) {
        records.vectors();
        for request in 1..=150u32 {
            let body = b"FORGED ANSWER";
            let mut good = Vec::new();
            encode_response(session, request, body, 4096, &mut good).expect("RESPONSE");
            let header = FrameHeader::new(frame_type::RESPONSE, session, request);
            for frame in broken(&good, header, body) {
                records.push(&frame);
                records.crafted += 1;
            }
            let mut foreign = Vec::new();
            encode_response(session ^ 0x8000_0001, request, body, 4096, &mut foreign)
                .expect("RESPONSE");
            records.push(&foreign);
            records.crafted += 1;
        }
        records.random(&mut rng, 300);
    }
    // Zeros at the end complete any false candidate frame the stranger's bytes started, so that
    // it cannot hold the last answers back (FR-DEC-7 does not apply to pipe.out).
    for _ in 0..17 {
        records.push(&[0u8; 4096]);
    }
    let data = records.write(t.tmp.path(), "records");
    let (calls, wrote) = stranger_during_calls(&client, &dir, "pipe.out", &data, rng.gen());
    assert!(client.is_connected(), "the session was kept");
    let stats = String::from_utf8(client.call_raw("stats", &[]).expect("stats")).expect("text");
    assert_eq!(field(&stats, "bytes"), calls);
    client.close();
    server.signal(Signal::SIGTERM).expect("SIGTERM");
    server.expect("SUMMARY", WAIT);
    server.expect_success(WAIT);
    figure(format_args!(
        "bad input on pipe.out: {} invalid vectors + {} crafted RESPONSE frames + {} random \
         records ({} octets, {wrote}) while 3 threads made {calls} calls: no forged answer \
         taken, every call answered correctly, session kept",
        records.vectors, records.crafted, records.random, records.octets
    ));
}
