//! The worker loop: take a job, run it without the lock, deliver the answer under the lock.

use fifo_rpc_protocol::session::server::ReplyTo;
use fifo_rpc_protocol::Fragmenter;
use parking_lot::MutexGuard;

use crate::call::{run_call, run_notify, CallBuffers};
use crate::output::send;
use crate::router::Router;
use crate::state::{Job, Shared, State};

/// Runs jobs until the I/O thread sets `stop_workers`. Every answer is written by the worker
/// that computed it, directly into `pipe.out` when nothing waits before it (lowest latency), or
/// appended to the backlog the I/O thread flushes.
pub(crate) fn run(shared: &Shared, router: &Router) {
    // SIGPIPE blocked for the worker's lifetime: its writes skip the per-write masking. Should
    // the mask not be changeable, every write still masks on its own (FR-FIFO-17).
    let _sigpipe = fifo_rpc_fifo::SigpipeGuard::new();
    let mut bufs = CallBuffers::default();
    let mut out: Vec<u8> = Vec::with_capacity(4096);
    let mut spare: Vec<u8> = Vec::new();
    let mut st = shared.state.lock();
    loop {
        let Some(job) = next_job(shared, &mut st) else {
            return;
        };
        match job {
            Job::Call { call, reply } => {
                if !st.session.start_call(&reply) {
                    // Cancelled before it started (CANCELLED already queued) or session over.
                    let attention = st.flush_session() | drain(&mut st, &mut spare);
                    if attention {
                        shared.handle.attention();
                    }
                    continue;
                }
                out.clear();
                let outcome = MutexGuard::unlocked(&mut st, || {
                    run_call(router, shared, &call, &reply, &mut bufs, &mut out, true)
                });
                outcome.count(&mut st.summary);
                st.session.recycle(call.into_payload());
                let used = out.len();
                let answer = match bufs.streamed.take() {
                    Some(frames) => Answer::Streamed(frames, &mut bufs.body),
                    None => Answer::Encoded(&mut out),
                };
                deliver(shared, &mut st, &reply, answer, &mut spare);
                // Keep a large buffer while answers fill a good part of it.
                if out.capacity() > 1 << 20 && used < out.capacity() / 4 {
                    out = Vec::with_capacity(4096);
                }
            }
            Job::Notify { session, call } => {
                let ran =
                    MutexGuard::unlocked(&mut st, || run_notify(router, shared, session, &call));
                if ran {
                    st.summary.notifications += 1;
                }
            }
        }
    }
}

/// A call's answer, ready to be written.
enum Answer<'a> {
    /// Its encoded frames.
    Encoded(&'a mut Vec<u8>),
    /// A large RESPONSE, to be encoded while it is written: its frames and body.
    Streamed(Fragmenter, &'a mut Vec<u8>),
}

/// Writes an answer if its call is still current (FR-SESS-2), then the session machine's own
/// frames. Encoded frames are written outside the lock when nothing waits before them; answers
/// that other workers hand over meanwhile are written by this worker too, before it lets go. A
/// streamed answer is written under the lock as far as the pipe has room; the I/O thread encodes
/// and writes the rest as the pipe drains
/// ([`Output::write_streamed`](crate::output::Output::write_streamed)).
fn deliver(
    shared: &Shared,
    st: &mut MutexGuard<'_, State>,
    reply: &ReplyTo,
    answer: Answer<'_>,
    spare: &mut Vec<u8>,
) {
    let mut attention = false;
    if st.session.complete(reply) {
        match answer {
            Answer::Streamed(frames, body) => attention |= st.write_answer_streamed(frames, body),
            Answer::Encoded(frames) => match st.out.begin_send() {
                Some((writer, pipe_buf, epoch)) => {
                    let sent = MutexGuard::unlocked(st, || send(&writer, pipe_buf, frames, 0));
                    attention |= st.finish_send(frames, sent, epoch);
                    attention |= drain(st, spare);
                }
                None => attention |= st.write_answers_owned(frames),
            },
        }
    }
    // The final GOODBYE of a drain is queued by `complete`: it follows the answer.
    attention |= st.flush_session();
    attention |= drain(st, spare);
    if attention {
        shared.handle.attention();
    }
}

/// Writes what others appended while this worker wrote, outside the lock, until nothing waits or
/// the pipe is full (then the I/O thread takes over on `POLLOUT`).
fn drain(st: &mut MutexGuard<'_, State>, spare: &mut Vec<u8>) -> bool {
    let mut attention = false;
    while let Some((writer, pipe_buf, partial, epoch)) = st.out.take_backlog(spare) {
        let sent = MutexGuard::unlocked(st, || send(&writer, pipe_buf, spare, partial));
        attention |= st.finish_send(spare, sent, epoch);
        spare.clear();
    }
    if spare.capacity() > 1 << 20 {
        *spare = Vec::new();
    }
    attention
}

/// Waits for a job; `None` when the workers must stop.
fn next_job(shared: &Shared, st: &mut MutexGuard<'_, State>) -> Option<Job> {
    loop {
        if let Some(job) = st.jobs.pop_front() {
            return Some(job);
        }
        if st.stop_workers {
            return None;
        }
        shared.work.wait(st);
    }
}
