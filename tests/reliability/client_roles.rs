//! Child roles that act as clients, strangers or constrained hosts (see `roles.rs`).

use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fifo_rpc_client::{Client, ClientConfig, ClientError};
use fifo_rpc_fifo::{ClientLock, ReadOutcome, ServiceDir, PIPE_IN, PIPE_OUT};
use fifo_rpc_protocol::{
    encode_request, Event, Hello, Message, Receiver, ReceiverConfig, MIN_MAX_FRAME,
};
use fifo_rpc_server::Server;
use rand::{Rng, RngCore, SeedableRng};

use crate::harness::{big_reply, big_request};
use crate::roles::{kind, patient, usr1_count, Args};

pub fn run(role: &str, dir: &Path, args: &Args) {
    match role {
        "half-frame" => half_frame(dir, args),
        "caller" => caller(dir, args),
        "pending" => pending(dir, args),
        "stopped" => stopped(dir, args),
        "storm-client" => storm_client(dir, args),
        "nofile" => nofile(dir, args),
        "pipe-size" => pipe_size(dir, args),
        "stranger" => stranger(args),
        other => panic!("unknown role {other:?}"),
    }
}

fn say(line: impl std::fmt::Display) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "@@{line}");
    let _ = out.flush();
}

/// Waits to be killed (the test's SIGKILL is the point of the role).
fn linger() -> ! {
    loop {
        std::thread::park_timeout(Duration::from_secs(1));
    }
}

/// Role `half-frame`: a raw client that connects by hand (spec §9.4), gets WELCOME, then writes
/// `fragments` whole fragments of a REQUEST for `forbidden` and the first `cut` octets of the
/// next frame (a real client never splits a frame: every frame is one write), and waits to be
/// killed.
fn half_frame(dir: &Path, args: &Args) {
    let deadline = Some(Instant::now() + Duration::from_secs(20));
    let d = ServiceDir::open_existing(dir).expect("service directory");
    let _lock = loop {
        if let Some(lock) = ClientLock::try_acquire(&d).expect("client.lock") {
            break lock;
        }
        std::thread::sleep(Duration::from_millis(1)); // busy: retry, as a client does
    };
    let mut reader = d.open_reader(PIPE_OUT).expect("pipe.out");
    let writer = d
        .open_writer(PIPE_IN)
        .expect("pipe.in")
        .expect("the server reads pipe.in");
    let session = std::process::id() | 0x4000_0000;
    let hello = Hello {
        min_version: 1,
        max_version: 1,
        max_frame: 4096,
        max_message: 1 << 20,
        client_pid: std::process::id(),
        encoding: "raw".into(),
        options: vec![],
    };
    let mut out = Vec::new();
    Message::Hello(hello)
        .encode(session, MIN_MAX_FRAME, &mut out)
        .expect("HELLO");
    writer
        .write_frame_blocking(&out, deadline, None)
        .expect("write HELLO");
    let mut rx = Receiver::new(ReceiverConfig::default());
    let mut buf = vec![0u8; 65536];
    'welcome: loop {
        while let Some(event) = rx.poll_event() {
            if let Event::Message {
                session: s,
                message: Message::Welcome(_),
            } = event
            {
                if s == session {
                    break 'welcome;
                }
            }
        }
        match reader.read(&mut buf).expect("read pipe.out") {
            ReadOutcome::Data(n) => rx.push(&buf[..n]),
            _ => {
                reader
                    .wait_readable(deadline, None)
                    .expect("WELCOME in time");
            }
        }
    }
    // The REQUEST for `forbidden`, fragmented: `fragments` whole frames, then `cut` octets of
    // the next one.
    let fragments = args.num("fragments", 0) as usize;
    let body = vec![7u8; 4000 * (fragments + 1)];
    let mut wire = Vec::new();
    encode_request(session, 1, "forbidden", &body, 4096, &mut wire).expect("REQUEST");
    let mut frames = Vec::new();
    let mut at = 0;
    while at < wire.len() {
        let len = usize::from(u16::from_be_bytes([wire[at + 2], wire[at + 3]]));
        frames.push(&wire[at..at + len]);
        at += len;
    }
    for frame in &frames[..fragments] {
        writer
            .write_frame_blocking(frame, deadline, None)
            .expect("write a fragment");
    }
    let next = frames[fragments];
    let cut = (args.num("cut", 500) as usize).min(next.len() - 1);
    if cut > 0 {
        writer
            .write_frame_blocking(&next[..cut], deadline, None)
            .expect("write part of a frame");
    }
    say(format!(
        "HALF fragments={fragments} cut={cut} of {}",
        next.len()
    ));
    linger();
}

