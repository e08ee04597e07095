//! Keeping `SIGPIPE` from killing the process, whatever its disposition (FR-FIFO-17).
//!
//! A write to a FIFO without a reader sends `SIGPIPE` to the writing thread; with the default
//! disposition that kills the process, and the write returns `EPIPE` only if the signal is
//! blocked or ignored. A library cannot assume its host ignores it, and must not change the
//! process-wide disposition. So, around each write, [`SigpipeBlock`] blocks `SIGPIPE` in the
//! calling thread; if the write failed with `EPIPE` and no `SIGPIPE` was pending before, it
//! consumes the one the write raised (`sigtimedwait` with a zero timeout); then it restores the
//! thread's mask. This is libpq's `pq_block_sigpipe`/`pq_reset_sigpipe`.
//!
//! That costs two `pthread_sigmask` calls per write. A thread that writes often (a server's I/O
//! thread, a benchmark's client thread) can hold a [`SigpipeGuard`] instead: `SIGPIPE` then stays
//! blocked for the guard's lifetime, writes skip the masking, and a write that fails with `EPIPE`
//! consumes the signal it raised at once.

use std::cell::Cell;

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

thread_local! {
    /// How many [`SigpipeGuard`]s the thread holds, and whether a `SIGPIPE` was pending when the
    /// outermost one was created (that one is not ours to consume).
    static GUARD: Cell<(u32, bool)> = const { Cell::new((0, false)) };
}

/// Keeps `SIGPIPE` blocked in the calling thread while it lives, so that
/// [`FifoWriter::write`](crate::FifoWriter::write) on this thread skips its own per-write
/// masking (two `pthread_sigmask` calls). Guards nest; the thread's mask is restored when the
/// outermost one is dropped.
///
/// Not `Send`: the signal mask belongs to a thread.
///
/// ## System calls
/// `pthread_sigmask` when the outermost guard is created and dropped (and `sigpending` if
/// `SIGPIPE` was already blocked); nothing for nested guards.
///
/// # Errors
/// [`FifoError::Os`](crate::FifoError::Os) if the mask cannot be changed.
///
/// # Examples
/// ```
/// use fifo_rpc_fifo::{FifoError, ServerLock, ServiceDir, SigpipeGuard, PIPE_OUT};
/// let tmp = tempfile::tempdir()?;
/// let dir = ServiceDir::create_or_verify(tmp.path())?;
/// let lock = ServerLock::acquire(&dir)?;
/// lock.reclaim_and_create()?;
/// let reader = dir.open_reader(PIPE_OUT)?;
/// let writer = dir.open_writer(PIPE_OUT)?.expect("a reader is open");
/// let _guard = SigpipeGuard::new()?; // for this thread's hot loop
/// drop(reader);
/// assert!(matches!(writer.write(b"frame"), Err(FifoError::PeerGone { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SigpipeGuard {
    /// The outermost guard's block, which restores the mask on drop; `None` when nested.
    block: Option<SigpipeBlock>,
}

impl SigpipeGuard {
    /// Blocks `SIGPIPE` in the calling thread until the guard (and every guard nested in it) is
    /// dropped.
    pub fn new() -> Result<SigpipeGuard> {
        let (depth, pending_before) = GUARD.get();
        if depth > 0 {
            GUARD.set((depth + 1, pending_before));
            return Ok(SigpipeGuard { block: None });
        }
        let block = SigpipeBlock::new()?;
        GUARD.set((1, block.pending_before));
        Ok(SigpipeGuard { block: Some(block) })
    }
}

impl Drop for SigpipeGuard {
    fn drop(&mut self) {
        let (depth, pending_before) = GUARD.get();
        GUARD.set((depth.saturating_sub(1), pending_before));
        // The outermost guard's block restores the mask as it drops (after this body).
        let _ = self.block.take();
    }
}

/// How one write keeps `SIGPIPE` from killing the process: under a [`SigpipeGuard`] of the
/// thread, or with a [`SigpipeBlock`] of its own.
pub(crate) enum WriteShield {
    /// The thread holds a guard: nothing to do until `EPIPE`.
    Guarded {
        /// A `SIGPIPE` was pending when the guard was created.
        pending_before: bool,
    },
    /// No guard: block for this one write.
    Own(SigpipeBlock),
}

impl WriteShield {
    /// Prepares one write.
    pub(crate) fn new() -> Result<WriteShield> {
        match GUARD.get() {
            (0, _) => SigpipeBlock::new().map(WriteShield::Own),
            (_, pending_before) => Ok(WriteShield::Guarded { pending_before }),
        }
    }

    /// The write failed with `EPIPE`, which raised a `SIGPIPE`: consume it (now under a guard,
    /// when the block is dropped otherwise).
    pub(crate) fn got_epipe(&mut self) {
        match self {
            WriteShield::Guarded { pending_before } => {
                if !*pending_before {
                    consume_sigpipe();
                }
            }
            WriteShield::Own(block) => block.got_epipe(),
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
