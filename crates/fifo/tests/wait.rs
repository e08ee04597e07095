//! Waiting: the waker, deadlines, and signals without `SA_RESTART` (FR-FIFO-11, FR-FIFO-12,
//! FR-FIFO-16).

mod common;

use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use common::{served, watchdog_deadline, within, WATCHDOG};
use fifo_rpc_fifo::{wait, FifoError, Interest, Waker, WriteOutcome, PIPE_IN};
use nix::sys::pthread::{pthread_kill, pthread_self};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

// FR-FIFO-11: a wait with no deadline on an idle FIFO is ended from another thread by the waker.
#[test]
fn fr_fifo_11_waker_interrupts_wait_without_deadline() {
    let (_tmp, dir, _lock) = served();
    let reader = dir.open_reader(PIPE_IN).unwrap();
    let _writer = dir.open_writer(PIPE_IN).unwrap().unwrap(); // no EOF, no POLLHUP: truly idle
    let waker = Arc::new(Waker::new().unwrap());
    let (started_tx, started_rx) = mpsc::channel();
    let waiter = std::thread::spawn({
        let waker = Arc::clone(&waker);
        move || {
            started_tx.send(()).unwrap();
            wait([(reader.as_fd(), Interest::Read)], Some(&waker), None)
        }
    });
    started_rx.recv_timeout(WATCHDOG).unwrap();
    waker.wake().unwrap();
    let events = within(WATCHDOG, move || waiter.join().unwrap()).unwrap();
    assert!(events.woken);
    assert!(!events.timed_out);
    assert!(!events.ready[0].any(), "the FIFO itself was idle");

    // Level-triggered until reset; after reset the waker no longer ends waits.
    let again = wait([], Some(&waker), watchdog_deadline()).unwrap();
    assert!(again.woken);
    assert!(waker.reset().unwrap());
    assert!(!waker.reset().unwrap());
    let quiet = wait(
        [],
        Some(&waker),
        Some(Instant::now() + Duration::from_millis(20)),
    )
    .unwrap();
    assert!(quiet.timed_out && !quiet.woken);
}

// FR-FIFO-11: a frame write waiting on a full pipe is stopped by the waker with Woken.
#[test]
fn fr_fifo_11_waker_stops_a_blocked_write() {
    let (_tmp, dir, _lock) = served();
    let _reader = dir.open_reader(PIPE_IN).unwrap();
    let writer = dir.open_writer(PIPE_IN).unwrap().unwrap();
    let frame = vec![0u8; writer.pipe_buf()];
    while writer.write(&frame).unwrap() != WriteOutcome::WouldBlock {}
    let waker = Arc::new(Waker::new().unwrap());
    let blocked = std::thread::spawn({
        let waker = Arc::clone(&waker);
        move || writer.write_frame_blocking(&frame, None, Some(&waker))
    });
    waker.wake().unwrap();
    let result = within(WATCHDOG, move || blocked.join().unwrap());
    assert!(
        matches!(result, Err(FifoError::Woken { op: "write", .. })),
        "{result:?}"
    );
}

// FR-FIFO-11: deadlines end waits; a passed deadline still reports what is ready.
#[test]
fn fr_fifo_11_deadlines() {
    let start = Instant::now();
    let events = wait([], None, Some(start + Duration::from_millis(30))).unwrap();
    assert!(events.timed_out);
    assert!(start.elapsed() >= Duration::from_millis(30), "never early");

    let (_tmp, dir, _lock) = served();
    let reader = dir.open_reader(PIPE_IN).unwrap();
    let writer = dir.open_writer(PIPE_IN).unwrap().unwrap();
    writer.write(b"x").unwrap();
    let past = Some(Instant::now() - Duration::from_millis(1));
    let events = wait(
        [
            (reader.as_fd(), Interest::Read),
            (writer.as_fd(), Interest::Write),
        ],
        None,
        past,
    )
    .unwrap();
    assert!(!events.timed_out);
    assert!(events.ready[0].readable);
    assert!(events.ready[1].writable);
}

static SIGUSR1_COUNT: AtomicUsize = AtomicUsize::new(0);
/// The two signal tests share the handler and its counter, so they take turns.
static STORM: std::sync::Mutex<()> = std::sync::Mutex::new(());

extern "C" fn count_sigusr1(_: libc::c_int) {
    SIGUSR1_COUNT.fetch_add(1, Ordering::SeqCst);
}