/// Role `caller`: connects, says `@@READY`, then calls `method` (`bytes`: echo of `size` random
/// octets; `big`: a reply of `size` octets) `n` times (0: until killed), checking every answer.
/// Says `@@DONE calls=N` or `@@ERROR kind message`.
fn caller(dir: &Path, args: &Args) {
    let client = patient().connect(dir).expect("connect");
    say("READY");
    let size = args.num("size", 1 << 20) as usize;
    let n = args.num("n", 0);
    let method = args.get("method").unwrap_or("bytes").to_owned();
    let mut rng = rand::rngs::StdRng::seed_from_u64(u64::from(std::process::id()));
    let mut done = 0u64;
    while n == 0 || done < n {
        let result = if method == "big" {
            let seed = rng.gen();
            client
                .call_raw("big", &big_request(size, seed))
                .map(|reply| (reply == big_reply(size, seed), reply.len()))
        } else {
            let mut body = vec![0u8; size];
            rng.fill_bytes(&mut body);
            client
                .call_raw(&method, &body)
                .map(|reply| (reply == body, reply.len()))
        };
        match result {
            Ok((true, _)) => done += 1,
            Ok((false, len)) => panic!("call {done}: a wrong answer of {len} octets"),
            Err(e) => {
                say(format!("ERROR {} {e}", kind(&e)));
                return;
            }
        }
    }
    say(format!("DONE calls={done}"));
}

/// Role `pending`: connects, starts `threads` calls of `sleep` (`ms` each) and `big` calls
/// (`size`) that stay outstanding, says `@@PENDING`, and waits to be killed.
fn pending(dir: &Path, args: &Args) {
    let client = Arc::new(patient().connect(dir).expect("connect"));
    let threads = args.num("threads", 4);
    let ms = args.num("ms", 10_000) as u32;
    let size = args.num("size", 1 << 20) as usize;
    let mut calls = Vec::new();
    for i in 0..threads {
        let call = if i % 2 == 0 {
            client.send_raw("sleep", &ms.to_le_bytes())
        } else {
            client.send_raw("big", &big_request(size, i as u8))
        };
        calls.push(call.expect("send"));
    }
    client.flush().expect("flush");
    say("PENDING");
    std::mem::forget(calls);
    linger();
}

/// Role `stopped`: sends `k` calls of `big` (`size` octets each), says `@@SENT`, and then (after
/// the test stopped and continued it) waits for every answer. `expect=ok`: all must be intact
/// (`@@OK`). `expect=dropped`: the server gave up on this slow reader; the calls must fail with
/// typed errors, and a reconnect must work (`@@DROPPED errors=... reconnect=ok`).
fn stopped(dir: &Path, args: &Args) {
    let client = patient().connect(dir).expect("connect");
    let k = args.num("k", 8) as u8;
    let size = args.num("size", 1 << 20) as usize;
    let mut calls = Vec::new();
    for seed in 0..k {
        calls.push((
            seed,
            client
                .send_raw("big", &big_request(size, seed))
                .expect("send"),
        ));
    }
    client.flush().expect("flush");
    say("SENT");
    let mut errors = Vec::new();
    let mut ok = 0;
    for (seed, call) in calls {
        match call.wait() {
            Ok(reply) => {
                assert!(reply == big_reply(size, seed), "a wrong answer for {seed}");
                ok += 1;
            }
            Err(e) => errors.push(kind(&e)),
        }
    }
    if args.get("expect") == Some("any") {
        errors.sort();
        errors.dedup();
        say(format!("END ok={ok} errors={}", errors.join("+")));
        return;
    }
    if args.get("expect") == Some("ok") {
        assert!(errors.is_empty(), "calls failed: {errors:?}");
        say("OK");
        return;
    }
    assert!(
        !errors.is_empty(),
        "the server never gave up on this slow reader"
    );
    client.reconnect().expect("reconnect after being dropped");
    let body = b"after being dropped".to_vec();
    assert_eq!(
        client
            .call_raw("bytes", &body)
            .expect("call after reconnect"),
        body
    );
    errors.sort();
    errors.dedup();
    say(format!("DROPPED errors={} reconnect=ok", errors.join("+")));
}

