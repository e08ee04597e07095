//! [`Waker`]: a descriptor that any thread can make readable to end the waits of
//! [`wait`](crate::wait) that include it, for example to shut an endpoint down.
//!
//! On Linux it is an `eventfd`; elsewhere a self-pipe. Both are `O_CLOEXEC | O_NONBLOCK`.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;

use crate::error::{os_err, Result};

/// A wake-up source for [`wait`](crate::wait).
///
/// Waking is level-triggered: once [`wake`](Self::wake) has been called, every wait that
/// includes this waker returns at once (in every thread) until [`reset`](Self::reset) is
/// called. Share it between threads with `Arc<Waker>`.
#[derive(Debug)]
pub struct Waker {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fd: OwnedFd,
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    read: OwnedFd,
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    write: OwnedFd,
}

impl Waker {
    /// Creates a waker that is not woken.
    ///
    /// ## System calls
    /// Linux: `eventfd(0, EFD_CLOEXEC|EFD_NONBLOCK)`. Elsewhere: `pipe`, then `fcntl` with
    /// `F_SETFD FD_CLOEXEC` and `F_SETFL O_NONBLOCK` on both ends.
    ///
    /// # Errors
    /// [`FifoError::Os`](crate::FifoError::Os) if the descriptor cannot be created (`EMFILE`).
    ///
    /// # Examples
    /// ```
    /// use std::time::{Duration, Instant};
    /// let waker = fifo_rpc_fifo::Waker::new()?;
    /// waker.wake()?;
    /// let deadline = Some(Instant::now() + Duration::from_secs(10));
    /// let events = fifo_rpc_fifo::wait([], Some(&waker), deadline)?;
    /// assert!(events.woken);
    /// assert!(waker.reset()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn new() -> Result<Waker> {
        use std::os::fd::FromRawFd;
        // SAFETY: eventfd(2) takes no pointers; on success it returns a new descriptor that
        // nothing else owns, so handing it to `OwnedFd` is sound.
        let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        let raw = Errno::result(raw).map_err(|e| os_err("eventfd", e))?;
        // SAFETY: `raw` is a fresh, valid descriptor owned by no one else (see above).
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        Ok(Waker { fd })
    }

    /// Creates a waker that is not woken.
    ///
    /// ## System calls
    /// `pipe`, then `fcntl` with `F_SETFD FD_CLOEXEC` and `F_SETFL O_NONBLOCK` on both ends.
    ///
    /// # Errors
    /// [`FifoError::Os`](crate::FifoError::Os) if the pipe cannot be created (`EMFILE`).
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub fn new() -> Result<Waker> {
        use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
        let (read, write) = nix::unistd::pipe().map_err(|e| os_err("pipe", e))?;
        for fd in [&read, &write] {
            fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map_err(|e| os_err("fcntl", e))?;
            fcntl(fd, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map_err(|e| os_err("fcntl", e))?;
        }
        Ok(Waker { read, write })
    }

    /// Wakes every current and future wait that includes this waker, until
    /// [`reset`](Self::reset). Waking a woken waker is harmless.
    ///
    /// It allocates nothing and makes one `write(2)`, so it may be called from a signal handler.
    ///
    /// ## System calls
    /// One `write` of 8 octets to the eventfd (or 1 octet to the self-pipe); `EAGAIN` (already
    /// woken to the limit) counts as success.
    ///
    /// # Errors
    /// [`FifoError::Os`](crate::FifoError::Os) if the write fails otherwise (it does not on a
    /// valid descriptor).
    pub fn wake(&self) -> Result<()> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let (fd, token) = (&self.fd, &1u64.to_ne_bytes()[..]);
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let (fd, token) = (&self.write, &[1u8][..]);
        loop {
            match nix::unistd::write(fd, token) {
                Ok(_) | Err(Errno::EAGAIN) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(errno) => return Err(os_err("write", errno)),
            }
        }
    }

    /// Clears the woken state; returns whether the waker was woken.
    ///
    /// ## System calls
    /// `read` from the eventfd once (or from the self-pipe until `EAGAIN`).
    ///
    /// # Errors
    /// [`FifoError::Os`](crate::FifoError::Os) if the read fails with another error than
    /// `EAGAIN`.
    pub fn reset(&self) -> Result<bool> {
        let mut was_woken = false;
        let mut buf = [0u8; 8];
        loop {
            match nix::unistd::read(self.poll_fd(), &mut buf) {
                Ok(0) => return Ok(was_woken),
                Ok(_) => was_woken = true,
                Err(Errno::EAGAIN) => return Ok(was_woken),
                Err(Errno::EINTR) => continue,
                Err(errno) => return Err(os_err("read", errno)),
            }
        }
    }

    /// The descriptor that polls readable while woken.
    pub(crate) fn poll_fd(&self) -> BorrowedFd<'_> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        return self.fd.as_fd();
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        return self.read.as_fd();
    }
}
