//! The floors: the same workloads over raw FIFOs and a raw Unix stream socket with blocking
//! `read(2)`/`write(2)` and nothing else, measured in the same run as fifo-rpc.
//!
//! Opening order (both FIFOs, no deadlock, no hang if the peer dies): the parent opens `pipe.out`
//! for reading with `O_NONBLOCK` (never blocks), then `pipe.in` for writing with `O_NONBLOCK`,
//! retrying on `ENXIO` while the peer lives; the peer opens `pipe.in` for reading (blocking until
//! the parent's writer arrives) and then `pipe.out` for writing (whose reader already exists), and
//! prints `ready`. Only then does the parent clear `O_NONBLOCK` and start.

pub(crate) mod peers;
pub(crate) mod pingpong;
pub(crate) mod pipelined;
pub(crate) mod stream;

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Context, Error, Result};
use crate::peer::Peer;
use crate::sys;

/// Name of the client-to-server FIFO.
pub(crate) const PIPE_IN: &str = "pipe.in";
/// Name of the server-to-client FIFO.
pub(crate) const PIPE_OUT: &str = "pipe.out";
/// Name of the Unix socket.
pub(crate) const SOCKET: &str = "sock";

/// How long the parent waits for a peer to open its ends.
const OPEN_DEADLINE: Duration = Duration::from_secs(20);

/// A fresh private directory with `pipe.in` and `pipe.out`, removed on drop.
pub(crate) struct FifoDir {
    dir: tempfile::TempDir,
}

impl FifoDir {
    /// Creates the directory and both FIFOs.
    pub(crate) fn new() -> Result<Self> {
        let dir = empty_dir()?;
        for name in [PIPE_IN, PIPE_OUT] {
            let path = dir.path().join(name);
            sys::mkfifo(&path).context(format_args!("creating FIFO {}", path.display()))?;
        }
        Ok(Self { dir })
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// A fresh private, empty directory, removed on drop.
pub(crate) fn empty_dir() -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("fifo-rpc-bench-")
        .tempdir()
        .context("creating a temporary directory")
}

/// Parent side: opens the FIFO pair in `dir` as blocking files `(to_peer, from_peer)`, once the
/// peer has opened its ends and said `ready`.
pub(crate) fn open_parent_ends(dir: &Path, peer: &mut Peer) -> Result<(File, File)> {
    let out_path = dir.join(PIPE_OUT);
    let from_peer = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&out_path)
        .context(format_args!("opening {} for reading", out_path.display()))?;
    let in_path = dir.join(PIPE_IN);
    let deadline = Instant::now() + OPEN_DEADLINE;
    let to_peer = loop {
        match OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&in_path)
        {
            Ok(file) => break file,
            Err(err) if err.raw_os_error() == Some(libc::ENXIO) => {
                if !peer.is_running() || Instant::now() > deadline {
                    return Err(Error::msg(format!(
                        "the peer never opened {} for reading",
                        in_path.display()
                    )));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(err) => {
                return Err(err).context(format_args!("opening {} for writing", in_path.display()))
            }
        }
    };
    peer.expect("ready")?;
    sys::set_nonblocking(&to_peer, false).context("making pipe.in blocking")?;
    sys::set_nonblocking(&from_peer, false).context("making pipe.out blocking")?;
    Ok((to_peer, from_peer))
}

/// Peer side: opens the FIFO pair in `dir` as blocking files `(from_parent, to_parent)` and tells
/// the parent it is ready.
pub(crate) fn open_peer_ends(dir: &Path) -> Result<(File, File)> {
    let in_path = dir.join(PIPE_IN);
    let from_parent =
        File::open(&in_path).context(format_args!("opening {} for reading", in_path.display()))?;
    let out_path = dir.join(PIPE_OUT);
    let to_parent = OpenOptions::new()
        .write(true)
        .open(&out_path)
        .context(format_args!("opening {} for writing", out_path.display()))?;
    crate::peer::control::say("ready");
    Ok((from_parent, to_parent))
}