/// Role `storm-client`: connects (the server may not be there yet), then `threads` threads
/// make `calls` calls in all with bodies of 0 ..= `max` random octets, each answer checked.
/// Says `@@DONE calls=N usr1=N`.
fn storm_client(dir: &Path, args: &Args) {
    let client = Arc::new(patient().connect(dir).expect("connect during the storm"));
    let threads = args.num("threads", 4);
    let calls = args.num("calls", 200);
    let max = args.num("max", 256 << 10) as usize;
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let client = Arc::clone(&client);
            std::thread::spawn(move || {
                let mut rng = rand::rngs::StdRng::seed_from_u64(t);
                for i in 0..calls / threads {
                    let len = rng.gen_range(0..=max);
                    let mut body = vec![0u8; len];
                    rng.fill_bytes(&mut body);
                    let reply = client
                        .call_raw("bytes", &body)
                        .unwrap_or_else(|e| panic!("call {i} of thread {t} failed: {e}"));
                    assert!(reply == body, "call {i} of thread {t}: a wrong answer");
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("caller thread");
    }
    client.close();
    say(format!(
        "DONE calls={} usr1={}",
        calls / threads * threads,
        usr1_count()
    ));
}

/// Role `nofile`: fills every gap below the highest open descriptor, lowers `RLIMIT_NOFILE` so
/// that exactly `extra` more can be opened, then binds a server on `dir` and connects a client
/// to `client_dir` (a live server's). Says `@@BIND ok|err <message>` and
/// `@@CONNECT ok|err <message>`.
fn nofile(dir: &Path, args: &Args) {
    let highest = std::fs::read_dir("/proc/self/fd")
        .expect("fds")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .expect("some descriptor is open");
    // `dup` takes the lowest free number: once it returns one at or above the highest listed
    // (which may be read_dir's own, closed again), 0..=top are open and none above.
    let mut held = Vec::new();
    let top = loop {
        let fd = nix::unistd::dup(std::io::stdin()).expect("dup");
        let n = u64::try_from(fd.as_raw_fd()).expect("descriptor");
        held.push(fd);
        if n >= highest {
            break n;
        }
    };
    let limit = top + 1 + args.num("extra", 0);
    let rl = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // SAFETY: setrlimit with a valid rlimit value; affects this child only.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rl) }, 0);
    match Server::bind(dir).map(drop) {
        Ok(()) => say("BIND ok"),
        Err(e) => say(format!("BIND err {e}")),
    }
    if let Some(other) = args.get("client_dir") {
        let config = ClientConfig::default().connect_timeout(Duration::from_millis(500));
        match Client::connect(other, config) {
            Ok(client) => {
                let reply = client.call_raw("bytes", b"x");
                say(format!(
                    "CONNECT ok {}",
                    reply.map_or_else(|e| kind(&e), |_| "call".into())
                ));
            }
            Err(e) => say(format!("CONNECT err {} {e}", kind(&e))),
        }
    }
}

/// Role `pipe-size`: a server and a client in this process both ask for FIFOs of `bytes`
/// octets (above `/proc/sys/fs/pipe-max-size`, and this process lacks `CAP_SYS_RESOURCE`);
/// the refusal is logged and ignored, and calls work. Says `@@PIPE-SIZE refused=N calls=N`.
fn pipe_size(dir: &Path, args: &Args) {
    let bytes = args.num("bytes", 64 << 20) as usize;
    let refused = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = Arc::clone(&refused);
    let server = Server::builder(dir)
        .pipe_size(bytes)
        .on_log(move |record| {
            if let fifo_rpc_server::ServerLog::PipeSizeRefused { .. } = record {
                seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                eprintln!("server: {record}");
            }
        })
        .bind()
        .expect("bind with a refused pipe size");
    let stop = server.shutdown_handle();
    let serving = std::thread::spawn(move || {
        server.serve(
            fifo_rpc_server::Router::new().raw_into("bytes", |b, _c, out| {
                out.extend_from_slice(b);
                Ok(())
            }),
        )
    });
    let client = patient()
        .pipe_size(Some(bytes))
        .connect(dir)
        .expect("connect with a refused pipe size");
    let mut calls = 0;
    for len in [0usize, 1, 4095, 4096, 70_000, 1 << 20] {
        let body = vec![0x5a; len];
        assert_eq!(client.call_raw("bytes", &body).expect("call"), body);
        calls += 1;
    }
    drop(client);
    stop.shutdown();
    serving.join().expect("server thread").expect("serve");
    say(format!(
        "PIPE-SIZE refused={} calls={calls}",
        refused.load(std::sync::atomic::Ordering::Relaxed)
    ));
}

/// Role `stranger`: opens the FIFO `path` for writing (a second writer) and writes the records
/// of the file `data` (each `u16 BE length` + octets, at most `PIPE_BUF`), one `write(2)` each,
/// pausing up to `pause_us` between them. Says `@@WROTE records=N bytes=N`.
fn stranger(args: &Args) {
    let path = args.get("path").expect("path");
    let data = std::fs::read(args.get("data").expect("data")).expect("read the records");
    let pause = args.num("pause_us", 200);
    let fifo = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open the FIFO for writing");
    let fd = fifo.as_raw_fd();
    let mut rng = rand::rngs::StdRng::seed_from_u64(u64::from(std::process::id()));
    let (mut at, mut records, mut bytes) = (0usize, 0u64, 0u64);
    while at + 2 <= data.len() {
        let len = usize::from(u16::from_be_bytes([data[at], data[at + 1]]));
        let record = &data[at + 2..at + 2 + len];
        at += 2 + len;
        // SAFETY: write(2) of a slice we own to a descriptor we own; one call per record, so
        // each record of at most PIPE_BUF octets is atomic, as a stranger's `echo` would be.
        let n = unsafe { libc::write(fd, record.as_ptr().cast(), record.len()) };
        assert_eq!(n, record.len() as isize, "a short or failed write");
        records += 1;
        bytes += len as u64;
        if pause > 0 {
            std::thread::sleep(Duration::from_micros(rng.gen_range(0..=pause)));
        }
    }
    say(format!("WROTE records={records} bytes={bytes}"));
}

/// Why a [`ClientError`] is typed: the variants a dead or vanished server may produce.
pub fn is_gone(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::ServerGone | ClientError::Disconnected | ClientError::NotProcessed
    )
}
