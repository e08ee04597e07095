//! The reader role and the wait loop: leader/follower reading of `pipe.out` with a bounded spin
//! before `poll` (FR-FIFO-11).

use std::os::fd::AsFd;
use std::thread;
use std::time::Instant;

use fifo_rpc_fifo::{wait, Interest, ReadOutcome};

use crate::conn::{Conn, ReadSide, Shared};
use crate::write::WriteFail;

/// The result of one [`Conn::pump`].
pub(crate) enum Pump<T> {
    /// The waiter's condition holds; the reader role was given up.
    Done(T),
    /// Bytes were read and dispatched; the condition does not hold yet.
    Progress,
    /// Nothing to read now.
    WouldBlock,
    /// The session ended (EOF or a read error); the reader role was given up.
    Ended,
}

impl Conn {
    /// One non-blocking read of `pipe.out` by the holder of the reader role: feeds the session,
    /// dispatches its events, writes what it queued (PONG, GOODBYE), then checks `ready` under the
    /// same lock. Gives the reader role up when it returns [`Pump::Done`] or [`Pump::Ended`].
    pub(crate) fn pump<T>(
        &self,
        ready: &mut dyn FnMut(&mut Shared) -> Option<T>,
        deadline: Option<Instant>,
    ) -> Pump<T> {
        let mut rs = self.read.lock();
        let ReadSide { reader, buf } = &mut *rs;
        let outcome = reader.read(buf);
        let mut g = match outcome {
            Ok(ReadOutcome::Data(n)) => {
                let mut g = self.state.lock();
                g.session.handle_bytes(&buf[..n]);
                drop(rs);
                self.dispatch(&mut g);
                g
            }
            Ok(ReadOutcome::WouldBlock) => return Pump::WouldBlock,
            // Once the session is established, 0 octets (or POLLHUP) means that the server is
            // gone (FR-FIFO-14); a read error leaves nothing better to do.
            Ok(ReadOutcome::Eof) | Err(_) => {
                drop(rs);
                let mut g = self.state.lock();
                g.eof = true;
                self.server_gone(&mut g);
                self.release_reader(&mut g);
                return Pump::Ended;
            }
        };
        if !g.writing && !g.tx.is_empty() {
            g = self.flush(g, deadline, true).0;
        }
        match ready(&mut g) {
            Some(value) => {
                self.release_reader(&mut g);
                Pump::Done(value)
            }
            None => Pump::Progress,
        }
    }

    /// Gives the reader role up and passes it on.
    pub(crate) fn release_reader(&self, g: &mut Shared) {
        g.reading = false;
        self.pass_baton(g);
    }

    /// If nobody reads, wakes a parked waiter to become the reader, or else a writer waiting for
    /// `POLLOUT`, which then drains `pipe.out` itself (FR-FIFO-13).
    pub(crate) fn pass_baton(&self, g: &Shared) {
        if g.reading || g.eof {
            return;
        }
        if let Some((_, thread)) = g.sleepers.first() {
            thread.unpark();
        } else if g.writer_blocked {
            let _ = self.writer_waker.wake();
        }
    }

    /// Waits until `ready` returns a value (checked with the state locked), or `deadline` passes
    /// (`None`). Meanwhile the caller flushes queued frames when nobody writes, reads `pipe.out`
    /// when nobody reads, and otherwise parks until its answer is put into slot `reply` or it is
    /// handed the reader role.
    ///
    /// `ready` must return a value once the session has ended (`Shared::dead`) and EOF was read.
    pub(crate) fn wait_for<T>(
        &self,
        deadline: Option<Instant>,
        reply: Option<u32>,
        mut ready: impl FnMut(&mut Shared) -> Option<T>,
    ) -> Option<T> {
        let mut g = self.state.lock();
        loop {
            if let Some(value) = ready(&mut g) {
                self.pass_baton(&g);
                return Some(value);
            }
            if !g.writing && !g.tx.is_empty() {
                let (guard, written) = self.flush(g, deadline, false);
                g = guard;
                if !matches!(written, Err(WriteFail::Timeout)) {
                    continue;
                }
                // The frames are back in `tx`; the deadline has passed.
            }
            if g.eof || deadline.is_some_and(|d| Instant::now() >= d) {
                self.pass_baton(&g);
                return None;
            }
            if !g.reading {
                g.reading = true;
                drop(g);
                if let Some(value) = self.lead(deadline, &mut ready) {
                    return Some(value);
                }
                g = self.state.lock();
                continue;
            }
            // Follower: park until the reader puts the answer into the slot or passes the role.
            let me = thread::current();
            let token = g.next_token;
            g.next_token = g.next_token.wrapping_add(1);
            g.sleepers.push((token, me.clone()));
            if let Some(slot) = reply.and_then(|id| g.slots.get_mut(&id)) {
                slot.waiter = Some(me);
            }
            drop(g);
            match deadline {
                Some(d) => thread::park_timeout(d.saturating_duration_since(Instant::now())),
                None => thread::park(),
            }
            g = self.state.lock();
            if let Some(i) = g.sleepers.iter().position(|(t, _)| *t == token) {
                g.sleepers.remove(i);
            }
            if let Some(slot) = reply.and_then(|id| g.slots.get_mut(&id)) {
                slot.waiter = None;
            }
        }
    }

    /// The reader role: spins on non-blocking reads for `self.spin`, then sleeps in `poll` until
    /// input, a wake-up or `deadline`. Returns `Some` when `ready` holds; `None` when the caller
    /// should look at the state again (deadline, wake-up, end of session). Either way the role
    /// has been given up.
    fn lead<T>(
        &self,
        deadline: Option<Instant>,
        ready: &mut dyn FnMut(&mut Shared) -> Option<T>,
    ) -> Option<T> {
        let mut spin_until = self.spin_deadline();
        if spin_until.is_some() {
            // The answer cannot be there yet when this thread has just written its request:
            // let the server run first (on a shared CPU it needs this one) instead of a read
            // that finds nothing.
            thread::yield_now();
        }
        loop {
            match self.pump(ready, deadline) {
                Pump::Done(value) => return Some(value),
                Pump::Ended => return None,
                Pump::Progress => {
                    spin_until = self.spin_deadline();
                    continue;
                }
                Pump::WouldBlock => {}
            }
            if let Some(until) = spin_until {
                if Instant::now() < until {
                    // Yield rather than burn: a server on this CPU gets to run.
                    thread::yield_now();
                    continue;
                }
                spin_until = None;
            }
            let events = {
                let rs = self.read.lock();
                wait(
                    [(rs.reader.as_fd(), Interest::Read)],
                    Some(&self.reader_waker),
                    deadline,
                )
            };
            match events {
                Ok(ev) if !ev.woken && !ev.timed_out => continue,
                Ok(ev) => {
                    if ev.woken {
                        let _ = self.reader_waker.reset();
                    }
                }
                Err(_) => {} // poll itself failed (ENOMEM): give the role up, look again
            }
            let mut g = self.state.lock();
            self.release_reader(&mut g);
            return None;
        }
    }

    fn spin_deadline(&self) -> Option<Instant> {
        (!self.spin.is_zero()).then(|| Instant::now() + self.spin)
    }
}
