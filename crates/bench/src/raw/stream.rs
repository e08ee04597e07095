//! Raw one-way bandwidth: the parent writes 4096-byte chunks into `pipe.in`, the peer reads with a
//! 64 KiB buffer until end of file and reports the byte count; default pipe capacity and 1 MiB
//! (`F_SETPIPE_SZ`). The clock stops when the peer has read the last byte.

use std::io::Write;

use super::{open_parent_ends, FifoDir};
use crate::error::{Context, Error, Result};
use crate::measure::{batch, Metrics};
use crate::peer::{Peer, PeerArgs, Role};
use crate::plan::{Placement, Plan};
use crate::sys;

/// Size of each write.
pub(crate) const WRITE_SIZE: usize = 4096;
/// Size of the reader's buffer.
pub(crate) const READ_BUFFER: usize = 64 * 1024;

/// One run; figures are named `fifo.stream.default.PLACEMENT.*` or `fifo.stream.1m.PLACEMENT.*`
/// (`gb_per_s`, CPU per 4096-byte write). `pipe_size` of `None` keeps the kernel's default.
pub(crate) fn run(pipe_size: Option<usize>, placement: Placement, plan: &Plan) -> Result<Metrics> {
    placement
        .apply_here()
        .context("setting the CPU affinity of the measuring thread")?;
    let prefix = match pipe_size {
        None => format!("fifo.stream.default.{}", placement.name()),
        Some(bytes) => format!("fifo.stream.{}m.{}", bytes >> 20, placement.name()),
    };
    let dir = FifoDir::new()?;
    let mut args = PeerArgs::new(Role::FifoSink, dir.path().to_owned());
    args.size = READ_BUFFER;
    args.cpu = placement.peer_cpu();
    let mut peer = Peer::spawn(&args)?;
    let (mut tx, rx) = open_parent_ends(dir.path(), &mut peer)?;
    if let Some(bytes) = pipe_size {
        sys::set_pipe_size(&tx, bytes).context("setting the capacity of pipe.in")?;
    }
    let chunk = vec![0x5Au8; WRITE_SIZE];
    let chunks = plan.stream_bytes / WRITE_SIZE;
    let total = (chunks * WRITE_SIZE) as u64;
    let (elapsed, cost) = batch(&mut peer, chunks, |peer| {
        for _ in 0..chunks {
            tx.write_all(&chunk).context("writing pipe.in")?;
        }
        drop(tx);
        let fields = peer.expect("done")?;
        let read: u64 = fields
            .first()
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| Error::msg("the sink reported no byte count"))?;
        if read != total {
            return Err(Error::msg(format!(
                "the sink read {read} bytes of the {total} written"
            )));
        }
        Ok(())
    })?;
    drop(rx);
    peer.finish()?;
    let mut m = Metrics::default();
    m.push(
        &prefix,
        "gb_per_s",
        total as f64 / elapsed.as_secs_f64() / 1e9,
    );
    cost.push_into(&mut m, &prefix);
    Ok(m)
}