/// Installs a SIGUSR1 handler without SA_RESTART, so a blocked `poll` fails with EINTR.
fn install_sigusr1_without_restart() {
    let action = SigAction::new(
        SigHandler::Handler(count_sigusr1),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler only does an atomic add, which is async-signal-safe.
    unsafe { sigaction(Signal::SIGUSR1, &action) }.unwrap();
}

/// Runs `wait_fn` on a thread while this thread sends it SIGUSR1 over and over (each next one
/// after the previous was handled), until `wait_fn` returns. `midway` runs once, after
/// `signals_before_midway` signals were handled. Returns the result and the number of signals.
fn under_signal_storm<T: Send + 'static>(
    wait_fn: impl FnOnce() -> T + Send + 'static,
    signals_before_midway: usize,
    midway: impl FnOnce(),
) -> (T, usize) {
    let _turn = STORM.lock().unwrap_or_else(|e| e.into_inner());
    install_sigusr1_without_restart();
    let done = Arc::new(AtomicBool::new(false));
    let (tid_tx, tid_rx) = mpsc::channel();
    let (result_tx, result_rx) = mpsc::channel();
    let (exit_tx, exit_rx) = mpsc::channel::<()>();
    let waiter = std::thread::spawn({
        let done = Arc::clone(&done);
        move || {
            tid_tx.send(pthread_self()).unwrap();
            let result = wait_fn();
            done.store(true, Ordering::SeqCst);
            result_tx.send(result).ok();
            // Stay alive until no more signals can be sent to this thread.
            let _ = exit_rx.recv();
        }
    });
    let tid = tid_rx.recv_timeout(WATCHDOG).unwrap();
    let give_up = Instant::now() + WATCHDOG;
    let mut sent = 0;
    let mut midway = Some(midway);
    while !done.load(Ordering::SeqCst) && Instant::now() < give_up {
        let seen = SIGUSR1_COUNT.load(Ordering::SeqCst);
        pthread_kill(tid, Signal::SIGUSR1).unwrap();
        sent += 1;
        while SIGUSR1_COUNT.load(Ordering::SeqCst) == seen && Instant::now() < give_up {
            std::hint::spin_loop();
        }
        if sent == signals_before_midway {
            if let Some(f) = midway.take() {
                f();
            }
        }
    }
    drop(exit_tx);
    let result = result_rx.recv_timeout(WATCHDOG).unwrap();
    waiter.join().unwrap();
    (result, sent)
}

// FR-FIFO-12: signals without SA_RESTART during a wait with a deadline do not fail it, do not
// end it early, and do not extend it: the time left is recomputed after each EINTR.
#[test]
fn fr_fifo_12_eintr_during_wait_with_deadline() {
    let (_tmp, dir, _lock) = served();
    let reader = dir.open_reader(PIPE_IN).unwrap();
    let _writer = dir.open_writer(PIPE_IN).unwrap().unwrap();
    let limit = Duration::from_millis(300);
    let ((result, elapsed), signals) = under_signal_storm(
        move || {
            let start = Instant::now();
            let result = wait(
                [(reader.as_fd(), Interest::Read)],
                None,
                Some(start + limit),
            );
            (result, start.elapsed())
        },
        usize::MAX,
        || {},
    );
    let events = result.unwrap();
    assert!(events.timed_out, "{events:?}");
    assert!(elapsed >= limit, "not ended early: {elapsed:?}");
    assert!(elapsed < limit * 10, "not extended by signals: {elapsed:?}");
    assert!(signals >= 2, "signals arrived during the wait: {signals}");
}

// FR-FIFO-12: signals without SA_RESTART during a wait with no deadline do not fail it; data
// that arrives afterwards ends it normally.
#[test]
fn fr_fifo_12_eintr_during_wait_without_deadline() {
    let (_tmp, dir, _lock) = served();
    let reader = dir.open_reader(PIPE_IN).unwrap();
    let writer = dir.open_writer(PIPE_IN).unwrap().unwrap();
    let (result, signals) = under_signal_storm(
        move || wait([(reader.as_fd(), Interest::Read)], None, None),
        20,
        || {
            writer.write(b"data").unwrap();
        },
    );
    let events = result.unwrap();
    assert!(events.ready[0].readable, "{events:?}");
    assert!(signals >= 20);
}
