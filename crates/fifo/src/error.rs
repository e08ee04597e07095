//! [`FifoError`]: every way a FIFO operation of this crate can fail.
//!
//! Each variant names the path (or the operation) and the check that failed, so that a message
//! alone tells an operator what to fix.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// The kind of a file system object, as `fstat`/`fstatat` report it (`st_mode & S_IFMT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileKind {
    /// A FIFO (named pipe).
    Fifo,
    /// A regular file.
    RegularFile,
    /// A directory.
    Directory,
    /// A symbolic link (seen only without following it).
    Symlink,
    /// A Unix-domain socket.
    Socket,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// Anything else.
    Unknown,
}

impl FileKind {
    /// Classifies an `st_mode` value.
    #[allow(clippy::unnecessary_cast)] // `mode_t` is `u16` on macOS, `u32` on Linux
    pub fn from_mode(mode: u32) -> FileKind {
        let format = mode & (libc::S_IFMT as u32);
        match format {
            f if f == libc::S_IFIFO as u32 => FileKind::Fifo,
            f if f == libc::S_IFREG as u32 => FileKind::RegularFile,
            f if f == libc::S_IFDIR as u32 => FileKind::Directory,
            f if f == libc::S_IFLNK as u32 => FileKind::Symlink,
            f if f == libc::S_IFSOCK as u32 => FileKind::Socket,
            f if f == libc::S_IFCHR as u32 => FileKind::CharDevice,
            f if f == libc::S_IFBLK as u32 => FileKind::BlockDevice,
            _ => FileKind::Unknown,
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Fifo => "fifo",
            FileKind::RegularFile => "regular file",
            FileKind::Directory => "directory",
            FileKind::Symlink => "symbolic link",
            FileKind::Socket => "socket",
            FileKind::CharDevice => "character device",
            FileKind::BlockDevice => "block device",
            FileKind::Unknown => "file of unknown kind",
        })
    }
}

/// The error type of every fallible function of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FifoError {
    /// The path does not exist: no server has created it (yet).
    #[error("{path} does not exist; start the server or check the service directory")]
    NotFound {
        /// The missing path.
        path: PathBuf,
    },

    /// The service directory is something other than a directory.
    #[error("{path} is a {kind}, not a directory; choose a private directory for the service")]
    NotADirectory {
        /// The path given as service directory.
        path: PathBuf,
        /// What it is instead.
        kind: FileKind,
    },

    /// The path is a symbolic link; links are never followed (FR-FIFO-1, FR-FIFO-3).
    #[error("{path} is a symbolic link, which is refused; remove it or name the real path")]
    Symlink {
        /// The symbolic link.
        path: PathBuf,
    },

    /// The file is owned by another user than expected (FR-FIFO-1, FR-FIFO-3).
    #[error(
        "{path} is owned by uid {uid}, expected uid {expected}; remove it or run as its owner"
    )]
    WrongOwner {
        /// The file or directory.
        path: PathBuf,
        /// Its owner.
        uid: u32,
        /// The owner required.
        expected: u32,
    },

    /// Group or others have access they must not have: write access to the directory, or any
    /// access to a FIFO or lock file (FR-FIFO-1, FR-FIFO-3).
    #[error(
        "{path} has mode {mode:04o}, open to group or others; remove it or restrict it \
         (0700 for the directory, 0600 for its files)"
    )]
    InsecureMode {
        /// The file or directory.
        path: PathBuf,
        /// Its permission bits (`st_mode & 0o7777`).
        mode: u32,
    },

    /// A leftover file has a mode that a server of this protocol never gives it, so it is not
    /// reclaimed (FR-FIFO-6).
    #[error(
        "{path} has mode {mode:04o}, expected {expected:04o}; it was not left by a server, \
         remove it by hand"
    )]
    UnexpectedMode {
        /// The file.
        path: PathBuf,
        /// Its permission bits (`st_mode & 0o7777`).
        mode: u32,
        /// The permission bits required.
        expected: u32,
    },

    /// A FIFO was expected at this path (FR-FIFO-3, FR-FIFO-6).
    #[error("{path} is a {kind}, not a fifo; remove it by hand, it was not created by a server")]
    NotAFifo {
        /// The path.
        path: PathBuf,
        /// What it is instead.
        kind: FileKind,
    },

    /// A regular file was expected at this path (a lock file; FR-FIFO-3, FR-FIFO-6).
    #[error(
        "{path} is a {kind}, not a regular file; remove it by hand, it was not created by a server"
    )]
    NotARegularFile {
        /// The path.
        path: PathBuf,
        /// What it is instead.
        kind: FileKind,
    },

    /// A file name inside the service directory is empty, `.`, `..` or contains `/`.
    #[error(
        "{name:?} is not a plain file name; use a name without '/' inside the service directory"
    )]
    InvalidName {
        /// The name given.
        name: String,
    },

    /// Another live server holds `D/lock` (FR-FIFO-5).
    #[error("another server is already serving {dir}; stop it first or use another directory")]
    AlreadyServing {
        /// The service directory.
        dir: PathBuf,
    },

    /// A write failed with `EPIPE`: the reader of the FIFO is gone (FR-FIFO-18).
    #[error("the reader of {path} is gone (EPIPE); the peer closed or died, reconnect")]
    PeerGone {
        /// The FIFO written to.
        path: PathBuf,
    },

    /// A wait reached its deadline (FR-FIFO-11).
    #[error("{op} on {path} timed out after {after:?}; the peer did not make progress, retry or give up")]
    TimedOut {
        /// The operation that waited, such as `"write"`.
        op: &'static str,
        /// The FIFO waited on.
        path: PathBuf,
        /// How long it waited.
        after: Duration,
    },

    /// A wait was ended by a [`Waker`](crate::Waker), normally because of a shutdown.
    #[error("{op} on {path} was stopped by a wake-up; the endpoint is shutting down")]
    Woken {
        /// The operation that waited.
        op: &'static str,
        /// The FIFO waited on.
        path: PathBuf,
    },

    /// A frame-sized write was larger than `PIPE_BUF`, so it could not be atomic (FR-FRAME-10).
    #[error(
        "a write of {len} octets to {path} exceeds PIPE_BUF ({pipe_buf}) and would not be atomic; \
         send smaller frames"
    )]
    WriteTooLarge {
        /// The FIFO.
        path: PathBuf,
        /// The length of the write.
        len: usize,
        /// The atomic write limit of the FIFO.
        pipe_buf: usize,
    },

    /// A frame-sized write returned a short count (FR-FRAME-11); the frame must not be completed.
    #[error(
        "write to {path} wrote {written} of {len} octets; a frame write must be whole, \
         this is a bug in the caller or the kernel"
    )]
    ShortWrite {
        /// The FIFO.
        path: PathBuf,
        /// Octets written.
        written: usize,
        /// Octets asked for.
        len: usize,
    },

    /// `F_SETPIPE_SZ` was refused (`EPERM` above `fs.pipe-max-size` without privilege, `EBUSY`
    /// when shrinking below the bytes buffered).
    #[error(
        "the kernel refused to set the capacity of {path} to {requested} octets ({source}); \
         ask for less or raise fs.pipe-max-size"
    )]
    PipeSizeRefused {
        /// The FIFO.
        path: PathBuf,
        /// The capacity asked for.
        requested: usize,
        /// `EPERM` or `EBUSY`.
        source: io::Error,
    },

    /// A system call on a path failed for another reason.
    #[error("{op} failed on {path}: {source}{}", hint(source))]
    Io {
        /// The system call or operation, such as `"openat"`.
        op: &'static str,
        /// The path it was applied to.
        path: PathBuf,
        /// The error the kernel returned.
        source: io::Error,
    },

    /// A system call that involves no path failed (`poll`, `eventfd`, `pthread_sigmask`).
    #[error("{op} failed: {source}{}", hint(source))]
    Os {
        /// The system call.
        op: &'static str,
        /// The error the kernel returned.
        source: io::Error,
    },
}

