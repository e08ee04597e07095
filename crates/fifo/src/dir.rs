//! [`ServiceDir`]: the verified service directory D, held open as a descriptor (FR-FIFO-1).
//!
//! Every later file operation of this crate is relative to this descriptor (`openat`,
//! `mkfifoat`, `unlinkat`, `fstatat`), so a path component swapped after the check cannot redirect
//! it.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fchmod, fstat, fstatat, Mode};

use crate::check::{kind_of, perm_bits, verify, ModeRule};
use crate::error::{io_err, FifoError, FileKind, Result};

/// Mode of the service directory (FR-FIFO-1).
pub const DIR_MODE: u32 = 0o700;

/// An open, verified service directory.
///
/// Cloning is cheap and shares the descriptor; it is closed when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct ServiceDir {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    fd: OwnedFd,
    path: PathBuf,
    expected_uid: u32,
}

impl ServiceDir {
    /// Opens the service directory for a server, creating it with mode 0700 if it is missing,
    /// and verifies it (FR-FIFO-1): a directory, not a symbolic link, owned by the effective uid,
    /// not writable by group or others.
    ///
    /// A directory this call created is given mode 0700 exactly through its descriptor, whatever
    /// the umask; an existing one keeps its mode.
    ///
    /// ## System calls
    /// `mkdir(path, 0700)`, `open(path, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC)`, `fstat`,
    /// `geteuid`; `fchmod(fd, 0700)` if it created the directory; `lstat` to explain a failed open.
    ///
    /// # Errors
    /// [`FifoError::Symlink`], [`FifoError::NotADirectory`], [`FifoError::WrongOwner`],
    /// [`FifoError::InsecureMode`], or [`FifoError::Io`] (for example `EACCES`, or `ENOENT` for a
    /// missing parent).
    ///
    /// # Examples
    /// ```
    /// let tmp = tempfile::tempdir()?;
    /// let dir = fifo_rpc_fifo::ServiceDir::create_or_verify(tmp.path().join("svc"))?;
    /// assert!(dir.path().ends_with("svc"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create_or_verify(path: impl AsRef<Path>) -> Result<ServiceDir> {
        let path = path.as_ref();
        let created = match nix::unistd::mkdir(path, Mode::from_bits_truncate(DIR_MODE)) {
            Ok(()) => true,
            Err(Errno::EEXIST) => false,
            Err(errno) => return Err(io_err("mkdir", path, errno)),
        };
        let euid = nix::unistd::geteuid().as_raw();
        let (fd, stat) = open_dir(path)?;
        verify(
            &stat,
            path,
            FileKind::Directory,
            euid,
            ModeRule::NoGroupOtherWrite,
        )?;
        if created && perm_bits(&stat) != DIR_MODE {
            fchmod(&fd, Mode::from_bits_truncate(DIR_MODE))
                .map_err(|e| io_err("fchmod", path, e))?;
        }
        Ok(ServiceDir::from_parts(fd, path, euid))
    }

    /// Opens an existing service directory for a client and verifies it like
    /// [`create_or_verify`](Self::create_or_verify), expecting the effective uid as owner.
    ///
    /// ## System calls
    /// `open(path, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC)`, `fstat`, `geteuid`; `lstat` to
    /// explain a failed open.
    ///
    /// # Errors
    /// [`FifoError::NotFound`] if the directory does not exist (no server has created it yet; a
    /// client may keep waiting), and otherwise the errors of
    /// [`create_or_verify`](Self::create_or_verify).
    ///
    /// # Examples
    /// ```
    /// use fifo_rpc_fifo::{FifoError, ServiceDir};
    /// let tmp = tempfile::tempdir()?;
    /// let missing = ServiceDir::open_existing(tmp.path().join("not-yet"));
    /// assert!(matches!(missing, Err(FifoError::NotFound { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_existing(path: impl AsRef<Path>) -> Result<ServiceDir> {
        Self::open_existing_owned_by(path, nix::unistd::geteuid().as_raw())
    }

    /// Like [`open_existing`](Self::open_existing), but expects `uid` (the server's) as owner of
    /// the directory and of every file opened through it (FR-FIFO-3 allows a client to be
    /// configured with the server's uid).
    ///
    /// ## System calls
    /// `open(path, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC)`, `fstat`; `lstat` to explain a
    /// failed open.
    ///
    /// # Errors
    /// As [`open_existing`](Self::open_existing).
    pub fn open_existing_owned_by(path: impl AsRef<Path>, uid: u32) -> Result<ServiceDir> {
        let path = path.as_ref();
        let (fd, stat) = open_dir(path)?;
        verify(
            &stat,
            path,
            FileKind::Directory,
            uid,
            ModeRule::NoGroupOtherWrite,
        )?;
        Ok(ServiceDir::from_parts(fd, path, uid))
    }

    fn from_parts(fd: OwnedFd, path: &Path, expected_uid: u32) -> ServiceDir {
        ServiceDir {
            inner: Arc::new(Inner {
                fd,
                path: path.to_path_buf(),
                expected_uid,
            }),
        }
    }

    /// The path the directory was opened with (used in error messages only; operations use the
    /// descriptor).
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The uid that must own the directory and every file in it.
    pub fn expected_uid(&self) -> u32 {
        self.inner.expected_uid
    }

    /// `path()` joined with `name`, for messages.
    pub(crate) fn join(&self, name: &str) -> PathBuf {
        self.inner.path.join(name)
    }

    /// `fstatat(D, name, AT_SYMLINK_NOFOLLOW)`; `Ok(None)` if the name does not exist.
    pub(crate) fn stat_at(&self, name: &str) -> Result<Option<nix::sys::stat::FileStat>> {
        match fstatat(self.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(stat) => Ok(Some(stat)),
            Err(Errno::ENOENT) => Ok(None),
            Err(errno) => Err(io_err("fstatat", self.join(name), errno)),
        }
    }
}

impl AsFd for ServiceDir {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.fd.as_fd()
    }
}

/// Opens `path` as a directory without following a final symbolic link, and `fstat`s it.
fn open_dir(path: &Path) -> Result<(OwnedFd, nix::sys::stat::FileStat)> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = match nix::fcntl::open(path, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => {
            return Err(FifoError::NotFound {
                path: path.to_path_buf(),
            })
        }
        Err(errno @ (Errno::ELOOP | Errno::ENOTDIR)) => return Err(explain_open_dir(path, errno)),
        Err(errno) => return Err(io_err("open", path, errno)),
    };
    let stat = fstat(&fd).map_err(|e| io_err("fstat", path, e))?;
    Ok((fd, stat))
}

/// Turns `ELOOP`/`ENOTDIR` from opening the directory into a precise error, using `lstat`.
fn explain_open_dir(path: &Path, errno: Errno) -> FifoError {
    match nix::sys::stat::lstat(path) {
        Ok(stat) => match kind_of(&stat) {
            FileKind::Symlink => FifoError::Symlink {
                path: path.to_path_buf(),
            },
            FileKind::Directory => io_err("open", path, errno),
            kind => FifoError::NotADirectory {
                path: path.to_path_buf(),
                kind,
            },
        },
        Err(_) => io_err("open", path, errno),
    }
}
