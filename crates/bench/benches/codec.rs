//! Codec micro-benchmarks (`cargo bench -p fifo-rpc-bench --bench codec`): the CPU cost of the
//! protocol crate's hot path without any I/O.
//!
//! - `encode_request_64b`: one 64-byte REQUEST into a reused buffer;
//! - `receive_request_64b`: push one encoded 64-byte REQUEST into a [`Receiver`] and take the event;
//! - `fragment_1mib` / `reassemble_1mib`: a 1 MiB REQUEST into 4096-byte frames, and those frames
//!   (pushed 64 KiB at a time, as a reader would) back through a long-lived [`Receiver`] into one
//!   message; `reassemble_1mib_fresh_receiver` does the same with a new [`Receiver`] each time.

use criterion::{black_box, criterion_main, BatchSize, Criterion, Throughput};
use fifo_rpc_protocol::{encode_request, Event, Message, Receiver, ReceiverConfig};

const SESSION: u32 = 0x5EED;
const MAX_FRAME: usize = 4096;
const METHOD: &str = "echo";

fn encoded_request(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_request(SESSION, 1, METHOD, body, MAX_FRAME, &mut out).expect("encode a request");
    out
}

fn expect_request(event: Option<Event>) -> usize {
    match event {
        Some(Event::Message {
            message: Message::Request { call, .. },
            ..
        }) => call.body().len(),
        other => panic!("expected a request, got {other:?}"),
    }
}

fn small(c: &mut Criterion) {
    let body = [0x42u8; 64];
    let mut g = c.benchmark_group("codec_64b");
    g.throughput(Throughput::Elements(1));
    let mut out = Vec::with_capacity(MAX_FRAME);
    let mut request = 0u32;
    g.bench_function("encode_request_64b", |b| {
        b.iter(|| {
            out.clear();
            request = request.wrapping_add(1).max(1);
            encode_request(
                SESSION,
                request,
                METHOD,
                black_box(&body),
                MAX_FRAME,
                &mut out,
            )
            .expect("encode");
            black_box(out.len())
        })
    });
    let frame = encoded_request(&body);
    let mut rx = Receiver::new(ReceiverConfig::default());
    g.bench_function("receive_request_64b", |b| {
        b.iter(|| {
            rx.push(black_box(&frame));
            black_box(expect_request(rx.poll_event()))
        })
    });
    g.finish();
}

fn large(c: &mut Criterion) {
    let body = vec![0x17u8; 1 << 20];
    let mut g = c.benchmark_group("codec_1mib");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.sample_size(30);
    let mut out = Vec::with_capacity(body.len() + body.len() / 64);
    g.bench_function("fragment_1mib", |b| {
        b.iter(|| {
            out.clear();
            let frames = encode_request(SESSION, 7, METHOD, black_box(&body), MAX_FRAME, &mut out)
                .expect("encode");
            black_box(frames)
        })
    });
    let frames = encoded_request(&body);
    let mut rx = Receiver::new(ReceiverConfig::default());
    g.bench_function("reassemble_1mib", |b| {
        b.iter(|| {
            for chunk in frames.chunks(64 * 1024) {
                rx.push(chunk);
            }
            black_box(expect_request(rx.poll_event()))
        })
    });
    g.bench_function("reassemble_1mib_fresh_receiver", |b| {
        b.iter_batched_ref(
            || Receiver::new(ReceiverConfig::default()),
            |rx| {
                for chunk in frames.chunks(64 * 1024) {
                    rx.push(chunk);
                }
                black_box(expect_request(rx.poll_event()))
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

// The macro defines an undocumented public function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::small, super::large);
}
criterion_main!(group::benches);
