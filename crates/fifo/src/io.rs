//! [`FifoReader`] and [`FifoWriter`]: the two non-blocking ends of a FIFO.
//!
//! Reads and writes never block; waits are separate and explicit ([`wait`](crate::wait),
//! [`FifoReader::wait_readable`], [`FifoWriter::write_frame_blocking`]), with a deadline and a
//! [`Waker`].

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Instant;

use nix::errno::Errno;
use nix::fcntl::OFlag;

use crate::dir::ServiceDir;
use crate::error::{io_err, FifoError, Result};
use crate::open::open_fifo;
use crate::poll::{wait, Interest, Readiness};
use crate::sigpipe::WriteShield;
use crate::wake::Waker;

/// The result of one [`FifoReader::read`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    /// This many octets were read (at least 1, unless the buffer was empty).
    Data(usize),
    /// A writer exists but nothing is buffered (`EAGAIN`): wait for readability.
    WouldBlock,
    /// `read` returned 0: no writer has the FIFO open at this moment. Before a session is
    /// established that includes "no writer has come yet"; once it is established it means the
    /// peer is gone (FR-FIFO-14).
    Eof,
}

/// The result of one [`FifoWriter::write`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// This many octets were written. For a write of at most `PIPE_BUF` octets it is all of
    /// them; a larger write may be partial.
    Written(usize),
    /// The pipe is full (`EAGAIN`); nothing was written. Wait for writability and write the
    /// same octets again (FR-FIFO-13).
    WouldBlock,
}

/// The read end of a FIFO, opened `O_RDONLY | O_NONBLOCK` by
/// [`ServiceDir::open_reader`].
#[derive(Debug)]
pub struct FifoReader {
    fd: OwnedFd,
    dir: ServiceDir,
    name: Box<str>,
    path: PathBuf,
    pipe_buf: usize,
}

/// The write end of a FIFO, opened `O_WRONLY | O_NONBLOCK` by
/// [`ServiceDir::open_writer`].
///
/// [`write`](Self::write) and [`write_frame_blocking`](Self::write_frame_blocking) take `&self`:
/// writes of at most `PIPE_BUF` octets are atomic, so threads may share a writer.
/// [`write_all`](Self::write_all) takes `&mut self`, because its partial writes must not
/// interleave with other writes.
#[derive(Debug)]
pub struct FifoWriter {
    fd: OwnedFd,
    path: PathBuf,
    pipe_buf: usize,
}

impl FifoReader {
    pub(crate) fn new(fd: OwnedFd, dir: ServiceDir, name: &str) -> Result<FifoReader> {
        let path = dir.join(name);
        let pipe_buf = pipe_buf_of(fd.as_fd(), &path)?;
        Ok(FifoReader {
            fd,
            dir,
            name: name.into(),
            path,
            pipe_buf,
        })
    }

