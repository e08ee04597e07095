//! One call from start to end: queue the REQUEST, wait for its answer, cancel on timeout; and
//! [`PendingCall`], a call whose answer is collected later.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fifo_rpc_protocol::session::client::{CallOutcome, StreamedRequest};
use fifo_rpc_protocol::ProtocolError;

use crate::conn::{Conn, Dead, Shared, Slot};
use crate::error::ClientError;
use crate::write::{WriteFail, STREAM_CHUNK};

/// A call started with [`Client::send_raw`](crate::Client::send_raw) whose answer has not been collected yet.
///
/// Dropping it without [`wait`](Self::wait) cancels the call (CANCEL is queued).
#[derive(Debug)]
#[must_use = "dropping a PendingCall cancels the call"]
pub struct PendingCall<'a> {
    pub(crate) conn: Arc<Conn>,
    pub(crate) request: u32,
    pub(crate) method: &'a str,
    pub(crate) timeout: Option<Duration>,
    pub(crate) done: bool,
}

impl PendingCall<'_> {
    /// The call's Request ID.
    pub fn request_id(&self) -> u32 {
        self.request
    }

    /// Waits for the answer, at most the call timeout from now.
    ///
    /// # Errors
    /// As [`Client::call_raw`](crate::Client::call_raw).
    pub fn wait(self) -> Result<Vec<u8>, ClientError> {
        let timeout = self.timeout;
        self.wait_timeout(timeout)
    }

    /// Waits for the answer, at most `timeout` from now (`None`: no limit).
    ///
    /// # Errors
    /// As [`Client::call_raw`](crate::Client::call_raw).
    pub fn wait_timeout(mut self, timeout: Option<Duration>) -> Result<Vec<u8>, ClientError> {
        self.done = true;
        wait_answer(
            &self.conn,
            self.request,
            self.method,
            deadline_of(timeout),
            timeout,
        )
    }
}

impl Drop for PendingCall<'_> {
    fn drop(&mut self) {
        if !self.done {
            abandon(&self.conn, self.request);
        }
    }
}

pub(crate) fn deadline_of(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| Instant::now() + t)
}

/// One blocking call: submit, then wait.
pub(crate) fn call_on(
    conn: &Conn,
    method: &str,
    body: &[u8],
    timeout: Option<Duration>,
) -> Result<Vec<u8>, ClientError> {
    let deadline = deadline_of(timeout);
    let request = submit(conn, method, body, (deadline, timeout), true)?;
    wait_answer(conn, request, method, deadline, timeout)
}

/// Queues the REQUEST (waiting for in-flight room if needed) and, if `write_now` or a full
/// `PIPE_BUF` is queued, writes. Returns the Request ID.
pub(crate) fn submit(
    conn: &Conn,
    method: &str,
    body: &[u8],
    (deadline, timeout): (Option<Instant>, Option<Duration>),
    write_now: bool,
) -> Result<u32, ClientError> {
    // A large request is encoded while it is written, a chunk at a time (`Conn::stream`).
    let streamed = write_now && body.len() >= STREAM_CHUNK;
    let mut g = conn.state.lock();
    let started = loop {
        if let Some(dead) = &g.dead {
            return Err(dead.new_call_error());
        }
        let s = &mut *g;
        let started = if streamed {
            s.session
                .start_call_streamed(method, body.len())
                .map(Started::Streamed)
        } else {
            s.session
                .start_call(method, body, &mut s.tx)
                .map(Started::Queued)
        };
        match started {
            Ok(started) => break started,
            Err(ProtocolError::InFlightLimit { max }) => {
                // FR-CALL-4: wait for a free place, reading answers meanwhile if nobody does.
                g.capacity_waiters += 1;
                drop(g);
                let room = conn.wait_for(deadline, None, |g| {
                    (g.dead.is_some() || g.session.outstanding() < max as usize).then_some(())
                });
                g = conn.state.lock();
                g.capacity_waiters -= 1;
                if room.is_none() {
                    return Err(ClientError::Timeout {
                        method: method.to_owned(),
                        after: timeout.unwrap_or_default(),
                    });
                }
            }
            Err(e) => return Err(e.into()),
        }
    };
    let request = match started {
        Started::Queued(request) => {
            g.slots.insert(request, Slot::default());
            if write_now || g.tx.len() >= conn.pipe_buf {
                let (g, result) = conn.flush(g, deadline, false);
                if let Err(WriteFail::Fifo(e)) = result {
                    drop(g);
                    return Err(e.into());
                }
            }
            request
        }
        Started::Streamed(call) => {
            let request = call.request();
            g.slots.insert(request, Slot::default());
            let (g, result) = conn.stream(g, call, method, body, deadline);
            if let Err(WriteFail::Fifo(e)) = result {
                drop(g);
                return Err(e.into());
            }
            request
        }
    };
    Ok(request)
}

/// A call whose REQUEST is queued whole, or one to encode while it is written.
enum Started {
    Queued(u32),
    Streamed(StreamedRequest),
}

/// Waits for the answer of `request`; on timeout cancels it (FR-CANCEL-1).
fn wait_answer(
    conn: &Conn,
    request: u32,
    method: &str,
    deadline: Option<Instant>,
    timeout: Option<Duration>,
) -> Result<Vec<u8>, ClientError> {
    let taken = conn.wait_for(deadline, Some(request), |g| take_outcome(g, request));
    let (outcome, dead) = match taken {
        Some(taken) => taken,
        None => {
            let mut g = conn.state.lock();
            match take_outcome(&mut g, request) {
                Some(taken) => taken, // came just now
                None => {
                    g.slots.remove(&request);
                    let s = &mut *g;
                    if s.session.cancel(request, &mut s.tx) {
                        // Written now if the pipe has room, else by the next writer.
                        drop(conn.flush(g, Some(Instant::now()), false));
                    }
                    return Err(ClientError::Timeout {
                        method: method.to_owned(),
                        after: timeout.unwrap_or_default(),
                    });
                }
            }
        }
    };
    match outcome {
        CallOutcome::Ok(body) => Ok(body),
        CallOutcome::Remote {
            code,
            message,
            details,
        } => Err(ClientError::Remote {
            code,
            name: code.name(),
            message,
            details,
        }),
        CallOutcome::NotProcessed => Err(ClientError::NotProcessed),
        CallOutcome::Dropped(e) => Err(ClientError::Protocol(e)),
        _ => Err(dead.map_or(ClientError::ServerGone, |d| d.unknown_outcome_error())),
    }
}

/// Removes the slot of `request` if its outcome came: `(outcome, how the session ended)`.
fn take_outcome(g: &mut Shared, request: u32) -> Option<(CallOutcome, Option<Dead>)> {
    g.slots.get(&request)?.outcome.as_ref()?;
    let outcome = g.slots.remove(&request)?.outcome?;
    Some((outcome, g.dead.clone()))
}

/// Forgets a call nobody waits for any more: CANCEL if it is still outstanding.
fn abandon(conn: &Conn, request: u32) {
    let mut g = conn.state.lock();
    if g.slots
        .remove(&request)
        .is_some_and(|slot| slot.outcome.is_none())
    {
        let s = &mut *g;
        s.session.cancel(request, &mut s.tx);
    }
}
