//! The `fstat` checks of FR-FIFO-1, FR-FIFO-3 and FR-FIFO-6, shared by every open.

use std::os::fd::AsFd;
use std::path::Path;

use nix::sys::stat::{fstat, FileStat};

use crate::error::{io_err, FifoError, FileKind, Result};

/// Which permission bits a file may have.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ModeRule {
    /// No write bit for group or others (the service directory, FR-FIFO-1).
    NoGroupOtherWrite,
    /// No bit at all for group or others (FIFOs and lock files, FR-FIFO-3).
    NoGroupOther,
    /// Exactly these permission bits (a leftover file that may be reclaimed, FR-FIFO-6).
    Exactly(u32),
}

/// Permission bits of a stat result.
pub(crate) fn perm_bits(stat: &FileStat) -> u32 {
    st_mode(stat) & 0o7777
}

/// `st_mode` widened to `u32` (`mode_t` is `u16` on macOS and `u32` on Linux).
#[allow(clippy::unnecessary_cast)]
fn st_mode(stat: &FileStat) -> u32 {
    stat.st_mode as u32
}

/// The kind of a stat result.
pub(crate) fn kind_of(stat: &FileStat) -> FileKind {
    FileKind::from_mode(st_mode(stat))
}

/// Checks kind, then owner, then mode; the first failure is returned, naming `path`.
///
/// ## System calls
/// None: it inspects a stat result taken by the caller.
pub(crate) fn verify(
    stat: &FileStat,
    path: &Path,
    expected_kind: FileKind,
    expected_uid: u32,
    rule: ModeRule,
) -> Result<()> {
    let kind = kind_of(stat);
    if kind != expected_kind {
        let path = path.to_path_buf();
        return Err(match (expected_kind, kind) {
            (_, FileKind::Symlink) => FifoError::Symlink { path },
            (FileKind::Fifo, kind) => FifoError::NotAFifo { path, kind },
            (FileKind::Directory, kind) => FifoError::NotADirectory { path, kind },
            (_, kind) => FifoError::NotARegularFile { path, kind },
        });
    }
    let uid = stat.st_uid;
    if uid != expected_uid {
        return Err(FifoError::WrongOwner {
            path: path.to_path_buf(),
            uid,
            expected: expected_uid,
        });
    }
    let mode = perm_bits(stat);
    match rule {
        ModeRule::NoGroupOtherWrite if mode & 0o022 != 0 => Err(FifoError::InsecureMode {
            path: path.to_path_buf(),
            mode,
        }),
        ModeRule::NoGroupOther if mode & 0o077 != 0 => Err(FifoError::InsecureMode {
            path: path.to_path_buf(),
            mode,
        }),
        ModeRule::Exactly(expected) if mode != expected => Err(FifoError::UnexpectedMode {
            path: path.to_path_buf(),
            mode,
            expected,
        }),
        _ => Ok(()),
    }
}

/// `fstat` of an open descriptor, then [`verify`]; returns the stat result for further checks.
///
/// ## System calls
/// `fstat`.
pub(crate) fn verify_fd<Fd: AsFd>(
    fd: Fd,
    path: &Path,
    expected_kind: FileKind,
    expected_uid: u32,
    rule: ModeRule,
) -> Result<FileStat> {
    let stat = fstat(fd).map_err(|e| io_err("fstat", path, e))?;
    verify(&stat, path, expected_kind, expected_uid, rule)?;
    Ok(stat)
}

/// Refuses names that could leave the service directory or name it.
pub(crate) fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(FifoError::InvalidName {
            name: name.to_owned(),
        });
    }
    Ok(())
}
