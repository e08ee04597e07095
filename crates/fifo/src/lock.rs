//! The two `flock` locks of a service directory: `D/lock` (one live server, FR-FIFO-5) and
//! `D/client.lock` (one client session at a time, FR-FIFO-10).
//!
//! A lock is held while its value lives and released on drop (`flock(LOCK_UN)`, then `close`).
//! The kernel also releases it when the process dies, which is how a crashed server's files are
//! recognised as stale (§9.8).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{fchmod, Mode};

use crate::check::{perm_bits, verify_fd, ModeRule};
use crate::dir::ServiceDir;
use crate::error::{io_err, FifoError, FileKind, Result};

/// Name of the server's lock file in the service directory.
pub const LOCK: &str = "lock";
/// Name of the client lock file in the service directory.
pub const CLIENT_LOCK: &str = "client.lock";
/// Mode of every file the server creates (FR-FIFO-2).
pub const FILE_MODE: u32 = 0o600;

/// The server's exclusive lock on `D/lock`: proof that this process is the one live server of
/// the directory. Reclaiming, creating and removing the service files take it as a parameter
/// (see [`ServerLock::reclaim_and_create`] and [`ServerLock::remove_files`]).
#[derive(Debug)]
pub struct ServerLock {
    held: Held,
    dir: ServiceDir,
    /// `acquire` created the lock file: a refused start removes it again, leaving D as it was.
    pub(crate) created: bool,
}

/// A client's exclusive lock on `D/client.lock`, held for the whole session (FR-FIFO-10).
#[derive(Debug)]
pub struct ClientLock {
    held: Held,
}

/// An open lock file with `flock(LOCK_EX)` taken on it.
#[derive(Debug)]
struct Held {
    fd: OwnedFd,
    path: PathBuf,
}

