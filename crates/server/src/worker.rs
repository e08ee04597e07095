//! The worker loop: take a job, run it without the lock, deliver the answer under the lock.

use parking_lot::MutexGuard;

use crate::call::{run_call, run_notify, CallBuffers};
use crate::router::Router;
use crate::state::{Job, Shared, State};

/// Runs jobs until the I/O thread sets `stop_workers`. Every answer is written by the worker
/// that computed it, directly into `pipe.out` when nothing waits before it (lowest latency), or
/// appended to the backlog the I/O thread flushes.
pub(crate) fn run(shared: &Shared, router: &Router) {
    let mut bufs = CallBuffers::default();
    let mut out: Vec<u8> = Vec::with_capacity(4096);
    let mut st = shared.state.lock();
    loop {
        let Some(job) = next_job(shared, &mut st) else {
            return;
        };
        match job {
            Job::Call { call, reply } => {
                if !st.session.start_call(&reply) {
                    // Cancelled before it started (CANCELLED already queued) or session over.
                    if st.flush_session() {
                        shared.handle.attention();
                    }
                    continue;
                }
                out.clear();
                let outcome = MutexGuard::unlocked(&mut st, || {
                    run_call(router, shared, &call, &reply, &mut bufs, &mut out)
                });
                outcome.count(&mut st.summary);
                if st.deliver(&reply, &out) {
                    shared.handle.attention();
                }
                if out.capacity() > 1 << 20 {
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
