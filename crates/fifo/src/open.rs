//! Opening the FIFO ends, non-blocking and verified (FR-FIFO-3, FR-FIFO-7, FR-FIFO-8).

use std::os::fd::OwnedFd;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use crate::check::{check_name, verify_fd, ModeRule};
use crate::dir::ServiceDir;
use crate::error::{io_err, FifoError, FileKind, Result};
use crate::io::{FifoReader, FifoWriter};

impl ServiceDir {
    /// Opens the read end of the FIFO `name` in this directory and verifies it.
    ///
    /// The open never blocks, whether or not a writer exists (FR-FIFO-7). Open the FIFO you read
    /// before the one you write.
    ///
    /// ## System calls
    /// `openat(D, name, O_RDONLY|O_NONBLOCK|O_NOFOLLOW|O_CLOEXEC)`, `fstat`,
    /// `fpathconf(_PC_PIPE_BUF)`.
    ///
    /// # Errors
    /// [`FifoError::NotFound`]; [`FifoError::Symlink`] (`ELOOP`); [`FifoError::NotAFifo`],
    /// [`FifoError::WrongOwner`], [`FifoError::InsecureMode`] (any group or other permission
    /// bit) from the `fstat` checks; [`FifoError::InvalidName`]; [`FifoError::Io`].
    ///
    /// # Examples
    /// ```
    /// use fifo_rpc_fifo::{ReadOutcome, ServerLock, ServiceDir, PIPE_IN};
    /// let tmp = tempfile::tempdir()?;
    /// let dir = ServiceDir::create_or_verify(tmp.path())?;
    /// let lock = ServerLock::acquire(&dir)?;
    /// lock.reclaim_and_create()?;
    /// let mut reader = dir.open_reader(PIPE_IN)?;
    /// // No writer has come yet: a read returns 0, "no writer at this moment" (FR-FIFO-14).
    /// assert_eq!(reader.read(&mut [0u8; 64])?, ReadOutcome::Eof);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_reader(&self, name: &str) -> Result<FifoReader> {
        let fd = open_fifo(self, name, OFlag::O_RDONLY)?.ok_or_else(|| {
            // A read-only open of a FIFO never fails with ENXIO; treat it as any other failure.
            io_err("openat", self.join(name), Errno::ENXIO)
        })?;
        FifoReader::new(fd, self.clone(), name)
    }

    /// Opens the write end of the FIFO `name` in this directory and verifies it.
    ///
    /// Returns `Ok(None)` when no process has the FIFO open for reading (`ENXIO`): the peer is
    /// not up yet, or has gone. That is not an error: retry until a deadline (FR-FIFO-8).
    ///
    /// ## System calls
    /// `openat(D, name, O_WRONLY|O_NONBLOCK|O_NOFOLLOW|O_CLOEXEC)`, `fstat`,
    /// `fpathconf(_PC_PIPE_BUF)`.
    ///
    /// # Errors
    /// As [`open_reader`](Self::open_reader).
    ///
    /// # Examples
    /// ```
    /// use fifo_rpc_fifo::{ServerLock, ServiceDir, PIPE_OUT};
    /// let tmp = tempfile::tempdir()?;
    /// let dir = ServiceDir::create_or_verify(tmp.path())?;
    /// let lock = ServerLock::acquire(&dir)?;
    /// lock.reclaim_and_create()?;
    /// assert!(dir.open_writer(PIPE_OUT)?.is_none()); // no reader: ENXIO
    /// let _reader = dir.open_reader(PIPE_OUT)?;
    /// assert!(dir.open_writer(PIPE_OUT)?.is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_writer(&self, name: &str) -> Result<Option<FifoWriter>> {
        match open_fifo(self, name, OFlag::O_WRONLY)? {
            Some(fd) => FifoWriter::new(fd, self.join(name)).map(Some),
            None => Ok(None),
        }
    }
}

/// `openat` one end of a FIFO, then `fstat` and verify; `Ok(None)` on `ENXIO`.
pub(crate) fn open_fifo(dir: &ServiceDir, name: &str, access: OFlag) -> Result<Option<OwnedFd>> {
    check_name(name)?;
    let flags = access | OFlag::O_NONBLOCK | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = match nix::fcntl::openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ENXIO) => return Ok(None),
        Err(Errno::ENOENT) => {
            return Err(FifoError::NotFound {
                path: dir.join(name),
            })
        }
        Err(Errno::ELOOP) => {
            return Err(FifoError::Symlink {
                path: dir.join(name),
            })
        }
        Err(Errno::EISDIR) => {
            return Err(FifoError::NotAFifo {
                path: dir.join(name),
                kind: FileKind::Directory,
            })
        }
        Err(errno) => return Err(io_err("openat", dir.join(name), errno)),
    };
    let path = dir.join(name);
    verify_fd(
        &fd,
        &path,
        FileKind::Fifo,
        dir.expected_uid(),
        ModeRule::NoGroupOther,
    )?;
    Ok(Some(fd))
}