impl Drop for Held {
    fn drop(&mut self) {
        // SAFETY: `self.fd` is an open descriptor owned by `self` for the duration of this call;
        // flock(2) only reads the integer and has no memory effects. Its error is ignored: the
        // close that follows releases the lock of this open file description anyway.
        unsafe {
            libc::flock(self.fd.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

impl ServerLock {
    /// Opens or creates `D/lock` (mode 0600), verifies it and takes `flock(LOCK_EX|LOCK_NB)`.
    ///
    /// ## System calls
    /// `openat(D, "lock", O_RDWR|O_CREAT|O_NOFOLLOW|O_CLOEXEC|O_NONBLOCK, 0600)`, `fstat`,
    /// `flock(LOCK_EX|LOCK_NB)`, then `fchmod(fd, 0600)` only if the owner bits are not `rw`
    /// (an odd umask when the file was created).
    ///
    /// # Errors
    /// [`FifoError::AlreadyServing`] at once if another process holds the lock (FR-FIFO-5);
    /// [`FifoError::Symlink`], [`FifoError::NotARegularFile`], [`FifoError::WrongOwner`],
    /// [`FifoError::InsecureMode`] if `D/lock` was planted (FR-FIFO-3); [`FifoError::Io`].
    ///
    /// # Examples
    /// ```
    /// use fifo_rpc_fifo::{FifoError, ServerLock, ServiceDir};
    /// let tmp = tempfile::tempdir()?;
    /// let dir = ServiceDir::create_or_verify(tmp.path().join("svc"))?;
    /// let lock = ServerLock::acquire(&dir)?;
    /// assert!(matches!(ServerLock::acquire(&dir), Err(FifoError::AlreadyServing { .. })));
    /// drop(lock);
    /// let _again = ServerLock::acquire(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn acquire(dir: &ServiceDir) -> Result<ServerLock> {
        let path = dir.join(LOCK);
        let flags = OFlag::O_RDWR | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK;
        // Open an existing lock file, or create it exclusively, so that we know whether this
        // call created it (a refused start then removes it: FR-FIFO-6 "leaves D as it was").
        let (fd, created) = match open_lock_file(dir, LOCK, &path, flags) {
            Ok(fd) => (fd, false),
            Err(FifoError::NotFound { .. }) => {
                let create = flags | OFlag::O_CREAT | OFlag::O_EXCL;
                (open_lock_file(dir, LOCK, &path, create)?, true)
            }
            Err(e) => return Err(e),
        };
        let stat = verify_fd(
            &fd,
            &path,
            FileKind::RegularFile,
            dir.expected_uid(),
            ModeRule::NoGroupOther,
        )?;
        match try_flock(&fd) {
            Ok(true) => {}
            Ok(false) => {
                return Err(FifoError::AlreadyServing {
                    dir: dir.path().to_path_buf(),
                })
            }
            Err(errno) => return Err(io_err("flock", path, errno)),
        }
        let held = Held { fd, path };
        if perm_bits(&stat) != FILE_MODE {
            fchmod(&held.fd, Mode::from_bits_truncate(FILE_MODE))
                .map_err(|e| io_err("fchmod", &held.path, e))?;
        }
        Ok(ServerLock {
            held,
            dir: dir.clone(),
            created,
        })
    }

    /// The service directory this lock belongs to.
    pub fn dir(&self) -> &ServiceDir {
        &self.dir
    }

    /// The path of the lock file.
    pub fn path(&self) -> &Path {
        &self.held.path
    }
}

impl ClientLock {
    /// Opens the existing `D/client.lock` (never creating it), verifies it and tries
    /// `flock(LOCK_EX|LOCK_NB)`.
    ///
    /// Returns `Ok(Some(lock))` when taken and `Ok(None)` when another client holds it (the
    /// server is busy; retry until the connect deadline, FR-FIFO-10).
    ///
    /// ## System calls
    /// `openat(D, "client.lock", O_RDWR|O_NOFOLLOW|O_CLOEXEC|O_NONBLOCK)`, `fstat`,
    /// `flock(LOCK_EX|LOCK_NB)`.
    ///
    /// # Errors
    /// [`FifoError::NotFound`] if the file does not exist (no server yet; retry until the
    /// deadline, FR-FIFO-10); [`FifoError::Symlink`], [`FifoError::NotARegularFile`],
    /// [`FifoError::WrongOwner`], [`FifoError::InsecureMode`] (FR-FIFO-3); [`FifoError::Io`].
    ///
    /// # Examples
    /// ```
    /// use fifo_rpc_fifo::{ClientLock, FifoError, ServerLock, ServiceDir};
    /// let tmp = tempfile::tempdir()?;
    /// let dir = ServiceDir::create_or_verify(tmp.path())?;
    /// assert!(matches!(ClientLock::try_acquire(&dir), Err(FifoError::NotFound { .. })));
    /// let server = ServerLock::acquire(&dir)?;
    /// server.reclaim_and_create()?;
    /// let first = ClientLock::try_acquire(&dir)?;
    /// assert!(first.is_some());
    /// assert!(ClientLock::try_acquire(&dir)?.is_none()); // held: the server is busy
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_acquire(dir: &ServiceDir) -> Result<Option<ClientLock>> {
        let path = dir.join(CLIENT_LOCK);
        let flags = OFlag::O_RDWR | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK;
        let fd = open_lock_file(dir, CLIENT_LOCK, &path, flags)?;
        verify_fd(
            &fd,
            &path,
            FileKind::RegularFile,
            dir.expected_uid(),
            ModeRule::NoGroupOther,
        )?;
        match try_flock(&fd) {
            Ok(true) => Ok(Some(ClientLock {
                held: Held { fd, path },
            })),
            Ok(false) => Ok(None),
            Err(errno) => Err(io_err("flock", path, errno)),
        }
    }

    /// The path of the lock file.
    pub fn path(&self) -> &Path {
        &self.held.path
    }
}

impl AsFd for ServerLock {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.held.fd.as_fd()
    }
}

impl AsFd for ClientLock {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.held.fd.as_fd()
    }
}

/// `openat` of a lock file, with `ENOENT` and `ELOOP` turned into typed errors.
fn open_lock_file(dir: &ServiceDir, name: &str, path: &Path, flags: OFlag) -> Result<OwnedFd> {
    match nix::fcntl::openat(dir, name, flags, Mode::from_bits_truncate(FILE_MODE)) {
        Ok(fd) => Ok(fd),
        Err(Errno::ENOENT) => Err(FifoError::NotFound {
            path: path.to_path_buf(),
        }),
        Err(Errno::ELOOP) => Err(FifoError::Symlink {
            path: path.to_path_buf(),
        }),
        Err(Errno::EISDIR) => Err(FifoError::NotARegularFile {
            path: path.to_path_buf(),
            kind: FileKind::Directory,
        }),
        Err(errno) => Err(io_err("openat", path, errno)),
    }
}

/// `flock(fd, LOCK_EX|LOCK_NB)`: `Ok(true)` taken, `Ok(false)` held elsewhere.
fn try_flock(fd: &OwnedFd) -> std::result::Result<bool, Errno> {
    // SAFETY: `fd` is a valid open descriptor borrowed for the duration of the call; flock(2)
    // takes no pointers.
    let rc = unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    match Errno::result(rc) {
        Ok(_) => Ok(true),
        Err(Errno::EWOULDBLOCK) => Ok(false),
        Err(errno) => Err(errno),
    }
}