    /// Reads what is buffered, without blocking. `EINTR` is retried.
    ///
    /// An empty `buf` returns `Data(0)` without a system call.
    ///
    /// ## System calls
    /// `read` (again after `EINTR`).
    ///
    /// # Errors
    /// [`FifoError::Io`] if `read` fails with another error than `EINTR` or `EAGAIN`.
    ///
    /// # Examples
    /// ```
    /// use fifo_rpc_fifo::{ReadOutcome, ServerLock, ServiceDir, PIPE_IN};
    /// let tmp = tempfile::tempdir()?;
    /// let dir = ServiceDir::create_or_verify(tmp.path())?;
    /// let lock = ServerLock::acquire(&dir)?;
    /// lock.reclaim_and_create()?;
    /// let mut reader = dir.open_reader(PIPE_IN)?;
    /// let writer = dir.open_writer(PIPE_IN)?.expect("a reader is open");
    /// let mut buf = [0u8; 16];
    /// assert_eq!(reader.read(&mut buf)?, ReadOutcome::WouldBlock);
    /// writer.write(b"abc")?;
    /// assert_eq!(reader.read(&mut buf)?, ReadOutcome::Data(3));
    /// drop(writer);
    /// assert_eq!(reader.read(&mut buf)?, ReadOutcome::Eof);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read(&mut self, buf: &mut [u8]) -> Result<ReadOutcome> {
        if buf.is_empty() {
            return Ok(ReadOutcome::Data(0));
        }
        loop {
            match nix::unistd::read(&self.fd, buf) {
                Ok(0) => return Ok(ReadOutcome::Eof),
                Ok(n) => return Ok(ReadOutcome::Data(n)),
                Err(Errno::EAGAIN) => return Ok(ReadOutcome::WouldBlock),
                Err(Errno::EINTR) => continue,
                Err(errno) => return Err(io_err("read", &self.path, errno)),
            }
        }
    }

    /// Replaces the descriptor by a fresh read end of the same name, verified like the first.
    ///
    /// After every writer has gone, `POLLHUP` stays raised on the old descriptor and `poll`
    /// returns at once for ever; a fresh read end opened while no writer exists does not report
    /// it until a writer has come and gone again. A server that sees `POLLHUP` on `pipe.in`
    /// calls this (FR-FIFO-15).
    ///
    /// The new end is opened before the old one is closed, so the pipe never has zero open
    /// descriptors in between and octets still buffered in it are not lost.
    ///
    /// ## System calls
    /// `openat(D, name, O_RDONLY|O_NONBLOCK|O_NOFOLLOW|O_CLOEXEC)`, `fstat`,
    /// `fpathconf(_PC_PIPE_BUF)`, then `close` of the old descriptor.
    ///
    /// # Errors
    /// As [`ServiceDir::open_reader`]; on error the old descriptor is kept.
    pub fn reopen(&mut self) -> Result<()> {
        let fresh = open_fifo(&self.dir, &self.name, OFlag::O_RDONLY)?
            .ok_or_else(|| io_err("openat", &self.path, Errno::ENXIO))?;
        self.pipe_buf = pipe_buf_of(fresh.as_fd(), &self.path)?;
        self.fd = fresh;
        Ok(())
    }

    /// Waits until the FIFO is readable or hung up, `waker` is woken, or `deadline` passes.
    ///
    /// ## System calls
    /// As [`wait`](crate::wait).
    ///
    /// # Errors
    /// [`FifoError::TimedOut`] at the deadline, [`FifoError::Woken`] if the waker fired,
    /// [`FifoError::Os`] if `poll` fails.
    pub fn wait_readable(
        &self,
        deadline: Option<Instant>,
        waker: Option<&Waker>,
    ) -> Result<Readiness> {
        let start = Instant::now();
        let events = wait([(self.fd.as_fd(), Interest::Read)], waker, deadline)?;
        if events.woken {
            return Err(FifoError::Woken {
                op: "read",
                path: self.path.clone(),
            });
        }
        if events.timed_out {
            return Err(FifoError::TimedOut {
                op: "read",
                path: self.path.clone(),
                after: start.elapsed(),
            });
        }
        Ok(events.ready[0])
    }

    /// The path of the FIFO, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `PIPE_BUF` of this FIFO: the largest write the kernel performs atomically, as
    /// `fpathconf(_PC_PIPE_BUF)` reported when the end was opened (`usize::MAX` if it reported
    /// no limit).
    pub fn pipe_buf(&self) -> usize {
        self.pipe_buf
    }

    /// The capacity of the pipe in octets (Linux).
    ///
    /// ## System calls
    /// `fcntl(F_GETPIPE_SZ)`.
    ///
    /// # Errors
    /// [`FifoError::Io`] if `fcntl` fails.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn pipe_size(&self) -> Result<usize> {
        pipe_size_of(self.fd.as_fd(), &self.path)
    }

    /// Asks the kernel for a pipe capacity of at least `bytes` octets and returns the capacity
    /// granted (rounded up to a power-of-two number of pages). Linux only. The setting lives as
    /// long as some descriptor of the FIFO is open.
    ///
    /// ## System calls
    /// `fcntl(F_SETPIPE_SZ, bytes)`.
    ///
    /// # Errors
    /// [`FifoError::PipeSizeRefused`] for `EPERM` (more than `fs.pipe-max-size` without
    /// `CAP_SYS_RESOURCE`, or the user's pipe quota reached) and `EBUSY` (smaller than the
    /// octets buffered); [`FifoError::Io`] otherwise.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn set_pipe_size(&self, bytes: usize) -> Result<usize> {
        set_pipe_size_of(self.fd.as_fd(), &self.path, bytes)
    }
}

