//! The I/O thread: reads `pipe.in`, drives the session machine, opens and closes `pipe.out`,
//! flushes the write backlog, hands calls to the workers (or runs them inline), and decides when
//! serving is over.
//!
//! It sleeps only in `poll` on `pipe.in`, the waker and, while answers wait for room, `pipe.out`
//! (`POLLOUT`, with the write timeout as deadline). Without a backlog the wait has no timeout, so
//! an idle server uses no CPU (FR-FIFO-16). After activity it may first spin on non-blocking reads
//! for a bounded time (FR-FIFO-11), which saves the wake-up of a blocked thread when the next
//! request follows quickly. Every empty round of the spin yields the CPU, so a client that shares
//! the CPU with the server still runs while the server spins.

use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fifo_rpc_fifo::{wait, FifoReader, Interest, ReadOutcome, Readiness, ServiceDir};
use fifo_rpc_protocol::session::server::{EndReason, ReplyTo, ServerEvent};
use fifo_rpc_protocol::Call;

use crate::call::{run_call, run_notify, CallBuffers, Outcome};
use crate::error::ServerError;
use crate::log::ServerLog;
use crate::router::Router;
use crate::state::{Job, Shared, State};

/// Size of the buffer `pipe.in` is read into: a full default pipe in one `read(2)`.
const READ_BUF: usize = 64 * 1024;

/// The I/O thread's state; lives on the thread that called `serve`.
pub(crate) struct Io<'a> {
    shared: &'a Shared,
    router: &'a Router,
    dir: &'a ServiceDir,
    reader: &'a mut FifoReader,
    inline: bool,
    spin: Duration,
    rbuf: Vec<u8>,
    /// Inline mode: calls and notifications read in this round, run after the lock is released.
    calls: Vec<(Call, ReplyTo)>,
    notifies: Vec<(u32, Call)>,
    /// Inline mode: the encoded answers of one round, written with as few writes as possible.
    answers: Vec<u8>,
    answered: Vec<Answered>,
    bufs: CallBuffers,
    logs: Vec<ServerLog>,
    shutdown_begun: bool,
    /// The last read filled the buffer: `pipe.in` may hold more, so it is not known drained.
    full_read: bool,
}

impl<'a> Io<'a> {
    pub(crate) fn new(
        shared: &'a Shared,
        router: &'a Router,
        dir: &'a ServiceDir,
        reader: &'a mut FifoReader,
        inline: bool,
        spin: Duration,
    ) -> Self {
        Self {
            shared,
            router,
            dir,
            reader,
            inline,
            spin,
            rbuf: vec![0; READ_BUF],
            calls: Vec::new(),
            notifies: Vec::new(),
            answers: Vec::with_capacity(READ_BUF),
            answered: Vec::new(),
            bufs: CallBuffers::default(),
            logs: Vec::new(),
            shutdown_begun: false,
            full_read: false,
        }
    }

    /// Serves until the session machine is closed (graceful shutdown done) and its last frames
    /// are written or the write timeout gave up on them.
    pub(crate) fn run(&mut self) -> Result<(), ServerError> {
        let mut spin_until: Option<Instant> = None;
        loop {
            if self.shared.handle.is_requested() && !self.shutdown_begun {
                self.begin_shutdown()?;
            }
            // The session machine closes only after begin_shutdown: no lock needed before.
            if self.shutdown_begun && self.finished() {
                return Ok(());
            }
            if let Some(until) = spin_until {
                // Bounded spin on non-blocking reads after activity (FR-FIFO-11).
                match self.reader.read(&mut self.rbuf)? {
                    ReadOutcome::Data(n) => {
                        self.on_data(n)?;
                        spin_until = Some(Instant::now() + self.spin);
                        if !self.full_read {
                            // pipe.in was emptied and its requests answered: the client needs
                            // a CPU to read them and send more, so yield before reading again.
                            std::thread::yield_now();
                        }
                        continue;
                    }
                    ReadOutcome::Eof if self.established() => {
                        self.on_eof()?;
                        spin_until = None;
                        continue;
                    }
                    ReadOutcome::WouldBlock => self.drained()?,
                    ReadOutcome::Eof => {}
                }
                if self.shared.handle.attention_pending() {
                    self.shared.handle.take_attention();
                    self.settle_after(|_| {})?;
                } else if Instant::now() < until && !self.shared.handle.is_requested() {
                    // Yield rather than burn: a client on this CPU gets to run and send.
                    std::thread::yield_now();
                    continue;
                }
                spin_until = None;
                continue;
            }
            let woke = self.wait_once()?;
            if woke.input && !self.spin.is_zero() {
                spin_until = Some(Instant::now() + self.spin);
            }
        }
    }

