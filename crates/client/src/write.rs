//! The writer role: coalescing queued frames into writes of at most `PIPE_BUF` octets
//! (FR-FRAME-9, FR-FRAME-10) and waiting for `POLLOUT` without starving `pipe.out`
//! (FR-FIFO-13).

use std::os::fd::AsFd;
use std::time::Instant;

use fifo_rpc_fifo::{wait, FifoError, Interest, WriteOutcome};
use fifo_rpc_protocol::session::client::StreamedRequest;
use parking_lot::MutexGuard;

use crate::conn::{Conn, Shared};
use crate::read::Pump;

/// A request of at least this many octets is encoded while it is written, this many octets of
/// frames at a time ([`Conn::stream`]), instead of encoded whole into `tx` first: the server
/// reads its first frames while the rest is encoded, and the encoded frames stay in a buffer of
/// this size (in cache) rather than one as large as the request.
pub(crate) const STREAM_CHUNK: usize = 64 * 1024;

/// Why a flush stopped before `tx` was empty.
#[derive(Debug)]
pub(crate) enum WriteFail {
    /// The deadline passed; unwritten frames are back in `tx`.
    Timeout,
    /// The session ended (possibly because of this write: `EPIPE`).
    Dead,
    /// A write failed in a way that is not the peer going away.
    Fifo(FifoError),
}

/// The end of the run of whole frames starting at `pos` that fits in `limit` octets, or `None`
/// if `buf[pos..]` does not start with a whole frame (a bug: `tx` only ever holds whole frames).
pub(crate) fn chunk_end(buf: &[u8], pos: usize, limit: usize) -> Option<usize> {
    let mut end = pos;
    while end < buf.len() {
        let len = buf.get(end + 2..end + 4)?;
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        if len < fifo_rpc_protocol::FRAME_OVERHEAD || end + len > buf.len() {
            return None;
        }
        if end + len - pos > limit {
            break;
        }
        end += len;
    }
    (end > pos).then_some(end)
}

