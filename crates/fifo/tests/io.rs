//! Reading and writing FIFO ends: ENXIO, EOF and POLLHUP, full pipes, large batches, pipe
//! sizes (FR-FIFO-8, FR-FIFO-13, FR-FIFO-14, FR-FIFO-15, FR-FRAME-9, FR-FRAME-10).

mod common;

use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{served, watchdog_deadline, within, WATCHDOG};
use fifo_rpc_fifo::{
    wait, FifoError, FifoReader, FifoWriter, Interest, ReadOutcome, ServiceDir, WriteOutcome,
    PIPE_IN, PIPE_OUT,
};

/// Opens both ends of `pipe.out`, reader first (FR-FIFO-7).
fn pair(dir: &ServiceDir) -> (FifoReader, FifoWriter) {
    let reader = dir.open_reader(PIPE_OUT).unwrap();
    let writer = dir
        .open_writer(PIPE_OUT)
        .unwrap()
        .expect("a reader is open");
    (reader, writer)
}

/// Fills the pipe with frames of `frame` octets until `EAGAIN`; returns the octets written.
fn fill(writer: &FifoWriter, frame: usize) -> usize {
    let buf = vec![0xAB; frame];
    let mut total = 0;
    loop {
        match writer.write(&buf).unwrap() {
            WriteOutcome::Written(n) => {
                assert_eq!(n, frame, "a frame-sized write is whole");
                total += n;
            }
            WriteOutcome::WouldBlock => return total,
        }
    }
}

/// Reads until `want` octets arrived (waiting as needed), returning them.
fn read_exactly(reader: &mut FifoReader, want: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(want);
    let mut buf = vec![0u8; 65536];
    while out.len() < want {
        match reader.read(&mut buf).unwrap() {
            ReadOutcome::Data(n) => out.extend_from_slice(&buf[..n]),
            ReadOutcome::WouldBlock => {
                reader.wait_readable(watchdog_deadline(), None).unwrap();
            }
            ReadOutcome::Eof => panic!("writer gone after {} of {want} octets", out.len()),
        }
    }
    out
}

// FR-FIFO-8, FR-FIFO-7: a write-only open without a reader is ENXIO, reported as None; the
// read-only open never blocks.
#[test]
fn fr_fifo_8_open_writer_without_reader_is_none() {
    let (_tmp, dir, _lock) = served();
    assert!(dir.open_writer(PIPE_IN).unwrap().is_none());
    assert!(dir.open_writer(PIPE_OUT).unwrap().is_none());
    let reader = within(WATCHDOG, {
        let dir = dir.clone();
        move || dir.open_reader(PIPE_IN).unwrap()
    });
    assert!(dir.open_writer(PIPE_IN).unwrap().is_some());
    drop(reader);
    assert!(
        dir.open_writer(PIPE_IN).unwrap().is_none(),
        "reader gone again"
    );
}

// FR-FIFO-14: before any writer came, read returns 0 ("no writer at this moment") but poll
// reports no POLLHUP; with a writer present, an empty pipe is WouldBlock.
#[test]
fn fr_fifo_14_no_writer_yet_reads_eof_without_pollhup() {
    let (_tmp, dir, _lock) = served();
    let mut reader = dir.open_reader(PIPE_IN).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(reader.read(&mut buf).unwrap(), ReadOutcome::Eof);
    let events = wait(
        [(reader.as_fd(), Interest::Read)],
        None,
        Some(Instant::now() + Duration::from_millis(50)),
    )
    .unwrap();
    assert!(events.timed_out, "no POLLHUP before any writer: {events:?}");
    assert!(!events.ready[0].hangup);

    let writer = dir.open_writer(PIPE_IN).unwrap().unwrap();
    assert_eq!(reader.read(&mut buf).unwrap(), ReadOutcome::WouldBlock);
    assert_eq!(reader.read(&mut []).unwrap(), ReadOutcome::Data(0));
    drop(writer);
}