impl FifoWriter {
    pub(crate) fn new(fd: OwnedFd, path: PathBuf) -> Result<FifoWriter> {
        let pipe_buf = pipe_buf_of(fd.as_fd(), &path)?;
        Ok(FifoWriter { fd, path, pipe_buf })
    }

    /// Makes exactly one `write(2)` of `buf`, without blocking, and never lets `SIGPIPE` kill
    /// the process (FR-FIFO-17).
    ///
    /// `SIGPIPE` is blocked in the calling thread for the duration of the call; if the write
    /// raised one (`EPIPE`) and none was pending before, it is consumed; then the thread's
    /// signal mask is restored. The process-wide disposition is never changed. `EINTR` is
    /// retried (a write of at most `PIPE_BUF` octets interrupted by a signal wrote nothing,
    /// FR-FIFO-12). An empty `buf` returns `Written(0)` without a system call.
    ///
    /// ## System calls
    /// `pthread_sigmask(SIG_BLOCK, {SIGPIPE})`, `write` (again after `EINTR`), after `EPIPE`
    /// `sigtimedwait({SIGPIPE}, 0)`, then `pthread_sigmask(SIG_SETMASK)` to restore the mask.
    /// If the thread already blocks `SIGPIPE`: `sigpending` instead of the restore.
    ///
    /// # Errors
    /// [`FifoError::PeerGone`] on `EPIPE`: the reader is gone (FR-FIFO-18);
    /// [`FifoError::Io`] for other write errors; [`FifoError::Os`] if the signal mask cannot be
    /// changed.
    ///
    /// # Examples
    /// ```
    /// use fifo_rpc_fifo::{FifoError, ServerLock, ServiceDir, WriteOutcome, PIPE_OUT};
    /// let tmp = tempfile::tempdir()?;
    /// let dir = ServiceDir::create_or_verify(tmp.path())?;
    /// let lock = ServerLock::acquire(&dir)?;
    /// lock.reclaim_and_create()?;
    /// let reader = dir.open_reader(PIPE_OUT)?;
    /// let writer = dir.open_writer(PIPE_OUT)?.expect("a reader is open");
    /// assert_eq!(writer.write(b"frame")?, WriteOutcome::Written(5));
    /// drop(reader);
    /// assert!(matches!(writer.write(b"frame"), Err(FifoError::PeerGone { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write(&self, buf: &[u8]) -> Result<WriteOutcome> {
        if buf.is_empty() {
            return Ok(WriteOutcome::Written(0));
        }
        let mut shield = WriteShield::new()?;
        loop {
            match nix::unistd::write(&self.fd, buf) {
                Ok(n) => return Ok(WriteOutcome::Written(n)),
                Err(Errno::EAGAIN) => return Ok(WriteOutcome::WouldBlock),
                Err(Errno::EINTR) => continue,
                Err(Errno::EPIPE) => {
                    shield.got_epipe();
                    return Err(FifoError::PeerGone {
                        path: self.path.clone(),
                    });
                }
                Err(errno) => return Err(io_err("write", &self.path, errno)),
            }
        }
    }

    /// Writes `buf` (one or more whole frames, at most `PIPE_BUF` octets) with one atomic
    /// write, waiting for `POLLOUT` while the pipe is full (FR-FRAME-9, FR-FIFO-13).
    ///
    /// Each attempt writes all of `buf` or nothing, so waiting and writing again is safe even if
    /// other processes write to the same FIFO. The caller must keep reading its own input FIFO
    /// meanwhile (on another thread), or two full pipes deadlock (FR-FIFO-13). The waker only
    /// interrupts waits: a write that can proceed at once proceeds even if the waker is woken.
    ///
    /// ## System calls
    /// As [`write`](Self::write), and [`wait`](crate::wait) for `POLLOUT` after `EAGAIN`.
    ///
    /// # Errors
    /// [`FifoError::WriteTooLarge`] if `buf` exceeds `PIPE_BUF` (nothing is written);
    /// [`FifoError::TimedOut`] at the deadline; [`FifoError::Woken`] if the waker fired
    /// during a wait; [`FifoError::PeerGone`]; [`FifoError::ShortWrite`] if the kernel wrote
    /// part of it (FR-FRAME-11); [`FifoError::Io`], [`FifoError::Os`].
    ///
    /// # Examples
    /// ```
    /// use std::time::{Duration, Instant};
    /// use fifo_rpc_fifo::{ReadOutcome, ServerLock, ServiceDir, PIPE_IN};
    /// let tmp = tempfile::tempdir()?;
    /// let dir = ServiceDir::create_or_verify(tmp.path())?;
    /// let lock = ServerLock::acquire(&dir)?;
    /// lock.reclaim_and_create()?;
    /// let mut reader = dir.open_reader(PIPE_IN)?;
    /// let writer = dir.open_writer(PIPE_IN)?.expect("a reader is open");
    /// let deadline = Some(Instant::now() + Duration::from_secs(10));
    /// writer.write_frame_blocking(b"one frame", deadline, None)?;
    /// assert_eq!(reader.read(&mut [0u8; 64])?, ReadOutcome::Data(9));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_frame_blocking(
        &self,
        buf: &[u8],
        deadline: Option<Instant>,
        waker: Option<&Waker>,
    ) -> Result<()> {
        if buf.len() > self.pipe_buf {
            return Err(FifoError::WriteTooLarge {
                path: self.path.clone(),
                len: buf.len(),
                pipe_buf: self.pipe_buf,
            });
        }
        let start = Instant::now();
        loop {
            match self.write(buf)? {
                WriteOutcome::Written(n) if n == buf.len() => return Ok(()),
                WriteOutcome::Written(written) => {
                    return Err(FifoError::ShortWrite {
                        path: self.path.clone(),
                        written,
                        len: buf.len(),
                    })
                }
                WriteOutcome::WouldBlock => self.wait_writable(start, deadline, waker)?,
            }
        }
    }

    /// Writes all of `buf`, of any length, continuing after partial writes and waiting for
    /// `POLLOUT` while the pipe is full.
    ///
    /// Only for a FIFO that has no other writer (the server on `pipe.out`, FR-FRAME-10): a
    /// write larger than `PIPE_BUF` may be split by the kernel, and the pieces of two writers
    /// could interleave. `buf` must hold whole frames. If it fails after a partial write, the
    /// stream holds a partial frame; the reader reports it as truncated.
    ///
    /// ## System calls
    /// As [`write`](Self::write) per piece, and [`wait`](crate::wait) for `POLLOUT` after
    /// `EAGAIN`.
    ///
    /// # Errors
    /// [`FifoError::TimedOut`], [`FifoError::Woken`], [`FifoError::PeerGone`],
    /// [`FifoError::Io`], [`FifoError::Os`].
    pub fn write_all(
        &mut self,
        buf: &[u8],
        deadline: Option<Instant>,
        waker: Option<&Waker>,
    ) -> Result<()> {
        let start = Instant::now();
        let mut rest = buf;
        while !rest.is_empty() {
            match self.write(rest)? {
                WriteOutcome::Written(n) => rest = rest.get(n..).unwrap_or_default(),
                WriteOutcome::WouldBlock => self.wait_writable(start, deadline, waker)?,
            }
        }
        Ok(())
    }

    /// Waits for `POLLOUT` (or `POLLERR`, after which the write reports `EPIPE`).
    fn wait_writable(
        &self,
        start: Instant,
        deadline: Option<Instant>,
        waker: Option<&Waker>,
    ) -> Result<()> {
        let events = wait([(self.fd.as_fd(), Interest::Write)], waker, deadline)?;
        if events.woken {
            return Err(FifoError::Woken {
                op: "write",
                path: self.path.clone(),
            });
        }
        if events.timed_out {
            return Err(FifoError::TimedOut {
                op: "write",
                path: self.path.clone(),
                after: start.elapsed(),
            });
        }
        Ok(())
    }

    /// The path of the FIFO, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `PIPE_BUF` of this FIFO, as `fpathconf(_PC_PIPE_BUF)` reported when the end was opened
    /// (`usize::MAX` if it reported no limit). Writes of at most this many octets are atomic.
    pub fn pipe_buf(&self) -> usize {
        self.pipe_buf
    }

    /// The capacity of the pipe in octets (Linux).
    ///
    /// ## System calls
    /// `fcntl(F_GETPIPE_SZ)`.
    ///
    /// # Errors
    /// [`FifoError::Io`] if `fcntl` fails.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn pipe_size(&self) -> Result<usize> {
        pipe_size_of(self.fd.as_fd(), &self.path)
    }

    /// Asks the kernel for a pipe capacity of at least `bytes` octets; see
    /// [`FifoReader::set_pipe_size`].
    ///
    /// ## System calls
    /// `fcntl(F_SETPIPE_SZ, bytes)`.
    ///
    /// # Errors
    /// [`FifoError::PipeSizeRefused`] for `EPERM` and `EBUSY`; [`FifoError::Io`] otherwise.
    ///
    /// # Examples
    /// ```
    /// use fifo_rpc_fifo::{ServerLock, ServiceDir, PIPE_OUT};
    /// let tmp = tempfile::tempdir()?;
    /// let dir = ServiceDir::create_or_verify(tmp.path())?;
    /// let lock = ServerLock::acquire(&dir)?;
    /// lock.reclaim_and_create()?;
    /// let _reader = dir.open_reader(PIPE_OUT)?;
    /// let writer = dir.open_writer(PIPE_OUT)?.expect("a reader is open");
    /// let granted = writer.set_pipe_size(100_000)?;
    /// assert!(granted >= 100_000);
    /// assert_eq!(writer.pipe_size()?, granted);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn set_pipe_size(&self, bytes: usize) -> Result<usize> {
        set_pipe_size_of(self.fd.as_fd(), &self.path, bytes)
    }
}