    /// One `poll`, then whatever it reported. Returns what happened.
    fn wait_once(&mut self) -> Result<Woke, ServerError> {
        let (writer, deadline) = {
            let st = self.shared.state.lock();
            if st.out.is_blocked() {
                let deadline = st.out.stalled_since.map(|t| t + self.shared.write_timeout);
                (st.out.writer_for_poll(), deadline)
            } else {
                (None, None)
            }
        };
        let waker = Some(&self.shared.handle.state.waker);
        let (input, output, woken, timed_out) = match &writer {
            Some(w) => {
                let fds = [
                    (self.reader.as_fd(), Interest::Read),
                    (w.as_fd(), Interest::Write),
                ];
                let ev = wait(fds, waker, deadline)?;
                (ev.ready[0], ev.ready[1], ev.woken, ev.timed_out)
            }
            None => {
                // Idle: no timeout at all (FR-FIFO-16).
                let ev = wait([(self.reader.as_fd(), Interest::Read)], waker, None)?;
                (ev.ready[0], Readiness::default(), ev.woken, ev.timed_out)
            }
        };
        drop(writer);
        if woken {
            self.shared.handle.take_attention();
            self.settle_after(|_| {})?;
        }
        if output.any() {
            self.settle_after(State::flush_backlog)?;
        }
        if timed_out || deadline.is_some_and(|d| Instant::now() >= d) {
            self.check_stall()?;
        }
        let input_ready = input.readable || input.hangup || input.error;
        if input_ready {
            self.read_ready(input.hangup)?;
        }
        Ok(Woke { input: input_ready })
    }

    /// Reads what `poll` reported on `pipe.in`. After `POLLHUP` it reads to the end of stream and
    /// reopens the read end (FR-FIFO-15), so the hang-up is never polled again.
    fn read_ready(&mut self, hangup: bool) -> Result<(), ServerError> {
        loop {
            match self.reader.read(&mut self.rbuf)? {
                ReadOutcome::Data(n) => {
                    self.on_data(n)?;
                    if n < self.rbuf.len() && !hangup {
                        return Ok(());
                    }
                }
                ReadOutcome::Eof => return self.on_eof(),
                ReadOutcome::WouldBlock => return self.drained(),
            }
        }
    }

    fn on_data(&mut self, n: usize) -> Result<(), ServerError> {
        let shared = self.shared;
        // A short read emptied the FIFO (FR-DEC-7).
        self.full_read = n == self.rbuf.len();
        {
            let mut st = shared.state.lock();
            st.session.handle_bytes(&self.rbuf[..n]);
            if !self.full_read {
                st.session.handle_drained();
            }
            self.after_session(&mut st);
        }
        self.settle()
    }

    /// A read found `pipe.in` empty right after a read that filled the buffer (FR-DEC-7).
    fn drained(&mut self) -> Result<(), ServerError> {
        if !self.full_read {
            return Ok(());
        }
        self.full_read = false;
        self.settle_after(|st| st.session.handle_drained())
    }

    /// End of stream: every writer of `pipe.in` is gone. Ends the session (FR-FIFO-14), drops
    /// partial state, and reopens the read end for the next client (FR-FIFO-15).
    fn on_eof(&mut self) -> Result<(), ServerError> {
        self.settle_after(|st| st.session.handle_eof())?;
        self.reader.reopen()?;
        Ok(())
    }

    fn begin_shutdown(&mut self) -> Result<(), ServerError> {
        self.shutdown_begun = true;
        self.logs.push(ServerLog::ShutdownStarted);
        self.settle_after(|st| st.session.begin_shutdown())
    }

    /// The write backlog made no progress for the write timeout: the client does not read.
    fn check_stall(&mut self) -> Result<(), ServerError> {
        let shared = self.shared;
        {
            let mut st = shared.state.lock();
            let stalled = st.out.has_backlog()
                && st
                    .out
                    .stalled_since
                    .is_some_and(|t| t.elapsed() >= shared.write_timeout);
            if stalled && !st.session.is_closed() {
                if let Some(session) = st.session.session_id() {
                    st.summary.slow_readers += 1;
                    self.logs.push(ServerLog::SlowReader {
                        session,
                        timeout: shared.write_timeout,
                    });
                    st.out.discard_backlog();
                    // Queues GOODBYE SLOW_READER; written below if the pipe has room for it.
                    st.session.end_session(EndReason::SlowReader);
                    self.after_session(&mut st);
                }
                st.out.close();
            }
        }
        self.settle()
    }