/// What to do about the errors a user can act on; empty for the others.
fn hint(source: &io::Error) -> &'static str {
    match source.raw_os_error() {
        Some(libc::EMFILE) => {
            "; the process is out of file descriptors: raise its limit (ulimit -n, RLIMIT_NOFILE) or close some"
        }
        Some(libc::ENFILE) => "; the system is out of file descriptors: close some, or raise fs.file-max",
        Some(libc::ENOMEM) => {
            "; the kernel refused memory for the pipe: check fs.pipe-user-pages-hard and free memory"
        }
        Some(libc::EACCES) | Some(libc::EPERM) => {
            "; permission denied: run as the user that owns the service directory"
        }
        _ => "",
    }
}

/// Short for `Result<T, FifoError>`.
pub type Result<T, E = FifoError> = std::result::Result<T, E>;

/// Builds [`FifoError::Io`] from a `nix` errno.
pub(crate) fn io_err(op: &'static str, path: impl Into<PathBuf>, errno: nix::Error) -> FifoError {
    FifoError::Io {
        op,
        path: path.into(),
        source: io::Error::from(errno),
    }
}

/// Builds [`FifoError::Os`] from a `nix` errno.
pub(crate) fn os_err(op: &'static str, errno: nix::Error) -> FifoError {
    FifoError::Os {
        op,
        source: io::Error::from(errno),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Errors a user can act on say what to do; others are left as the kernel said them.
    #[test]
    fn out_of_descriptors_says_what_to_do() {
        let err = os_err("eventfd", nix::Error::EMFILE);
        let text = err.to_string();
        assert!(text.starts_with("eventfd failed: "), "{text}");
        assert!(text.contains("raise its limit (ulimit -n"), "{text}");
        let err = io_err("openat", "/x/pipe.in", nix::Error::EACCES);
        assert!(
            err.to_string().contains("run as the user that owns"),
            "{err}"
        );
        let plain = io_err("read", "/x/pipe.in", nix::Error::EIO).to_string();
        assert!(!plain.contains("; "), "{plain}");
    }
}
