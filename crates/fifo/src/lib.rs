//! Every FIFO system call of fifo-rpc: the FIFO transport binding of FIFO-RPC/1 (spec §9).
//!
//! A service lives in one directory D with four files:
//!
//! | path | kind | created by | used for |
//! |---|---|---|---|
//! | `D/lock` | regular file, 0600 | server | [`ServerLock`]: one live server per D |
//! | `D/pipe.in` ([`PIPE_IN`]) | FIFO, 0600 | server | frames from client to server |
//! | `D/pipe.out` ([`PIPE_OUT`]) | FIFO, 0600 | server | frames from server to client |
//! | `D/client.lock` ([`CLIENT_LOCK`]) | regular file, 0600 | server | [`ClientLock`]: one client at a time |
//!
//! This crate is the only place where fifo-rpc talks to the kernel about FIFOs, so that each
//! system call can be reviewed here. Every OS-facing function lists its calls in a
//! `## System calls` section. The rules it implements:
//!
//! * D is opened once, `O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC`, and verified (directory, owned by the
//!   effective uid, not writable by group or others); every later operation is relative to that
//!   descriptor ([`ServiceDir`], FR-FIFO-1, FR-FIFO-2).
//! * Every open uses `O_NOFOLLOW|O_CLOEXEC` (and `O_NONBLOCK`) and is followed by `fstat` checks
//!   of kind, owner and mode; a refusal names the path and the failed check (FR-FIFO-3).
//! * No open ever blocks: read ends first, then write ends, where `ENXIO` means "no reader yet"
//!   ([`ServiceDir::open_writer`] returns `Ok(None)`, FR-FIFO-7, FR-FIFO-8).
//! * Reads and writes never block; waits use `poll` with a deadline and a [`Waker`], and retry
//!   `EINTR` with the time left ([`wait`], FR-FIFO-11, FR-FIFO-12).
//! * A write never lets `SIGPIPE` kill the process, whatever its disposition; `EPIPE` becomes
//!   [`FifoError::PeerGone`] ([`FifoWriter::write`], FR-FIFO-17).
//! * A read end that reports `POLLHUP` is reopened rather than polled again
//!   ([`FifoReader::reopen`], FR-FIFO-15).
//!
//! # Example: a server and a client end in one process
//!
//! ```
//! use std::time::{Duration, Instant};
//! use fifo_rpc_fifo::{ClientLock, ReadOutcome, ServerLock, ServiceDir, PIPE_IN, PIPE_OUT};
//!
//! let tmp = tempfile::tempdir()?;
//! let deadline = Some(Instant::now() + Duration::from_secs(10));
//!
//! // Server start (§9.2).
//! let dir = ServiceDir::create_or_verify(tmp.path().join("svc"))?;
//! let lock = ServerLock::acquire(&dir)?;
//! lock.reclaim_and_create()?;
//! let mut server_in = dir.open_reader(PIPE_IN)?;
//!
//! // Client connect (§9.4): lock, read end first, then write end.
//! let client_dir = ServiceDir::open_existing(tmp.path().join("svc"))?;
//! let _session = ClientLock::try_acquire(&client_dir)?.expect("no other client");
//! let mut client_in = client_dir.open_reader(PIPE_OUT)?;
//! let client_out = client_dir.open_writer(PIPE_IN)?.expect("the server is reading");
//! client_out.write_frame_blocking(b"hello", deadline, None)?;
//!
//! // The server answers on pipe.out.
//! server_in.wait_readable(deadline, None)?;
//! let mut buf = [0u8; 64];
//! assert_eq!(server_in.read(&mut buf)?, ReadOutcome::Data(5));
//! let server_out = dir.open_writer(PIPE_OUT)?.expect("the client is reading");
//! server_out.write_frame_blocking(b"welcome", deadline, None)?;
//! client_in.wait_readable(deadline, None)?;
//! assert_eq!(client_in.read(&mut buf)?, ReadOutcome::Data(7));
//!
//! // Shutdown (§9.8).
//! drop(server_out);
//! lock.remove_files()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod check;
mod dir;
mod error;
mod files;
mod io;
mod lock;
mod open;
mod poll;
mod sigpipe;
mod wake;

pub use dir::{ServiceDir, DIR_MODE};
pub use error::{FifoError, FileKind, Result};
pub use files::{PIPE_IN, PIPE_OUT};
pub use io::{FifoReader, FifoWriter, ReadOutcome, WriteOutcome};
pub use lock::{ClientLock, ServerLock, CLIENT_LOCK, FILE_MODE, LOCK};
pub use poll::{wait, Events, Interest, Readiness, MAX_WAIT_FDS};
pub use sigpipe::SigpipeGuard;
pub use wake::Waker;