    /// `true` when serving is over: the session machine is closed and its last frames are
    /// written, or the client did not read them within the write timeout.
    fn finished(&mut self) -> bool {
        let st = self.shared.state.lock();
        if !st.session.is_closed() || st.out.is_busy() {
            return false;
        }
        if st.out.has_backlog() {
            let given_up = st
                .out
                .stalled_since
                .is_some_and(|t| t.elapsed() >= self.shared.write_timeout);
            if !given_up {
                return false;
            }
            let bytes = st.out.backlog_len();
            drop(st);
            self.shared.log(ServerLog::UnflushedAtExit { bytes });
        }
        true
    }

    fn established(&self) -> bool {
        self.shared.state.lock().session.session_id().is_some()
    }

    /// Runs `f` on the locked state, then handles what the session machine produced.
    fn settle_after(&mut self, f: impl FnOnce(&mut State)) -> Result<(), ServerError> {
        let shared = self.shared;
        {
            let mut st = shared.state.lock();
            f(&mut st);
            self.after_session(&mut st);
        }
        self.settle()
    }

    /// Outside the lock: emits the collected log records and runs inline calls.
    fn settle(&mut self) -> Result<(), ServerError> {
        for record in self.logs.drain(..) {
            self.shared.log(record);
        }
        if self.inline && !(self.calls.is_empty() && self.notifies.is_empty()) {
            self.run_inline();
        }
        Ok(())
    }

    /// Drains the session machine's events and frames until it is quiet.
    fn after_session(&mut self, st: &mut State) {
        loop {
            while let Some(event) = st.session.poll_event() {
                self.on_event(st, event);
            }
            for error in st.write_errors.drain(..) {
                self.logs.push(ServerLog::PipeOutError {
                    error: Arc::new(error),
                });
            }
            st.flush_session();
            if !st.session.has_events() {
                break;
            }
        }
        if st.out.close_when_flushed && !st.out.has_backlog() {
            st.out.close();
        }
    }

    fn on_event(&mut self, st: &mut State, event: ServerEvent) {
        match event {
            ServerEvent::SessionStarted { session, hello } => {
                st.summary.sessions += 1;
                st.out.close_when_flushed = false;
                // Spec §9.4: on HELLO the server opens pipe.out (unless still open from an earlier
                // session); ENXIO means the client is gone.
                match st.out.open(self.dir) {
                    Ok((true, refused)) => {
                        if let Some(error) = refused {
                            self.logs.push(ServerLog::PipeSizeRefused {
                                error: Arc::new(error),
                            });
                        }
                    }
                    Ok((false, _)) => st.session.end_session(EndReason::PeerGone),
                    Err(error) => {
                        self.logs.push(ServerLog::PipeOutError {
                            error: Arc::new(error),
                        });
                        st.session.end_session(EndReason::PeerGone);
                    }
                }
                let encoding = hello.encoding;
                self.logs.push(ServerLog::SessionStarted {
                    session,
                    client_pid: hello.client_pid,
                    encoding,
                });
            }
            ServerEvent::HandshakeRejected { session, code } => {
                st.summary.rejected_handshakes += 1;
                if let Err(error) = st.out.open(self.dir) {
                    self.logs.push(ServerLog::PipeOutError {
                        error: Arc::new(error),
                    });
                }
                self.logs
                    .push(ServerLog::HandshakeRejected { session, code });
            }
            ServerEvent::Call { call, reply, .. } => {
                if self.inline {
                    if st.session.start_call(&reply) {
                        self.calls.push((call, reply));
                    }
                } else {
                    st.jobs.push_back(Job::Call { call, reply });
                    self.shared.work.notify_one();
                }
            }
            ServerEvent::Notify { session, call } => {
                if self.inline {
                    self.notifies.push((session, call));
                } else {
                    st.jobs.push_back(Job::Notify { session, call });
                    self.shared.work.notify_one();
                }
            }
            ServerEvent::SessionEnded { session, reason } => {
                // Large buffers kept for a stream of large calls go with the session (the
                // backlog's and the reassembler's are released by their owners).
                self.bufs.release();
                if self.answers.capacity() > 4 * READ_BUF {
                    self.answers = Vec::with_capacity(READ_BUF);
                }
                match reason {
                    // A final GOODBYE follows the session's last frames.
                    EndReason::ShutDown | EndReason::ProtocolViolation { .. } => {}
                    // The client does not read: it gets end of stream once the GOODBYE (if it
                    // fitted) is read.
                    EndReason::SlowReader => st.out.close_when_flushed = true,
                    EndReason::PeerGone => st.out.close(),
                    // FR-SESS-2: nothing more is written for this session. The write end stays
                    // open for the next client: closing it would show end of stream to a client
                    // that already opened pipe.out and waits for its WELCOME.
                    _ => st.out.discard_backlog(),
                }
                self.logs.push(ServerLog::SessionEnded { session, reason });
            }
            ServerEvent::FramingError(error) => {
                st.summary.framing_errors += 1;
                self.logs.push(ServerLog::FramingError { error });
            }
            ServerEvent::Discarded { frame_type, reason } => {
                st.summary.discarded_frames += 1;
                if self.shared.log.is_some() {
                    self.logs.push(ServerLog::Discarded { frame_type, reason });
                }
            }
            // A running call was cancelled: its handler sees it through Context::cancelled.
            ServerEvent::Cancel { .. } => {}
            _ => {}
        }
    }

