//! The server's files: reclaiming what a dead server left (FR-FIFO-6), creating them anew with
//! mode 0600 (FR-FIFO-2), and removing them at shutdown (FR-FIFO-19). Each step needs the
//! [`ServerLock`], so only the one live server of a directory can take it.

use std::os::fd::OwnedFd;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{fchmod, Mode};
use nix::unistd::UnlinkatFlags;

use crate::check::{perm_bits, verify, verify_fd, ModeRule};
use crate::dir::ServiceDir;
use crate::error::{io_err, FileKind, Result};
use crate::lock::{ServerLock, CLIENT_LOCK, FILE_MODE, LOCK};

/// Name of the FIFO that carries frames from the client to the server.
pub const PIPE_IN: &str = "pipe.in";
/// Name of the FIFO that carries frames from the server to the client.
pub const PIPE_OUT: &str = "pipe.out";

/// The files a server reclaims and creates, in creation order. `client.lock` comes last: a
/// client that finds it finds both FIFOs too.
const SERVICE_FILES: [(&str, FileKind); 3] = [
    (PIPE_IN, FileKind::Fifo),
    (PIPE_OUT, FileKind::Fifo),
    (CLIENT_LOCK, FileKind::RegularFile),
];

impl ServerLock {
    /// Removes the `pipe.in`, `pipe.out` and `client.lock` left by a dead server, then creates
    /// them anew with mode 0600 (FR-FIFO-6, FR-FIFO-2).
    ///
    /// A leftover file is removed only if it is of the expected kind, owned by the expected uid
    /// and of mode 0600 exactly; otherwise it was planted, nothing is removed, and the error
    /// names it. New inodes make sure that a client still holding a descriptor of an old FIFO
    /// talks to nobody rather than to this server.
    ///
    /// Modes are set exactly through descriptors (`fchmod`), whatever the umask, never by path.
    ///
    /// A failure while creating (out of descriptors, say) removes the files this call created,
    /// and the lock file if [`ServerLock::acquire`] created it, before it is returned: a failed
    /// start leaves nothing behind.
    ///
    /// ## System calls
    /// For each file: `fstatat(D, name, AT_SYMLINK_NOFOLLOW)`; then for each file present
    /// `unlinkat(D, name, 0)`. Then for each FIFO `mkfifoat(D, name, 0600)`,
    /// `openat(D, name, O_RDONLY|O_NONBLOCK|O_NOFOLLOW|O_CLOEXEC)`, `fstat`, `fchmod(fd, 0600)`
    /// if needed, `close`; and for `client.lock`
    /// `openat(D, name, O_RDWR|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC|O_NONBLOCK, 0600)`, `fstat`,
    /// `fchmod(fd, 0600)` if needed, `close`.
    ///
    /// # Errors
    /// [`FifoError::Symlink`](crate::FifoError::Symlink),
    /// [`FifoError::NotAFifo`](crate::FifoError::NotAFifo),
    /// [`FifoError::NotARegularFile`](crate::FifoError::NotARegularFile),
    /// [`FifoError::WrongOwner`](crate::FifoError::WrongOwner),
    /// [`FifoError::UnexpectedMode`](crate::FifoError::UnexpectedMode) for a planted file;
    /// [`FifoError::Io`](crate::FifoError::Io) if a system call fails.
    ///
    /// # Examples
    /// ```
    /// use fifo_rpc_fifo::{ServerLock, ServiceDir, PIPE_IN};
    /// let tmp = tempfile::tempdir()?;
    /// let dir = ServiceDir::create_or_verify(tmp.path())?;
    /// let lock = ServerLock::acquire(&dir)?;
    /// lock.reclaim_and_create()?;
    /// assert!(tmp.path().join(PIPE_IN).exists());
    /// lock.reclaim_and_create()?; // files of a previous run are reclaimed
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reclaim_and_create(&self) -> Result<()> {
        let dir = self.dir();
        // Check every leftover before removing any, so a refusal leaves the directory as it was,
        // without even the lock file if this start created it.
        let present = match check_leftovers(dir) {
            Ok(present) => present,
            Err(refused) => {
                if self.created {
                    let _ = unlink_if_present(dir, LOCK);
                }
                return Err(refused);
            }
        };
        for (&was_present, (name, _)) in present.iter().zip(SERVICE_FILES) {
            if was_present {
                unlink_if_present(dir, name)?;
            }
        }
        for (created, (name, kind)) in SERVICE_FILES.into_iter().enumerate() {
            let made = match kind {
                FileKind::Fifo => create_fifo(dir, name),
                _ => create_lock_file(dir, name),
            };
            if let Err(e) = made {
                // A failed start (out of descriptors, say) leaves nothing behind: the files made
                // so far and the lock file if this start made it. The file that failed removed
                // itself if it got as far as existing; a name taken by someone else is left alone.
                for (name, _) in &SERVICE_FILES[..created] {
                    let _ = unlink_if_present(dir, name);
                }
                if self.created {
                    let _ = unlink_if_present(dir, LOCK);
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// Removes `pipe.in`, `pipe.out`, `client.lock` and then `lock`, in that order, while still
    /// holding the lock, and then releases it (FR-FIFO-19). The directory itself stays.
    ///
    /// Every file is tried even if removing an earlier one failed; the first failure is
    /// returned. Files already gone are not an error.
    ///
    /// ## System calls
    /// `unlinkat(D, name, 0)` four times, then `flock(LOCK_UN)` and `close`.
    ///
    /// # Errors
    /// [`FifoError::Io`](crate::FifoError::Io) if an `unlinkat` fails with another error than
    /// `ENOENT`.
    ///
    /// # Examples
    /// ```
    /// use fifo_rpc_fifo::{ServerLock, ServiceDir};
    /// let tmp = tempfile::tempdir()?;
    /// let dir = ServiceDir::create_or_verify(tmp.path())?;
    /// let lock = ServerLock::acquire(&dir)?;
    /// lock.reclaim_and_create()?;
    /// lock.remove_files()?;
    /// assert_eq!(std::fs::read_dir(tmp.path())?.count(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn remove_files(self) -> Result<()> {
        let mut first_error = None;
        for name in [PIPE_IN, PIPE_OUT, CLIENT_LOCK, LOCK] {
            if let Err(e) = unlink_if_present(self.dir(), name) {
                first_error.get_or_insert(e);
            }
        }
        drop(self);
        first_error.map_or(Ok(()), Err)
    }
}

/// `unlinkat(D, name, 0)`; a name already gone is fine.
fn unlink_if_present(dir: &ServiceDir, name: &str) -> Result<()> {
    match nix::unistd::unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(errno) => Err(io_err("unlinkat", dir.join(name), errno)),
    }
}

/// `mkfifoat(D, name, 0600)`, then opens the new FIFO (a read-only non-blocking open never
/// blocks), verifies it and sets its mode to 0600 exactly through the descriptor.
fn create_fifo(dir: &ServiceDir, name: &str) -> Result<()> {
    let path = dir.join(name);
    nix::unistd::mkfifoat(dir, name, Mode::from_bits_truncate(FILE_MODE))
        .map_err(|e| io_err("mkfifoat", &path, e))?;
    let flags = OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let verified = nix::fcntl::openat(dir, name, flags, Mode::empty())
        .map_err(|e| io_err("openat", &path, e))
        .and_then(|fd| set_exact_mode(dir, &fd, name, FileKind::Fifo));
    if verified.is_err() {
        // mkfifoat made this name: a FIFO that cannot be opened or verified goes again.
        let _ = unlink_if_present(dir, name);
    }
    verified
}

/// Creates a fresh lock file with mode 0600 (`O_EXCL`: the old one was just removed).
fn create_lock_file(dir: &ServiceDir, name: &str) -> Result<()> {
    let path = dir.join(name);
    let flags = OFlag::O_RDWR
        | OFlag::O_CREAT
        | OFlag::O_EXCL
        | OFlag::O_NOFOLLOW
        | OFlag::O_CLOEXEC
        | OFlag::O_NONBLOCK;
    let fd = nix::fcntl::openat(dir, name, flags, Mode::from_bits_truncate(FILE_MODE))
        .map_err(|e| io_err("openat", &path, e))?;
    let verified = set_exact_mode(dir, &fd, name, FileKind::RegularFile);
    if verified.is_err() {
        // O_EXCL made this file: one that cannot be verified goes again.
        let _ = unlink_if_present(dir, name);
    }
    verified
}

/// `fstat`, verify kind and owner, `fchmod(fd, 0600)` if the umask took bits away.
fn set_exact_mode(dir: &ServiceDir, fd: &OwnedFd, name: &str, kind: FileKind) -> Result<()> {
    let path = dir.join(name);
    let stat = verify_fd(fd, &path, kind, dir.expected_uid(), ModeRule::NoGroupOther)?;
    if perm_bits(&stat) != FILE_MODE {
        fchmod(fd, Mode::from_bits_truncate(FILE_MODE)).map_err(|e| io_err("fchmod", &path, e))?;
    }
    Ok(())
}

/// Which of the service files are present; an error if one of them is not what a server of this
/// user leaves behind (FR-FIFO-6).
fn check_leftovers(dir: &ServiceDir) -> Result<[bool; SERVICE_FILES.len()]> {
    let mut present = [false; SERVICE_FILES.len()];
    for (slot, (name, kind)) in present.iter_mut().zip(SERVICE_FILES) {
        if let Some(stat) = dir.stat_at(name)? {
            let path = dir.join(name);
            verify(
                &stat,
                &path,
                kind,
                dir.expected_uid(),
                ModeRule::Exactly(FILE_MODE),
            )?;
            *slot = true;
        }
    }
    Ok(present)
}
