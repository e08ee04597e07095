//! Raw ping-pong: the client writes N bytes in one write, the peer reads them and writes them
//! back in one write, the client reads them; each round trip timed on its own.

use std::io::{Read, Write};
use std::os::unix::net::UnixListener;

use super::{empty_dir, open_parent_ends, FifoDir, SOCKET};
use crate::error::{Context, Result};
use crate::measure::{round_trips, Metrics};
use crate::peer::{Peer, PeerArgs, Role};
use crate::plan::{Placement, Plan};

/// The raw transport measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// A pair of FIFOs, `pipe.in` and `pipe.out`.
    Fifo,
    /// A pair of FIFOs whose readers busy-poll: non-blocking reads, yielding the CPU after each
    /// empty one.
    FifoSpin,
    /// One Unix stream socket.
    Unix,
}

impl Transport {
    /// Lower-case name used in figure names.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Transport::Fifo => "fifo",
            Transport::FifoSpin => "fifo_spin",
            Transport::Unix => "unix",
        }
    }
}

/// Short size label used in figure names: `64` or `4k`.
pub(crate) fn size_label(size: usize) -> String {
    if size >= 1024 && size % 1024 == 0 {
        format!("{}k", size / 1024)
    } else {
        size.to_string()
    }
}

/// One run of raw ping-pong; figures are named `TRANSPORT.rtSIZE.PLACEMENT.*`.
pub(crate) fn run(
    transport: Transport,
    size: usize,
    placement: Placement,
    plan: &Plan,
) -> Result<Metrics> {
    placement
        .apply_here()
        .context("setting the CPU affinity of the measuring thread")?;
    let prefix = format!(
        "{}.rt{}.{}",
        transport.name(),
        size_label(size),
        placement.name()
    );
    match transport {
        Transport::Fifo | Transport::FifoSpin => {
            let spin = transport == Transport::FifoSpin;
            let dir = FifoDir::new()?;
            let role = if spin {
                Role::FifoSpinEcho
            } else {
                Role::FifoEcho
            };
            let mut args = PeerArgs::new(role, dir.path().to_owned());
            args.size = size;
            args.cpu = placement.peer_cpu();
            let mut peer = Peer::spawn(&args)?;
            let (mut tx, rx) = open_parent_ends(dir.path(), &mut peer)?;
            let metrics = if spin {
                crate::sys::set_nonblocking(&rx, true).context("making pipe.out non-blocking")?;
                ping_pong(&mut peer, &mut tx, &mut Spinning(&rx), size, plan, &prefix)?
            } else {
                ping_pong(&mut peer, &mut tx, &mut &rx, size, plan, &prefix)?
            };
            drop((tx, rx));
            peer.finish()?;
            Ok(metrics)
        }
        Transport::Unix => {
            let dir = empty_dir()?;
            let path = dir.path().join(SOCKET);
            let listener =
                UnixListener::bind(&path).context(format_args!("binding {}", path.display()))?;
            let mut args = PeerArgs::new(Role::UnixEcho, dir.path().to_owned());
            args.size = size;
            args.cpu = placement.peer_cpu();
            let mut peer = Peer::spawn(&args)?;
            peer.expect("ready")?;
            let (stream, _) = listener
                .accept()
                .context("accepting the peer's connection")?;
            let mut rx = stream.try_clone().context("cloning the socket")?;
            let mut tx = stream;
            let metrics = ping_pong(&mut peer, &mut tx, &mut rx, size, plan, &prefix)?;
            drop((tx, rx));
            peer.finish()?;
            Ok(metrics)
        }
    }
}

/// A non-blocking reader whose `read_exact` busy-polls, yielding the CPU after empty reads.
struct Spinning<'a>(&'a std::fs::File);

impl Read for Spinning<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut file = self.0;
        file.read(buf)
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        let mut file = self.0;
        match super::peers::read_spinning(&mut file, buf)? {
            true => Ok(()),
            false => Err(std::io::ErrorKind::UnexpectedEof.into()),
        }
    }
}

fn ping_pong(
    peer: &mut Peer,
    tx: &mut impl Write,
    rx: &mut impl Read,
    size: usize,
    plan: &Plan,
    prefix: &str,
) -> Result<Metrics> {
    let msg = vec![0xA5u8; size];
    let mut reply = vec![0u8; size];
    let rt = round_trips(peer, plan.warmup, plan.timed, || {
        tx.write_all(&msg).context("writing a ping")?;
        rx.read_exact(&mut reply).context("reading a pong")?;
        Ok(())
    })?;
    Ok(rt.metrics(prefix))
}