    /// Inline mode (`workers(0)`): runs the calls of this round on the I/O thread and writes all
    /// their answers together.
    fn run_inline(&mut self) {
        let shared = self.shared;
        while !(self.calls.is_empty() && self.notifies.is_empty()) {
            self.answers.clear();
            self.answered.clear();
            let mut calls = std::mem::take(&mut self.calls);
            let mut spent: Option<Vec<u8>> = None;
            // The answer of a round's only call may be encoded while it is written.
            let stream = calls.len() == 1;
            for (call, reply) in calls.drain(..) {
                let start = self.answers.len();
                let outcome = run_call(
                    self.router,
                    shared,
                    &call,
                    &reply,
                    &mut self.bufs,
                    &mut self.answers,
                    stream,
                );
                let end = self.answers.len();
                // The largest request buffer of the round goes back to the reassembler.
                let payload = call.into_payload();
                if spent.as_ref().map_or(0, Vec::capacity) < payload.capacity() {
                    spent = Some(payload);
                }
                self.answered.push(Answered {
                    reply,
                    start,
                    end,
                    outcome,
                    current: false,
                });
            }
            self.calls = calls;
            let mut notified = 0;
            let mut notifies = std::mem::take(&mut self.notifies);
            for (session, call) in notifies.drain(..) {
                notified += u64::from(run_notify(self.router, shared, session, &call));
            }
            self.notifies = notifies;
            let used = self.answers.len();
            {
                let mut st = shared.state.lock();
                if let Some(buf) = spent {
                    st.session.recycle(buf);
                }
                st.summary.notifications += notified;
                let mut all_current = true;
                for a in &mut self.answered {
                    a.outcome.count(&mut st.summary);
                    a.current = st.session.complete(&a.reply);
                    all_current &= a.current;
                }
                if all_current {
                    // A large answer that does not fit the pipe becomes the backlog as it is.
                    st.write_answers_owned(&mut self.answers);
                } else {
                    // Some calls ended with their session (FR-SESS-2): write only the others.
                    let mut kept = Vec::with_capacity(self.answers.len());
                    for a in self.answered.iter().filter(|a| a.current) {
                        kept.extend_from_slice(&self.answers[a.start..a.end]);
                    }
                    st.write_answers(&kept);
                }
                if let Some(frames) = self.bufs.streamed.take() {
                    if self.answered.first().is_some_and(|a| a.current) {
                        st.write_answer_streamed(frames, &mut self.bufs.body);
                    }
                }
                self.after_session(&mut st);
            }
            for record in self.logs.drain(..) {
                shared.log(record);
            }
            // Keep a large buffer while rounds fill a good part of it (a stream of large
            // answers then reuses it); drop it after a round that needed far less.
            if self.answers.capacity() > 4 * READ_BUF && used < self.answers.capacity() / 4 {
                self.answers = Vec::with_capacity(READ_BUF);
            }
        }
    }
}

/// One answer of an inline round: where its frames are in the round's buffer.
struct Answered {
    reply: ReplyTo,
    start: usize,
    end: usize,
    outcome: Outcome,
    /// `complete` said the call is still current: write it.
    current: bool,
}

/// What one wait saw.
struct Woke {
    /// `pipe.in` was ready (activity: start spinning).
    input: bool,
}
