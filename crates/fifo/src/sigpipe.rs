//! Keeping `SIGPIPE` from killing the process, whatever its disposition (FR-FIFO-17).
//!
//! A write to a FIFO without a reader sends `SIGPIPE` to the writing thread; with the default
//! disposition that kills the process, and the write returns `EPIPE` only if the signal is
//! blocked or ignored. A library cannot assume its host ignores it, and must not change the
//! process-wide disposition. So, around each write, [`SigpipeBlock`] blocks `SIGPIPE` in the
//! calling thread; if the write failed with `EPIPE` and no `SIGPIPE` was pending before, it
//! consumes the one the write raised (`sigtimedwait` with a zero timeout); then it restores the
//! thread's mask. This is libpq's `pq_block_sigpipe`/`pq_reset_sigpipe`.

use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};

use crate::error::{os_err, Result};

/// `SIGPIPE` blocked in the calling thread until drop.
///
/// Not `Send`: the mask is per thread, so it must be restored on the thread that changed it.
pub(crate) struct SigpipeBlock {
    /// The thread's mask before, to restore; `None` if `SIGPIPE` was already blocked, so the
    /// mask was not changed.
    old_mask: Option<SigSet>,
    /// A `SIGPIPE` was pending before the write: not ours to consume.
    pending_before: bool,
    /// The write failed with `EPIPE`, so it raised a `SIGPIPE`.
    got_epipe: bool,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl SigpipeBlock {
    /// Blocks `SIGPIPE` in the calling thread.
    ///
    /// ## System calls
    /// `pthread_sigmask(SIG_BLOCK, {SIGPIPE})`; `sigpending` only if `SIGPIPE` was blocked
    /// already.
    pub(crate) fn new() -> Result<SigpipeBlock> {
        let sigpipe = SigSet::from(Signal::SIGPIPE);
        let old = sigpipe
            .thread_swap_mask(SigmaskHow::SIG_BLOCK)
            .map_err(|e| os_err("pthread_sigmask", e))?;
        let (old_mask, pending_before) = if old.contains(Signal::SIGPIPE) {
            (None, sigpipe_pending()?)
        } else {
            // Not blocked until now: a pending SIGPIPE would already have been delivered.
            (Some(old), false)
        };
        Ok(SigpipeBlock {
            old_mask,
            pending_before,
            got_epipe: false,
            _not_send: std::marker::PhantomData,
        })
    }

    /// Records that the write failed with `EPIPE`.
    pub(crate) fn got_epipe(&mut self) {
        self.got_epipe = true;
    }
}

impl Drop for SigpipeBlock {
    /// Consumes the `SIGPIPE` the write raised (if any and if it was not pending before), then
    /// restores the mask.
    ///
    /// ## System calls
    /// `sigtimedwait({SIGPIPE}, zero timeout)` after `EPIPE`; `pthread_sigmask(SIG_SETMASK)`
    /// if the mask was changed. Failures are ignored: neither can fail with valid arguments.
    fn drop(&mut self) {
        if self.got_epipe && !self.pending_before {
            consume_sigpipe();
        }
        if let Some(old) = self.old_mask {
            let _ = old.thread_set_mask();
        }
    }
}

/// Whether `SIGPIPE` is pending for the calling thread or the process.
fn sigpipe_pending() -> Result<bool> {
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigpending(2) writes a complete `sigset_t` into the pointer it gets, which points
    // to a live, properly aligned local.
    let rc = unsafe { libc::sigpending(set.as_mut_ptr()) };
    Errno::result(rc).map_err(|e| os_err("sigpending", e))?;
    // SAFETY: sigpending succeeded, so `set` is initialised.
    let set = unsafe { set.assume_init() };
    // SAFETY: `set` is an initialised `sigset_t` and SIGPIPE a valid signal number.
    let member = unsafe { libc::sigismember(&set, libc::SIGPIPE) };
    Ok(member == 1)
}

/// Accepts one pending `SIGPIPE` without waiting; does nothing if none is pending.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn consume_sigpipe() {
    let sigpipe = SigSet::from(Signal::SIGPIPE);
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    loop {
        // SAFETY: both pointers refer to live locals for the duration of the call; the
        // `siginfo_t` output is optional and passed as null.
        let rc = unsafe { libc::sigtimedwait(sigpipe.as_ref(), std::ptr::null_mut(), &zero) };
        if rc == -1 && Errno::last() == Errno::EINTR {
            continue;
        }
        // A signal number (consumed) or EAGAIN (none was pending): done either way.
        return;
    }
}

/// Accepts one pending `SIGPIPE`; does nothing if none is pending (no `sigtimedwait` here, so
/// `sigwait` is called only once `sigpending` shows the signal, and cannot block).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn consume_sigpipe() {
    if let Ok(true) = sigpipe_pending() {
        let _ = SigSet::from(Signal::SIGPIPE).wait();
    }
}
