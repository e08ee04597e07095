//! [`Conn`]: one established session and the state its callers share.
//!
//! # Concurrency design
//!
//! There is no background thread. Callers share the connection through `state`, a
//! `parking_lot::Mutex` around the sans-IO [`ClientSession`] and a slot per outstanding call, and
//! take turns in two roles:
//!
//! * **Reader (leader/follower).** A caller that waits for something (its answer, free
//!   in-flight capacity, the end of the session) becomes the reader of `pipe.out` if nobody else
//!   is (`reading`). The reader spins on non-blocking reads for `spin`, then sleeps in `poll`
//!   until its deadline; it feeds what it reads to the session and puts every answer into its
//!   call's slot, unparking the thread waiting there. When its own wait is over it releases the
//!   role and unparks one parked waiter (the first in `sleepers`), which becomes the next reader.
//!   Other waiters park (`park_timeout`) until their answer is put into their slot.
//! * **Writer.** A caller that appended frames to `tx` and finds no writer becomes the writer:
//!   it swaps `tx` for an empty buffer, writes outside the lock in chunks of whole frames of at
//!   most `PIPE_BUF` octets (FR-FRAME-10), and repeats while others appended meanwhile. Frames
//!   queued by several threads thus share one `write(2)`. A writer that finds `pipe.in` full
//!   keeps `pipe.out` drained while it waits for `POLLOUT` (FR-FIFO-13): it polls both ends if
//!   it is, or can become, the reader; otherwise the current reader drains, and wakes the writer
//!   through `writer_waker` when it gives the role up with nobody else to take it.
//! * **Streamed requests.** A blocking call with a body of 64 KiB or more that finds no writer
//!   takes the writer role without queueing its REQUEST: it encodes 64 KiB of frames at a time
//!   and writes them (`Conn::stream`), so the server reads the first frames while the rest is
//!   encoded and the encoded frames stay in cache. On a timeout the rest of the request is
//!   queued in `tx`, for the next writer to complete the message.
//!
//! EOF on `pipe.out` or `EPIPE` on `pipe.in` ends the session: the session fails every
//! outstanding call (FR-BYE-4), every waiter is unparked and every poll woken, so all of them
//! return at once with [`ClientError::ServerGone`].

use std::collections::HashMap;
use std::thread::Thread;
use std::time::Duration;

use fifo_rpc_fifo::{ClientLock, FifoReader, FifoWriter, Waker};
use fifo_rpc_protocol::session::client::{CallOutcome, ClientEvent, ClientSession, CloseReason};
use fifo_rpc_protocol::{Goodbye, GoodbyeCode, Welcome};
use parking_lot::Mutex;

use crate::error::ClientError;

/// Octets read from `pipe.out` at once.
const READ_BUF: usize = 64 * 1024;

/// Why the session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dead {
    /// This client closed it (GOODBYE `NO_ERROR`).
    Closed,
    /// EOF, `EPIPE` or an I/O failure: the server is gone.
    ServerGone,
    /// The server said GOODBYE.
    Goodbye(Goodbye),
    /// The server broke a session rule.
    Violation(&'static str),
}

impl Dead {
    /// The error of a call that was not sent because the session had ended.
    pub(crate) fn new_call_error(&self) -> ClientError {
        ClientError::Disconnected
    }

    /// The error of a call that was outstanding when the session ended without its answer.
    pub(crate) fn unknown_outcome_error(&self) -> ClientError {
        match self {
            Dead::Closed => ClientError::Disconnected,
            Dead::Violation(reason) => ClientError::ProtocolViolation { reason },
            Dead::ServerGone | Dead::Goodbye(_) => ClientError::ServerGone,
        }
    }
}

/// One outstanding call.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    /// The outcome, once it came.
    pub(crate) outcome: Option<CallOutcome>,
    /// The thread parked waiting for it.
    pub(crate) waiter: Option<Thread>,
}

/// The state callers share, behind [`Conn::state`].
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) session: ClientSession,
    pub(crate) slots: HashMap<u32, Slot>,
    /// Frames waiting to be written to `pipe.in`, whole frames only.
    pub(crate) tx: Vec<u8>,
    /// An empty buffer to swap with `tx`, so that writing allocates nothing in steady state.
    pub(crate) spare: Vec<u8>,
    /// Some thread holds the writer role.
    pub(crate) writing: bool,
    /// The writer waits for `POLLOUT` in a poll that `writer_waker` interrupts.
    pub(crate) writer_blocked: bool,
    /// Some thread holds the reader role.
    pub(crate) reading: bool,
    /// Parked waiters, in arrival order: `(token, thread)`.
    pub(crate) sleepers: Vec<(u64, Thread)>,
    pub(crate) next_token: u64,
    /// Threads waiting for in-flight capacity.
    pub(crate) capacity_waiters: usize,
    /// Set once the session ended.
    pub(crate) dead: Option<Dead>,
    /// EOF was read on `pipe.out`: nobody may read it again.
    pub(crate) eof: bool,
    /// Framing errors seen on `pipe.out` (spec §8.6: reported and skipped).
    pub(crate) framing_errors: u64,
    /// NOTIFY messages from the server, which this client does not handle.
    pub(crate) notifications: u64,
}

/// The reader's end of `pipe.out` and its buffer; only the reader role holder locks it.
#[derive(Debug)]
pub(crate) struct ReadSide {
    pub(crate) reader: FifoReader,
    pub(crate) buf: Box<[u8]>,
}