impl Conn {
    /// Writes `tx` if no other thread is writing; the active writer otherwise picks the frames up
    /// before it gives the role back. Returns the guard again (the lock is released while
    /// writing). `as_reader` says that the caller holds the reader role.
    pub(crate) fn flush<'a>(
        &'a self,
        mut g: MutexGuard<'a, Shared>,
        deadline: Option<Instant>,
        as_reader: bool,
    ) -> (MutexGuard<'a, Shared>, Result<(), WriteFail>) {
        if g.writing || g.tx.is_empty() {
            return (g, Ok(()));
        }
        g.writing = true;
        let mut result = Ok(());
        while !g.tx.is_empty() {
            let fresh = std::mem::take(&mut g.spare);
            let mut batch = std::mem::replace(&mut g.tx, fresh);
            let written =
                MutexGuard::unlocked(&mut g, || self.write_batch(&batch, deadline, as_reader));
            if let Err((pos, fail)) = written {
                result = Err(self.write_failed(&mut g, &mut batch, pos, fail, |_| {}));
            }
            batch.clear();
            if batch.capacity() >= g.spare.capacity() {
                g.spare = batch;
            }
            if matches!(result, Err(WriteFail::Timeout)) {
                break;
            }
        }
        g.writing = false;
        self.hand_over(&g);
        (g, result)
    }

    /// What a write of `batch` that stopped at `pos` with `fail` means. On a timeout the unwritten
    /// rest (and what `more` appends to it) goes back in front of what others queued meanwhile;
    /// `EPIPE` or another write error ends the session; a session that ended while writing drops
    /// the rest (what is queued now, a final GOODBYE, is still written).
    fn write_failed(
        &self,
        g: &mut Shared,
        batch: &mut Vec<u8>,
        pos: usize,
        fail: WriteFail,
        more: impl FnOnce(&mut Vec<u8>),
    ) -> WriteFail {
        match fail {
            WriteFail::Timeout if g.dead.is_none() => {
                batch.drain(..pos);
                more(batch);
                batch.extend_from_slice(&g.tx);
                std::mem::swap(&mut g.tx, batch);
                WriteFail::Timeout
            }
            WriteFail::Fifo(FifoError::PeerGone { .. }) => {
                self.server_gone(g);
                WriteFail::Dead
            }
            WriteFail::Fifo(e) => {
                self.server_gone(g);
                WriteFail::Fifo(e)
            }
            _ => WriteFail::Dead,
        }
    }

    /// After giving the writer role up: if frames are still queued, lets a waiting thread take
    /// over.
    fn hand_over(&self, g: &Shared) {
        if !g.tx.is_empty() {
            let _ = self.reader_waker.wake();
            if let Some((_, t)) = g.sleepers.first() {
                t.unpark();
            }
        }
    }

    /// Encodes and writes the REQUEST of `call` a [`STREAM_CHUNK`] at a time as the writer, then
    /// writes what other threads queued meanwhile ([`flush`](Self::flush)). If another thread is
    /// the writer, the whole request is queued behind its frames instead. On a timeout the
    /// request's unwritten frames are queued, so that the next writer completes the message.
    pub(crate) fn stream<'a>(
        &'a self,
        mut g: MutexGuard<'a, Shared>,
        mut call: StreamedRequest,
        method: &str,
        body: &[u8],
        deadline: Option<Instant>,
    ) -> (MutexGuard<'a, Shared>, Result<(), WriteFail>) {
        if g.writing {
            call.encode_next(method, body, usize::MAX, &mut g.tx);
            return (g, Ok(()));
        }
        g.writing = true;
        let mut chunk = std::mem::take(&mut g.spare);
        let written = MutexGuard::unlocked(&mut g, || {
            // SIGPIPE blocked once for the whole request, not around each write.
            let _sigpipe =
                fifo_rpc_fifo::SigpipeGuard::new().map_err(|e| (0, WriteFail::Fifo(e)))?;
            loop {
                chunk.clear();
                call.encode_next(method, body, STREAM_CHUNK, &mut chunk);
                self.write_batch(&chunk, deadline, false)?;
                if call.is_done() {
                    return Ok(());
                }
            }
        });
        let result = written.map_err(|(pos, fail)| {
            // On a timeout the request's unwritten frames are queued too: the message stays whole.
            self.write_failed(&mut g, &mut chunk, pos, fail, |rest| {
                call.encode_next(method, body, usize::MAX, rest);
            })
        });
        chunk.clear();
        if chunk.capacity() >= g.spare.capacity() && chunk.capacity() <= 2 * STREAM_CHUNK {
            g.spare = chunk;
        }
        g.writing = false;
        if result.is_err() {
            self.hand_over(&g);
            return (g, result);
        }
        self.flush(g, deadline, false)
    }

    /// Writes `batch` chunk by chunk; on failure returns how far it got.
    fn write_batch(
        &self,
        batch: &[u8],
        deadline: Option<Instant>,
        as_reader: bool,
    ) -> Result<(), (usize, WriteFail)> {
        // A batch of several chunks blocks SIGPIPE once for all of them rather than around each
        // write (two `pthread_sigmask` calls per 4 KiB: 8,192 for a 16 MiB request).
        let _sigpipe = if batch.len() > self.pipe_buf {
            Some(fifo_rpc_fifo::SigpipeGuard::new().map_err(|e| (0, WriteFail::Fifo(e)))?)
        } else {
            None
        };
        let mut pos = 0;
        while pos < batch.len() {
            let Some(end) = chunk_end(batch, pos, self.pipe_buf) else {
                // Unreachable: only whole frames are queued. Drop the rest rather than tear.
                return Ok(());
            };
            match self.writer.write(&batch[pos..end]) {
                Ok(WriteOutcome::Written(n)) if n == end - pos => pos = end,
                Ok(WriteOutcome::Written(written)) => {
                    let e = FifoError::ShortWrite {
                        path: self.writer.path().to_path_buf(),
                        written,
                        len: end - pos,
                    };
                    return Err((pos, WriteFail::Fifo(e)));
                }
                Ok(WriteOutcome::WouldBlock) => {
                    if let Err(fail) = self.wait_writable(deadline, as_reader) {
                        return Err((pos, fail));
                    }
                }
                Err(e) => return Err((pos, WriteFail::Fifo(e))),
            }
        }
        Ok(())
    }

    /// Waits until `pipe.in` is writable, draining `pipe.out` meanwhile (FR-FIFO-13): as the
    /// reader (polling both ends) when the caller is or can become it, otherwise relying on the
    /// current reader, which wakes this writer when it gives the role up.
    fn wait_writable(&self, deadline: Option<Instant>, as_reader: bool) -> Result<(), WriteFail> {
        loop {
            let lead = {
                let mut g = self.state.lock();
                if g.dead.is_some() {
                    return Err(WriteFail::Dead);
                }
                if as_reader {
                    true
                } else if !g.reading && !g.eof {
                    g.reading = true;
                    true
                } else {
                    g.writer_blocked = true;
                    false
                }
            };
            if lead {
                let outcome = self.poll_both(deadline);
                if !as_reader {
                    let mut g = self.state.lock();
                    self.release_reader(&mut g);
                }
                match outcome? {
                    true => return Ok(()),
                    false => continue,
                }
            }
            let events = wait(
                [(self.writer.as_fd(), Interest::Write)],
                Some(&self.writer_waker),
                deadline,
            );
            self.state.lock().writer_blocked = false;
            let events = events.map_err(WriteFail::Fifo)?;
            if events.woken {
                let _ = self.writer_waker.reset();
                continue;
            }
            if events.timed_out {
                return Err(WriteFail::Timeout);
            }
            return Ok(());
        }
    }

    /// As the reader: polls `pipe.in` for `POLLOUT` and `pipe.out` for input; reads and
    /// dispatches what came. `Ok(true)` when `pipe.in` is writable.
    fn poll_both(&self, deadline: Option<Instant>) -> Result<bool, WriteFail> {
        let events = {
            let rs = self.read.lock();
            wait(
                [
                    (self.writer.as_fd(), Interest::Write),
                    (rs.reader.as_fd(), Interest::Read),
                ],
                Some(&self.reader_waker),
                deadline,
            )
            .map_err(WriteFail::Fifo)?
        };
        if events.woken {
            let _ = self.reader_waker.reset();
        }
        let input = events.ready[1];
        if input.readable || input.hangup || input.error {
            // Drain what is there; the answers go to their slots.
            loop {
                match self.pump(&mut |_: &mut Shared| None::<()>, deadline) {
                    Pump::Progress => continue,
                    Pump::WouldBlock => break,
                    Pump::Done(()) | Pump::Ended => break,
                }
            }
        }
        let output = events.ready[0];
        if output.writable || output.error {
            return Ok(true);
        }
        if events.timed_out {
            return Err(WriteFail::Timeout);
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fifo_rpc_protocol::{encode_frame, frame_type, FrameHeader};

    fn frames(sizes: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, &payload) in sizes.iter().enumerate() {
            let h = FrameHeader::new(frame_type::RESPONSE, 1, i as u32 + 1);
            encode_frame(&h, &[], &vec![7; payload], 65535, &mut out).unwrap();
        }
        out
    }

    // FR-FRAME-9, FR-FRAME-10: chunks hold whole frames and never exceed the limit.
    #[test]
    fn chunks_are_whole_frames_within_pipe_buf() {
        let buf = frames(&[100, 4076, 0, 10, 3000, 1000]);
        let mut pos = 0;
        let mut chunks = Vec::new();
        while pos < buf.len() {
            let end = chunk_end(&buf, pos, 4096).unwrap();
            assert!(end - pos <= 4096);
            chunks.push(end - pos);
            pos = end;
        }
        assert_eq!(chunks, [120, 4096, 20 + 30 + 3020 + 1020]);
    }

    #[test]
    fn chunk_end_refuses_torn_input() {
        let buf = frames(&[10]);
        assert_eq!(chunk_end(&buf[..20], 0, 4096), None);
        assert_eq!(chunk_end(&buf, 0, 4096), Some(30));
        assert_eq!(chunk_end(&buf, 30, 4096), None);
    }
}
