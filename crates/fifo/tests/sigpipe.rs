//! A write to a FIFO whose reader is gone never kills the process, even with `SIGPIPE` at
//! `SIG_DFL` (FR-FIFO-17), and reports the typed `PeerGone` (FR-FIFO-18). Rust test binaries
//! ignore `SIGPIPE` from the start, so each case runs in a child process that resets it.

mod common;

use std::os::unix::process::ExitStatusExt;

use common::{child_command, output_text, role, run_child, served, watchdog_deadline};
use fifo_rpc_fifo::{FifoError, SigpipeGuard, PIPE_OUT};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};

/// Puts `SIGPIPE` back to its default action (terminate), as a C host may leave it.
fn sigpipe_default() {
    // SAFETY: signal(2) with SIG_DFL installs no handler code; this child runs only this test.
    let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    assert_ne!(previous, libc::SIG_ERR);
    // SAFETY: as above; setting it again returns the disposition now in force.
    let now = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    assert_eq!(now, libc::SIG_DFL);
}

fn sigpipe_pending() -> bool {
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigpending writes a full sigset_t to a live local.
    assert_eq!(unsafe { libc::sigpending(set.as_mut_ptr()) }, 0);
    // SAFETY: initialised by the successful sigpending above.
    let set = unsafe { set.assume_init() };
    // SAFETY: valid set and signal number.
    unsafe { libc::sigismember(&set, libc::SIGPIPE) == 1 }
}

fn sigpipe_blocked() -> bool {
    SigSet::thread_get_mask().unwrap().contains(Signal::SIGPIPE)
}

/// Child: with SIGPIPE at SIG_DFL, writes to a FIFO whose reader closed, in every mask state.
fn epipe_child() {
    sigpipe_default();
    let (_tmp, dir, _lock) = served();
    let reader = dir.open_reader(PIPE_OUT).unwrap();
    let writer = dir.open_writer(PIPE_OUT).unwrap().unwrap();
    writer.write(b"ok").unwrap();
    drop(reader);

    // 1. SIGPIPE not blocked by the thread: typed error, mask restored, nothing left pending.
    let err = writer.write(b"frame").unwrap_err();
    assert!(
        matches!(&err, FifoError::PeerGone { path } if path == writer.path()),
        "{err:?}"
    );
    println!("typed error: {err}");
    assert!(!sigpipe_blocked(), "mask restored");
    assert!(
        !sigpipe_pending(),
        "the SIGPIPE the write raised was consumed"
    );
    let err = writer
        .write_frame_blocking(b"frame", watchdog_deadline(), None)
        .unwrap_err();
    assert!(matches!(err, FifoError::PeerGone { .. }), "{err:?}");

    // 2. From another thread: the signal is thread-directed, the mask per thread.
    std::thread::scope(|s| {
        s.spawn(|| {
            let err = writer.write(b"frame").unwrap_err();
            assert!(matches!(err, FifoError::PeerGone { .. }), "{err:?}");
            assert!(!sigpipe_pending());
        })
        .join()
        .unwrap();
    });

    // 3. The thread already blocks SIGPIPE: it stays blocked, ours is consumed.
    let sigpipe = SigSet::from(Signal::SIGPIPE);
    let before = sigpipe.thread_swap_mask(SigmaskHow::SIG_BLOCK).unwrap();
    assert!(matches!(
        writer.write(b"frame"),
        Err(FifoError::PeerGone { .. })
    ));
    assert!(sigpipe_blocked(), "still blocked as the caller had it");
    assert!(!sigpipe_pending());

    // 4. A SIGPIPE was already pending (the caller's own): it is not consumed by the write.
    nix::sys::pthread::pthread_kill(nix::sys::pthread::pthread_self(), Signal::SIGPIPE).unwrap();
    assert!(sigpipe_pending());
    assert!(matches!(
        writer.write(b"frame"),
        Err(FifoError::PeerGone { .. })
    ));
    assert!(
        sigpipe_pending(),
        "the caller's pending SIGPIPE is left alone"
    );
    assert_eq!(sigpipe.wait().unwrap(), Signal::SIGPIPE);
    assert!(!sigpipe_pending());
    before.thread_set_mask().unwrap();

    println!("child survived");
}

