//! Raw pipelined 64-byte messages: a client writer thread writes messages back to back while the
//! client's reading thread drains the replies; the peer echoes either one 64-byte read and one
//! write per message, or everything one read of up to 4 KiB returned in one write.

use std::io::{Read, Write};

use super::{open_parent_ends, FifoDir};
use crate::error::{Context, Error, Result};
use crate::measure::{batch, Metrics};
use crate::peer::{Peer, PeerArgs, Role};
use crate::plan::{Placement, Plan};

/// Message size.
pub(crate) const MESSAGE: usize = 64;

/// One run; figures are named `fifo.pipelined64.*` (one read and one write per message) or
/// `fifo.pipelined64_batched.*` (`msgs_per_s`, CPU per message).
pub(crate) fn run(batched: bool, plan: &Plan) -> Result<Metrics> {
    Placement::Unpinned
        .apply_here()
        .context("setting the CPU affinity of the measuring thread")?;
    let (role, prefix) = if batched {
        (Role::FifoBatchEcho, "fifo.pipelined64_batched")
    } else {
        (Role::FifoEcho, "fifo.pipelined64")
    };
    let dir = FifoDir::new()?;
    let mut args = PeerArgs::new(role, dir.path().to_owned());
    args.size = MESSAGE;
    let mut peer = Peer::spawn(&args)?;
    let (tx, mut rx) = open_parent_ends(dir.path(), &mut peer)?;
    let n = plan.pipelined_msgs;
    let (elapsed, cost) = batch(&mut peer, n, |_| {
        std::thread::scope(|s| {
            let tx = &tx;
            let writer = s.spawn(move || -> Result<()> {
                let mut tx = tx;
                let msg = [0x3Cu8; MESSAGE];
                for _ in 0..n {
                    tx.write_all(&msg).context("writing pipe.in")?;
                }
                Ok(())
            });
            let mut buf = vec![0u8; 64 * 1024];
            let mut left = n * MESSAGE;
            while left > 0 {
                let got = rx.read(&mut buf).context("reading pipe.out")?;
                if got == 0 {
                    return Err(Error::msg(format!(
                        "pipe.out ended with {left} bytes of replies missing"
                    )));
                }
                left = left.saturating_sub(got);
            }
            writer
                .join()
                .map_err(|_| Error::msg("the writer thread panicked"))?
        })
    })?;
    drop((tx, rx));
    peer.finish()?;
    let mut m = Metrics::default();
    m.push(prefix, "msgs_per_s", n as f64 / elapsed.as_secs_f64());
    cost.push_into(&mut m, prefix);
    Ok(m)
}