/// One established session over one pair of FIFO ends.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) state: Mutex<Shared>,
    pub(crate) read: Mutex<ReadSide>,
    pub(crate) writer: FifoWriter,
    /// Interrupts the reader's poll (close, a writer that gave up with frames left).
    pub(crate) reader_waker: Waker,
    /// Interrupts a writer's poll for `POLLOUT` (the reader role became free, close).
    pub(crate) writer_waker: Waker,
    /// Write chunk limit: `PIPE_BUF` of `pipe.in`.
    pub(crate) pipe_buf: usize,
    pub(crate) spin: Duration,
    pub(crate) welcome: Welcome,
    lock: Mutex<Option<ClientLock>>,
}

impl Conn {
    /// Wraps the parts of an established session (see [`crate::connect`]).
    pub(crate) fn new(
        parts: crate::connect::Connected,
        spin: Duration,
    ) -> Result<Conn, ClientError> {
        let crate::connect::Connected {
            lock,
            reader,
            writer,
            session,
            welcome,
        } = parts;
        let pipe_buf = writer.pipe_buf().min(usize::from(u16::MAX));
        let conn = Conn {
            state: Mutex::new(Shared {
                session,
                slots: HashMap::new(),
                tx: Vec::with_capacity(pipe_buf),
                spare: Vec::with_capacity(pipe_buf),
                writing: false,
                writer_blocked: false,
                reading: false,
                sleepers: Vec::new(),
                next_token: 0,
                capacity_waiters: 0,
                dead: None,
                eof: false,
                framing_errors: 0,
                notifications: 0,
            }),
            read: Mutex::new(ReadSide {
                reader,
                buf: vec![0u8; READ_BUF].into_boxed_slice(),
            }),
            writer,
            reader_waker: Waker::new()?,
            writer_waker: Waker::new()?,
            pipe_buf,
            spin,
            welcome,
            lock: Mutex::new(Some(lock)),
        };
        // Bytes that came with WELCOME may already have produced events.
        conn.dispatch(&mut conn.state.lock());
        Ok(conn)
    }

    /// Hands the session's events to the slots and wakes whoever they concern. Called with the
    /// state locked after every `handle_bytes`/`handle_eof`/`goodbye`.
    pub(crate) fn dispatch(&self, g: &mut Shared) {
        let outstanding_before = g.session.outstanding();
        let mut ended = false;
        while let Some(event) = g.session.poll_event() {
            match event {
                ClientEvent::Reply { request, outcome } => {
                    if let Some(slot) = g.slots.get_mut(&request) {
                        slot.outcome = Some(outcome);
                        if let Some(waiter) = slot.waiter.take() {
                            waiter.unpark();
                        }
                    }
                }
                ClientEvent::Closed { reason } => {
                    if g.dead.is_none() {
                        g.dead = Some(match reason {
                            CloseReason::Local => Dead::Closed,
                            CloseReason::Goodbye(goodbye) | CloseReason::Rejected(goodbye) => {
                                Dead::Goodbye(goodbye)
                            }
                            CloseReason::ProtocolViolation { reason, .. } => {
                                Dead::Violation(reason)
                            }
                            _ => Dead::ServerGone,
                        });
                    }
                    ended = true;
                }
                ClientEvent::FramingError(_) => g.framing_errors += 1,
                ClientEvent::Notify(_) => g.notifications += 1,
                _ => {}
            }
        }
        if ended {
            // Frames not written yet belong to calls that just failed: never send them. What
            // the session queued itself (GOODBYE `PROTOCOL_ERROR`) still goes out.
            g.tx.clear();
        }
        let s = &mut *g;
        s.session.poll_transmit(&mut s.tx);
        if ended {
            self.wake_all(g);
        } else if g.capacity_waiters > 0 && g.session.outstanding() < outstanding_before {
            for (_, thread) in &g.sleepers {
                thread.unpark();
            }
        }
    }

    /// The session ended: unpark every waiter and interrupt every poll.
    pub(crate) fn wake_all(&self, g: &Shared) {
        for (_, thread) in &g.sleepers {
            thread.unpark();
        }
        for slot in g.slots.values() {
            if let Some(waiter) = &slot.waiter {
                waiter.unpark();
            }
        }
        let _ = self.reader_waker.wake();
        let _ = self.writer_waker.wake();
    }

    /// The server is gone (EOF, `EPIPE`, an I/O failure): fail every outstanding call.
    pub(crate) fn server_gone(&self, g: &mut Shared) {
        g.session.handle_eof();
        if g.dead.is_none() {
            g.dead = Some(Dead::ServerGone);
        }
        self.dispatch(g);
        self.wake_all(g);
    }

    /// Closes the session from this side: GOODBYE `NO_ERROR` (FR-BYE-1), written if `pipe.in`
    /// has room for it (the server drops the session at EOF anyway), then `client.lock` is
    /// released. Idempotent.
    pub(crate) fn close(&self) {
        {
            let mut g = self.state.lock();
            if g.dead.is_none() {
                let mut goodbye = Vec::new();
                g.session.goodbye(&mut goodbye);
                self.dispatch(&mut g); // fails the outstanding calls, drops unwritten frames
                g.tx.extend_from_slice(&goodbye);
                drop(self.flush(g, Some(std::time::Instant::now()), false));
            }
        }
        self.lock.lock().take();
    }

    /// The server's WELCOME.
    pub(crate) fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    /// `true` while the session lasts.
    pub(crate) fn is_alive(&self) -> bool {
        self.state.lock().dead.is_none()
    }

    /// `true` if the server said GOODBYE `SHUTTING_DOWN`.
    pub(crate) fn server_shut_down(g: &Shared) -> bool {
        matches!(&g.dead, Some(Dead::Goodbye(b)) if GoodbyeCode(b.code) == GoodbyeCode::SHUTTING_DOWN)
    }
}
