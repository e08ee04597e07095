//! Client connect, spec §9.4: wait for the server's files, take `client.lock`, open `pipe.out`
//! then `pipe.in`, send HELLO, wait for WELCOME, all before one deadline.

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use fifo_rpc_fifo::{
    ClientLock, FifoError, FifoReader, FifoWriter, ReadOutcome, ServiceDir, PIPE_IN, PIPE_OUT,
};
use fifo_rpc_protocol::session::client::{
    ClientEvent, ClientSession, ClientSessionConfig, CloseReason,
};
use fifo_rpc_protocol::{GoodbyeCode, Welcome};

use crate::config::ClientConfig;
use crate::error::ClientError;

/// The parts of an established session.
#[derive(Debug)]
pub(crate) struct Connected {
    pub(crate) lock: ClientLock,
    pub(crate) reader: FifoReader,
    pub(crate) writer: FifoWriter,
    pub(crate) session: ClientSession,
    pub(crate) welcome: Welcome,
}

/// What stopped one attempt short of a session.
enum NotYet {
    /// No directory, no files, no reader on `pipe.in`, or the server closed before WELCOME.
    NoServer,
    /// `client.lock` is held by another client.
    Busy,
}

/// Connects per spec §9.4, retrying with a growing pause (1 ms to 50 ms) until
/// `config.connect_timeout` has passed. Never blocks past the deadline.
pub(crate) fn connect(dir: &Path, config: &ClientConfig) -> Result<Connected, ClientError> {
    let start = Instant::now();
    let deadline = start + config.connect_timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        let last = match attempt(dir, config, deadline)? {
            Ok(connected) => return Ok(connected),
            Err(not_yet) => not_yet,
        };
        let now = Instant::now();
        if now >= deadline {
            let (dir, waited) = (dir.to_path_buf(), now - start);
            return Err(match last {
                NotYet::NoServer => ClientError::NoServer { dir, waited },
                NotYet::Busy => ClientError::Busy { dir, waited },
            });
        }
        // FR-FIFO-11: a bounded pause, not a busy loop.
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// One pass through steps 1-5. Every resource is dropped when the pass fails, so the next pass
/// sees files a new server may have created meanwhile (FR-FIFO-6 replaces the inodes).
fn attempt(
    dir: &Path,
    config: &ClientConfig,
    deadline: Instant,
) -> Result<Result<Connected, NotYet>, ClientError> {
    use NotYet::{Busy, NoServer};
    // 1. Verify D.
    let service = match config.server_uid {
        Some(uid) => ServiceDir::open_existing_owned_by(dir, uid),
        None => ServiceDir::open_existing(dir),
    };
    let service = match not_found_is_none(service)? {
        Some(s) => s,
        None => return Ok(Err(NoServer)),
    };
    // 2. client.lock: ENOENT means no server yet, a held lock another client (FR-FIFO-10).
    let lock = match not_found_is_none(ClientLock::try_acquire(&service))? {
        Some(Some(lock)) => lock,
        Some(None) => return Ok(Err(Busy)),
        None => return Ok(Err(NoServer)),
    };
    // 3. The end this client reads, first (FR-FIFO-7).
    let Some(reader) = not_found_is_none(service.open_reader(PIPE_OUT))? else {
        return Ok(Err(NoServer));
    };
    // 4. The end it writes; ENXIO (None) means the server is not reading yet (FR-FIFO-8).
    let Some(Some(writer)) = not_found_is_none(service.open_writer(PIPE_IN))? else {
        return Ok(Err(NoServer));
    };
    if let Some(bytes) = config.pipe_size {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let _ = reader.set_pipe_size(bytes); // best effort, documented as such
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let _ = bytes;
    }
    // 5. HELLO, then WELCOME.
    let pipe_buf = reader.pipe_buf().min(writer.pipe_buf());
    let max_frame = config.max_frame.unwrap_or(pipe_buf).min(pipe_buf);
    let mut session_config = ClientSessionConfig::new(random_session_id(), max_frame);
    session_config.max_message = config.max_message;
    session_config.client_pid = std::process::id();
    session_config.encoding = config.encoding.clone();
    let mut session = ClientSession::new(session_config)?;
    let mut hello = Vec::new();
    session.hello(&mut hello)?;
    match writer.write_frame_blocking(&hello, Some(deadline), None) {
        Ok(()) => {}
        // The server went away between our open and our write: it may be restarting.
        Err(FifoError::PeerGone { .. } | FifoError::TimedOut { .. }) => return Ok(Err(NoServer)),
        Err(e) => return Err(e.into()),
    }
    let mut reader = reader;
    match handshake(&mut session, &mut reader, &writer, deadline)? {
        Some(welcome) => Ok(Ok(Connected {
            lock,
            reader,
            writer,
            session,
            welcome,
        })),
        None => Ok(Err(NoServer)),
    }
}

/// Reads `pipe.out` until WELCOME (`Some`), the server closing it or the deadline (`None`), or a
/// refusal (`Err`).
fn handshake(
    session: &mut ClientSession,
    reader: &mut FifoReader,
    writer: &FifoWriter,
    deadline: Instant,
) -> Result<Option<Welcome>, ClientError> {
    let mut buf = vec![0u8; 4096];
    let mut hung_up = false;
    loop {
        match reader.read(&mut buf)? {
            ReadOutcome::Data(n) => session.handle_bytes(&buf[..n]),
            // Before WELCOME, 0 octets means "no writer yet" unless POLLHUP said that a writer
            // came and went (FR-FIFO-14): then the server closed without answering.
            ReadOutcome::Eof if hung_up => session.handle_eof(),
            ReadOutcome::Eof | ReadOutcome::WouldBlock => {
                match reader.wait_readable(Some(deadline), None) {
                    Ok(readiness) => hung_up = readiness.hangup,
                    Err(FifoError::TimedOut { .. }) => return Ok(None),
                    Err(e) => return Err(e.into()),
                }
                continue;
            }
        }
        while let Some(event) = session.poll_event() {
            match event {
                ClientEvent::Established(welcome) => return Ok(Some(welcome)),
                ClientEvent::Closed { reason } => return closed(reason, session, writer, deadline),
                _ => {} // framing errors of stray bytes: skipped (spec §8.6)
            }
        }
    }
}

/// The handshake ended without WELCOME.
fn closed(
    reason: CloseReason,
    session: &mut ClientSession,
    writer: &FifoWriter,
    deadline: Instant,
) -> Result<Option<Welcome>, ClientError> {
    match reason {
        CloseReason::Rejected(goodbye) => Err(ClientError::Rejected {
            code: GoodbyeCode(goodbye.code).normalized(),
            message: goodbye.message,
        }),
        CloseReason::ProtocolViolation { reason, .. } => {
            let mut bye = Vec::new();
            session.poll_transmit(&mut bye);
            let _ = writer.write_frame_blocking(&bye, Some(deadline), None);
            Err(ClientError::ProtocolViolation { reason })
        }
        // The server closed pipe.out without answering (it may be stopping): retry.
        _ => Ok(None),
    }
}

/// `Ok(None)` for [`FifoError::NotFound`]: the server has not created the file (yet).
fn not_found_is_none<T>(result: Result<T, FifoError>) -> Result<Option<T>, ClientError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(FifoError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A random non-zero Session ID (FR-HS-1).
fn random_session_id() -> u32 {
    loop {
        let id: u32 = rand::random();
        if id != 0 {
            return id;
        }
    }
}
