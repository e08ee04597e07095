//! [`wait`]: `poll(2)` on up to two FIFO ends plus a [`Waker`], with a deadline (FR-FIFO-11,
//! FR-FIFO-12, FR-FIFO-16).

use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Instant;

use nix::errno::Errno;

use crate::error::{os_err, Result};
use crate::wake::Waker;

/// The most descriptors [`wait`] takes besides the waker.
pub const MAX_WAIT_FDS: usize = 2;

/// What to wait for on one descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interest {
    /// Readable (`POLLIN`): data buffered, or the writers are gone.
    Read,
    /// Writable (`POLLOUT`): a write of up to `PIPE_BUF` octets fits (on Linux).
    Write,
}

/// What `poll` reported for one descriptor.
///
/// `hangup` and `error` are reported whatever was asked for. On a FIFO read end `hangup` means
/// that every writer has gone after at least one came; it stays raised until a writer opens
/// again (FR-FIFO-15: reopen the read end, see
/// [`FifoReader::reopen`](crate::FifoReader::reopen)). On a write end `error` means the reader
/// has gone; the next write fails with `EPIPE`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Readiness {
    /// `POLLIN`.
    pub readable: bool,
    /// `POLLOUT`.
    pub writable: bool,
    /// `POLLHUP`.
    pub hangup: bool,
    /// `POLLERR` or `POLLNVAL`.
    pub error: bool,
}

impl Readiness {
    /// Whether anything at all was reported.
    pub fn any(&self) -> bool {
        self.readable || self.writable || self.hangup || self.error
    }

    fn from_revents(revents: libc::c_short) -> Readiness {
        Readiness {
            readable: revents & libc::POLLIN != 0,
            writable: revents & libc::POLLOUT != 0,
            hangup: revents & libc::POLLHUP != 0,
            error: revents & (libc::POLLERR | libc::POLLNVAL) != 0,
        }
    }
}

/// The result of one [`wait`]: which descriptors are ready, whether the waker fired, whether
/// the deadline passed. Several may be true at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Events<const N: usize> {
    /// Readiness of each descriptor, in the order given.
    pub ready: [Readiness; N],
    /// The waker was woken.
    pub woken: bool,
    /// The deadline passed with nothing ready and no wake-up.
    pub timed_out: bool,
}

/// Waits until one of `fds` is ready as asked, `waker` is woken, or `deadline` passes.
///
/// `N` is at most [`MAX_WAIT_FDS`] (checked at compile time); `N = 0` gives a sleep that a
/// waker can end. With no deadline the wait is unbounded, which FR-FIFO-16 asks for while idle.
/// A passed deadline still polls once without waiting, so readiness is reported if present.
///
/// A signal that interrupts `poll` (`EINTR`) does not end the wait: it is repeated with the time
/// left until the deadline (FR-FIFO-12). The timeout is rounded up to whole milliseconds, so
/// the wait never ends before the deadline.
///
/// ## System calls
/// `poll` (again after `EINTR`, or if it returned early), `clock_gettime(CLOCK_MONOTONIC)` via
/// [`Instant::now`] when a deadline is given.
///
/// # Errors
/// [`FifoError::Os`](crate::FifoError::Os) if `poll` fails with another error than `EINTR`
/// (`ENOMEM`).
///
/// # Examples
/// ```
/// use std::time::{Duration, Instant};
/// use fifo_rpc_fifo::{wait, Interest, ServerLock, ServiceDir, PIPE_IN};
/// let tmp = tempfile::tempdir()?;
/// let dir = ServiceDir::create_or_verify(tmp.path())?;
/// let lock = ServerLock::acquire(&dir)?;
/// lock.reclaim_and_create()?;
/// let reader = dir.open_reader(PIPE_IN)?;
/// let writer = dir.open_writer(PIPE_IN)?.expect("a reader is open");
/// writer.write(b"hi")?;
/// let deadline = Some(Instant::now() + Duration::from_secs(10));
/// let events = wait([(reader.as_fd(), Interest::Read)], None, deadline)?;
/// assert!(events.ready[0].readable);
/// # use std::os::fd::AsFd;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn wait<const N: usize>(
    fds: [(BorrowedFd<'_>, Interest); N],
    waker: Option<&Waker>,
    deadline: Option<Instant>,
) -> Result<Events<N>> {
    const {
        assert!(
            N <= MAX_WAIT_FDS,
            "wait takes at most MAX_WAIT_FDS descriptors"
        )
    };
    let unused = libc::pollfd {
        fd: -1,
        events: 0,
        revents: 0,
    };
    let mut pollfds = [unused; MAX_WAIT_FDS + 1];
    for (slot, (fd, interest)) in pollfds.iter_mut().zip(fds.iter()) {
        slot.fd = fd.as_raw_fd();
        slot.events = match interest {
            Interest::Read => libc::POLLIN,
            Interest::Write => libc::POLLOUT,
        };
    }
    let mut count = N;
    if let Some(waker) = waker {
        pollfds[count].fd = waker.poll_fd().as_raw_fd();
        pollfds[count].events = libc::POLLIN;
        count += 1;
    }
    loop {
        let timeout = timeout_ms(deadline);
        // SAFETY: `pollfds[..count]` are initialised `pollfd` structs in a live local array;
        // the kernel writes only their `revents` fields. Every descriptor in them is borrowed
        // (`BorrowedFd` or `&Waker`) for the whole call, so none is closed meanwhile.
        let rc = unsafe { libc::poll(pollfds.as_mut_ptr(), count as libc::nfds_t, timeout) };
        match Errno::result(rc) {
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(os_err("poll", errno)),
            Ok(0) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(Events {
                        ready: [Readiness::default(); N],
                        woken: false,
                        timed_out: true,
                    });
                }
                // Woke before the deadline with nothing ready: wait for the rest.
            }
            Ok(_) => {
                let mut ready = [Readiness::default(); N];
                for (r, p) in ready.iter_mut().zip(pollfds.iter()) {
                    *r = Readiness::from_revents(p.revents);
                }
                let woken = waker.is_some() && pollfds[N].revents != 0;
                return Ok(Events {
                    ready,
                    woken,
                    timed_out: false,
                });
            }
        }
    }
}

/// Milliseconds until `deadline`, rounded up and capped at `i32::MAX`; `-1` for no deadline.
fn timeout_ms(deadline: Option<Instant>) -> libc::c_int {
    let Some(deadline) = deadline else {
        return -1;
    };
    let left = deadline.saturating_duration_since(Instant::now());
    let ms = left.as_nanos().div_ceil(1_000_000);
    libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
}