// FR-FIFO-15, FR-FIFO-16: after a writer came and left, POLLHUP is level-triggered (poll returns
// at once, every time); reopening the read end clears it, so poll sleeps until its deadline.
#[test]
fn fr_fifo_15_pollhup_is_cleared_by_reopen() {
    let (_tmp, dir, _lock) = served();
    let mut reader = dir.open_reader(PIPE_IN).unwrap();
    let writer = dir.open_writer(PIPE_IN).unwrap().unwrap();
    writer.write(b"bye").unwrap();
    drop(writer);

    let mut buf = [0u8; 16];
    let far = Some(Instant::now() + WATCHDOG);
    let events = wait([(reader.as_fd(), Interest::Read)], None, far).unwrap();
    assert!(events.ready[0].readable && events.ready[0].hangup);
    assert_eq!(reader.read(&mut buf).unwrap(), ReadOutcome::Data(3));
    assert_eq!(reader.read(&mut buf).unwrap(), ReadOutcome::Eof);

    // Level-triggered: each poll with a far deadline returns at once with POLLHUP.
    let start = Instant::now();
    for _ in 0..100 {
        let events = wait([(reader.as_fd(), Interest::Read)], None, far).unwrap();
        assert!(events.ready[0].hangup && !events.timed_out);
    }
    assert!(start.elapsed() < WATCHDOG);

    // After reopen: waiting until a 200 ms deadline takes exactly one wake-up, the timeout.
    reader.reopen().unwrap();
    let deadline = Instant::now() + Duration::from_millis(200);
    let mut wakeups = 0;
    while Instant::now() < deadline {
        let events = wait([(reader.as_fd(), Interest::Read)], None, Some(deadline)).unwrap();
        wakeups += 1;
        assert!(!events.ready[0].hangup, "POLLHUP cleared: {events:?}");
        assert!(events.timed_out);
    }
    assert_eq!(wakeups, 1, "no busy loop after reopen");

    // The reopened end works like the first: a new writer's data arrives.
    let writer = dir.open_writer(PIPE_IN).unwrap().unwrap();
    writer.write(b"again").unwrap();
    assert_eq!(read_exactly(&mut reader, 5), b"again");
}

// FR-FIFO-15: reopen opens the new end before closing the old one, so buffered octets survive.
#[test]
fn fr_fifo_15_reopen_keeps_buffered_data() {
    let (_tmp, dir, _lock) = served();
    let mut reader = dir.open_reader(PIPE_IN).unwrap();
    let writer = dir.open_writer(PIPE_IN).unwrap().unwrap();
    writer.write(b"unread").unwrap();
    drop(writer);
    reader.reopen().unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(reader.read(&mut buf).unwrap(), ReadOutcome::Data(6));
    assert_eq!(&buf[..6], b"unread");
}

// FR-FRAME-9, FR-FIFO-13: a full pipe gives WouldBlock with nothing written; a blocking frame
// write waits for POLLOUT and completes once the reader drains.
#[test]
fn fr_fifo_13_frame_write_waits_for_room() {
    let (_tmp, dir, _lock) = served();
    let (mut reader, writer) = pair(&dir);
    let pipe_buf = writer.pipe_buf();
    let filled = fill(&writer, pipe_buf);
    assert!(filled > 0);
    assert_eq!(writer.write(&[1u8]).unwrap(), WriteOutcome::WouldBlock);

    let writer = Arc::new(writer);
    let blocked = std::thread::spawn({
        let writer = Arc::clone(&writer);
        move || writer.write_frame_blocking(&vec![0xCD; pipe_buf], watchdog_deadline(), None)
    });
    let data = read_exactly(&mut reader, filled + pipe_buf);
    let result = within(WATCHDOG, move || blocked.join().unwrap());
    result.unwrap();
    assert!(data[..filled].iter().all(|&b| b == 0xAB));
    assert!(data[filled..].iter().all(|&b| b == 0xCD));
}

// FR-FRAME-10: a write larger than PIPE_BUF is refused by the frame writer (nothing written).
#[test]
fn fr_frame_10_frame_write_larger_than_pipe_buf_is_refused() {
    let (_tmp, dir, _lock) = served();
    let (mut reader, writer) = pair(&dir);
    let too_big = vec![0u8; writer.pipe_buf() + 1];
    match writer.write_frame_blocking(&too_big, watchdog_deadline(), None) {
        Err(FifoError::WriteTooLarge { len, pipe_buf, .. }) => {
            assert_eq!(len, too_big.len());
            assert_eq!(pipe_buf, writer.pipe_buf());
        }
        other => panic!("expected WriteTooLarge, got {other:?}"),
    }
    assert_eq!(reader.read(&mut [0u8; 8]).unwrap(), ReadOutcome::WouldBlock);
}