impl AsFd for FifoReader {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsFd for FifoWriter {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// `fpathconf(fd, _PC_PIPE_BUF)`; no limit is reported as `usize::MAX`.
fn pipe_buf_of(fd: BorrowedFd<'_>, path: &Path) -> Result<usize> {
    match nix::unistd::fpathconf(fd, nix::unistd::PathconfVar::PIPE_BUF) {
        Ok(Some(n)) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        Ok(None) => Ok(usize::MAX),
        Err(errno) => Err(io_err("fpathconf", path, errno)),
    }
}

/// `fcntl(fd, F_GETPIPE_SZ)`.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn pipe_size_of(fd: BorrowedFd<'_>, path: &Path) -> Result<usize> {
    let n = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETPIPE_SZ)
        .map_err(|e| io_err("fcntl(F_GETPIPE_SZ)", path, e))?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// `fcntl(fd, F_SETPIPE_SZ, bytes)`, with `EPERM`/`EBUSY` as [`FifoError::PipeSizeRefused`].
#[cfg(any(target_os = "linux", target_os = "android"))]
fn set_pipe_size_of(fd: BorrowedFd<'_>, path: &Path, bytes: usize) -> Result<usize> {
    let refused = |errno: Errno| FifoError::PipeSizeRefused {
        path: path.to_path_buf(),
        requested: bytes,
        source: std::io::Error::from(errno),
    };
    let arg = libc::c_int::try_from(bytes).map_err(|_| refused(Errno::EINVAL))?;
    match nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETPIPE_SZ(arg)) {
        Ok(n) => Ok(usize::try_from(n).unwrap_or(0)),
        Err(errno @ (Errno::EPERM | Errno::EBUSY)) => Err(refused(errno)),
        Err(errno) => Err(io_err("fcntl(F_SETPIPE_SZ)", path, errno)),
    }
}