// FR-FIFO-17, FR-FIFO-18: EPIPE becomes PeerGone and the process survives with SIGPIPE at
// SIG_DFL.
#[test]
fn fr_fifo_17_epipe_is_peer_gone_and_process_survives_sig_dfl() {
    if role().as_deref() == Some("epipe") {
        epipe_child();
        return;
    }
    let output = run_child(child_command(
        "fr_fifo_17_epipe_is_peer_gone_and_process_survives_sig_dfl",
        "epipe",
    ));
    let text = output_text(&output);
    assert_eq!(output.status.signal(), None, "killed by a signal: {text}");
    assert!(output.status.success(), "{text}");
    assert!(text.contains("typed error: the reader of"), "{text}");
    assert!(text.contains("pipe.out"), "{text}");
    assert!(text.contains("child survived"), "{text}");
}

// Control for the test above: in the same setting, a plain write(2) does kill the process, so
// the survival above is the library's doing.
#[test]
fn fr_fifo_17_control_plain_write_is_killed_by_sigpipe() {
    if role().as_deref() == Some("plain") {
        sigpipe_default();
        let (_tmp, dir, _lock) = served();
        let reader = dir.open_reader(PIPE_OUT).unwrap();
        let writer = dir.open_writer(PIPE_OUT).unwrap().unwrap();
        drop(reader);
        use std::os::fd::{AsFd, AsRawFd};
        // SAFETY: a valid descriptor and a live 1-octet buffer.
        let rc = unsafe { libc::write(writer.as_fd().as_raw_fd(), b"x".as_ptr().cast(), 1) };
        println!("plain write returned {rc}: not killed");
        return;
    }
    let output = run_child(child_command(
        "fr_fifo_17_control_plain_write_is_killed_by_sigpipe",
        "plain",
    ));
    assert_eq!(
        output.status.signal(),
        Some(libc::SIGPIPE),
        "{}",
        output_text(&output)
    );
}

/// Child: with SIGPIPE at SIG_DFL, writes under a thread-wide `SigpipeGuard`.
fn guarded_child() {
    sigpipe_default();
    let (_tmp, dir, _lock) = served();
    let reader = dir.open_reader(PIPE_OUT).unwrap();
    let writer = dir.open_writer(PIPE_OUT).unwrap().unwrap();
    assert!(!sigpipe_blocked());
    {
        let _outer = SigpipeGuard::new().unwrap();
        assert!(sigpipe_blocked(), "blocked while the guard lives");
        {
            let _nested = SigpipeGuard::new().unwrap();
            writer.write(b"ok").unwrap();
        }
        assert!(sigpipe_blocked(), "a nested guard does not unblock");
        drop(reader);
        for _ in 0..3 {
            let err = writer.write(b"frame").unwrap_err();
            assert!(matches!(err, FifoError::PeerGone { .. }), "{err:?}");
            assert!(!sigpipe_pending(), "consumed at once under the guard");
        }
        println!("guarded writes: typed errors");
    }
    assert!(!sigpipe_blocked(), "mask restored by the outermost guard");
    assert!(!sigpipe_pending());
    // Without a guard the per-write path still works.
    assert!(matches!(
        writer.write(b"frame"),
        Err(FifoError::PeerGone { .. })
    ));
    println!("child survived");
}

// FR-FIFO-17: a thread holding a SigpipeGuard writes without per-write masking, still gets
// PeerGone, never dies, and gets its mask back when the guard is dropped.
#[test]
fn fr_fifo_17_sigpipe_guard_blocks_for_its_lifetime_and_consumes_each_signal() {
    if role().as_deref() == Some("guarded") {
        guarded_child();
        return;
    }
    let output = run_child(child_command(
        "fr_fifo_17_sigpipe_guard_blocks_for_its_lifetime_and_consumes_each_signal",
        "guarded",
    ));
    let text = output_text(&output);
    assert_eq!(output.status.signal(), None, "killed by a signal: {text}");
    assert!(output.status.success(), "{text}");
    assert!(text.contains("guarded writes: typed errors"), "{text}");
    assert!(text.contains("child survived"), "{text}");
}