// FR-FRAME-10: the only writer may write a batch larger than the pipe; write_all continues
// after partial writes and the reader gets every octet in order.
#[test]
fn fr_frame_10_write_all_large_batch() {
    let (_tmp, dir, _lock) = served();
    let (mut reader, mut writer) = pair(&dir);
    let batch: Vec<u8> = (0..1_000_003u32).map(|i| (i % 251) as u8).collect();
    let len = batch.len();
    let drainer = std::thread::spawn(move || read_exactly(&mut reader, len));
    let batch_copy = batch.clone();
    within(WATCHDOG, move || {
        writer
            .write_all(&batch_copy, watchdog_deadline(), None)
            .unwrap()
    });
    let received = within(WATCHDOG, move || drainer.join().unwrap());
    assert_eq!(received, batch);
}

// A deadline on a full pipe ends the frame write with TimedOut; a read wait times out too.
#[test]
fn deadline_expiry_is_timed_out() {
    let (_tmp, dir, _lock) = served();
    let (reader, writer) = pair(&dir);
    let frame = vec![0u8; writer.pipe_buf()];
    let start = Instant::now();
    let limit = Duration::from_millis(100);
    let err = loop {
        // Fill, then time out on the first frame that does not fit.
        match writer.write_frame_blocking(&frame, Some(start + limit), None) {
            Ok(()) => continue,
            Err(e) => break e,
        }
    };
    match err {
        FifoError::TimedOut { op, path, after } => {
            assert_eq!(op, "write");
            assert_eq!(path, writer.path());
            assert!(after <= start.elapsed());
        }
        other => panic!("expected TimedOut, got {other:?}"),
    }
    assert!(start.elapsed() >= limit);
    assert!(start.elapsed() < WATCHDOG);

    // A read wait on pipe.in, which has a writer but no data, times out too.
    drop((reader, writer));
    let reader_in = dir.open_reader(PIPE_IN).unwrap();
    let _writer_in = dir.open_writer(PIPE_IN).unwrap().unwrap();
    let begin = Instant::now();
    match reader_in.wait_readable(Some(begin + Duration::from_millis(50)), None) {
        Err(FifoError::TimedOut { op: "read", .. }) => {}
        other => panic!("expected TimedOut, got {other:?}"),
    }
    assert!(begin.elapsed() >= Duration::from_millis(50));
}

// FR-FIFO-18: a writer waiting on a full pipe learns that the reader went away (POLLERR, then
// EPIPE), instead of waiting for its deadline.
#[test]
fn fr_fifo_18_waiting_writer_sees_reader_leave() {
    let (_tmp, dir, _lock) = served();
    let (reader, writer) = pair(&dir);
    fill(&writer, writer.pipe_buf());
    let blocked = std::thread::spawn(move || {
        let frame = vec![0u8; writer.pipe_buf()];
        writer.write_frame_blocking(&frame, watchdog_deadline(), None)
    });
    drop(reader);
    let result = within(WATCHDOG, move || blocked.join().unwrap());
    assert!(
        matches!(result, Err(FifoError::PeerGone { .. })),
        "{result:?}"
    );
}

// spec §4.1: PIPE_BUF comes from fpathconf; 4096 on Linux.
#[test]
fn pipe_buf_is_reported() {
    let (_tmp, dir, _lock) = served();
    let (reader, writer) = pair(&dir);
    assert!(writer.pipe_buf() >= 512);
    assert_eq!(reader.pipe_buf(), writer.pipe_buf());
    #[cfg(target_os = "linux")]
    assert_eq!(writer.pipe_buf(), 4096);
}

// F_SETPIPE_SZ: granted sizes are powers of two pages; shrinking below the buffered octets is
// refused with a typed error (EBUSY).
#[cfg(target_os = "linux")]
#[test]
fn pipe_size_set_and_refused() {
    let (_tmp, dir, _lock) = served();
    let (reader, writer) = pair(&dir);
    assert_eq!(writer.set_pipe_size(1000).unwrap(), 4096);
    assert_eq!(reader.pipe_size().unwrap(), 4096);
    assert_eq!(writer.set_pipe_size(70_000).unwrap(), 131_072);
    let frame = vec![0u8; 4096];
    writer.write(&frame).unwrap();
    writer.write(&frame).unwrap();
    match writer.set_pipe_size(4096) {
        Err(FifoError::PipeSizeRefused {
            requested, source, ..
        }) => {
            assert_eq!(requested, 4096);
            assert_eq!(source.raw_os_error(), Some(libc::EBUSY));
        }
        other => panic!("expected PipeSizeRefused, got {other:?}"),
    }
    assert_eq!(
        writer.pipe_size().unwrap(),
        131_072,
        "unchanged after refusal"
    );
}
