//! The state the I/O thread and the workers share, behind one mutex: the session machine, the
//! output and the job queue. A call is completed and its answer handed to the output under the
//! same lock hold, so an answer of an ended session is never handed over (FR-SESS-2) and a
//! drain's GOODBYE always follows the last answer.

use std::collections::VecDeque;
use std::time::Duration;

use fifo_rpc_fifo::FifoError;
use fifo_rpc_protocol::session::server::{EndReason, ReplyTo, ServerSession};
use fifo_rpc_protocol::{Call, Fragmenter};
use parking_lot::{Condvar, Mutex};

use crate::log::{LogFn, ServeSummary, ServerLog};
use crate::output::{Output, Sent, WriteStatus};
use crate::shutdown::ShutdownHandle;

/// Work for a worker.
#[derive(Debug)]
pub(crate) enum Job {
    Call { call: Call, reply: ReplyTo },
    Notify { session: u32, call: Call },
}

/// Everything behind the lock.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) session: ServerSession,
    pub(crate) out: Output,
    pub(crate) jobs: VecDeque<Job>,
    pub(crate) stop_workers: bool,
    pub(crate) summary: ServeSummary,
    /// Write errors other than `EPIPE`, kept for the I/O thread to log.
    pub(crate) write_errors: Vec<FifoError>,
}

/// The lock and what waits on it.
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    /// Workers wait here for jobs.
    pub(crate) work: Condvar,
    pub(crate) handle: ShutdownHandle,
    pub(crate) log: Option<LogFn>,
    pub(crate) write_timeout: Duration,
}

impl Shared {
    /// See [`Context::cancelled`](crate::Context::cancelled).
    pub(crate) fn is_cancelled(&self, reply: &ReplyTo) -> bool {
        self.state.lock().session.is_cancelled(reply)
    }

    pub(crate) fn log(&self, record: ServerLog) {
        if let Some(log) = &self.log {
            log(&record);
        }
    }
}

impl State {
    /// Writes the frames the session machine queued. Returns `true` if the I/O thread must look.
    pub(crate) fn flush_session(&mut self) -> bool {
        let mut staging = std::mem::take(&mut self.out.staging);
        staging.clear();
        let mut attention = false;
        if self.session.poll_transmit(&mut staging).is_some() {
            attention |= self.write_answers(&staging);
        }
        staging.clear();
        self.out.staging = staging;
        attention | self.session.has_events() | self.session.is_closed()
    }

    /// Writes whole frames of the current session; on `EPIPE` ends the session (the I/O thread
    /// handles the event). Returns `true` if the I/O thread must look.
    pub(crate) fn write_answers(&mut self, frames: &[u8]) -> bool {
        let result = self.out.write(frames);
        self.after_write(result)
    }

    /// As [`write_answers`](Self::write_answers), handing `frames` over to the backlog instead
    /// of copying what the pipe has no room for ([`Output::write_owned`]).
    pub(crate) fn write_answers_owned(&mut self, frames: &mut Vec<u8>) -> bool {
        let result = self.out.write_owned(frames);
        self.after_write(result)
    }

    /// Writes a large RESPONSE encoded while it is written ([`Output::write_streamed`]);
    /// `body` is taken over and an empty buffer given back.
    pub(crate) fn write_answer_streamed(&mut self, frames: Fragmenter, body: &mut Vec<u8>) -> bool {
        let result = self.out.write_streamed(frames, body);
        self.after_write(result)
    }

    /// Ends a write made outside the lock (see [`Output::begin_send`]).
    pub(crate) fn finish_send(
        &mut self,
        frames: &[u8],
        sent: Result<Sent, FifoError>,
        epoch: u64,
    ) -> bool {
        let result = self.out.finish_send(frames, sent, epoch);
        self.after_write(result)
    }

    fn after_write(&mut self, result: Result<WriteStatus, FifoError>) -> bool {
        match result {
            Ok(WriteStatus::Flushed | WriteStatus::Closed) => false,
            // The I/O thread polls for POLLOUT while the pipe is full.
            Ok(WriteStatus::Pending { blocked }) => blocked,
            Ok(WriteStatus::PeerGone) => {
                self.session.end_session(EndReason::PeerGone);
                true
            }
            Err(e) => {
                // Not EPIPE, not EAGAIN: the descriptor is unusable; treat the client as gone.
                self.write_errors.push(e);
                self.out.close();
                self.session.end_session(EndReason::PeerGone);
                true
            }
        }
    }

    /// Flushes the backlog under the lock (the I/O thread, on `POLLOUT`).
    pub(crate) fn flush_backlog(&mut self) {
        let result = self.out.flush();
        self.after_write(result);
    }
}
