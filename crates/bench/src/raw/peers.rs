//! The peer (server) side of the raw floors: echo loops and a sink, each with plain blocking
//! `read(2)`/`write(2)`.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;

use super::{open_peer_ends, SOCKET};
use crate::error::{Context, Result};
use crate::peer::{control, PeerArgs};

/// Echoes `size`-byte messages, one read and one write each, until end of file.
pub(crate) fn fifo_echo(args: &PeerArgs) -> Result<()> {
    let (mut input, mut output) = open_peer_ends(&args.dir)?;
    control::serve_in_background();
    echo_exact(&mut input, &mut output, args.size)
}

/// Echoes `size`-byte messages like [`fifo_echo`], reading `pipe.in` without blocking and
/// yielding the CPU after each empty read.
pub(crate) fn fifo_spin_echo(args: &PeerArgs) -> Result<()> {
    let (mut input, mut output) = open_peer_ends(&args.dir)?;
    crate::sys::set_nonblocking(&input, true).context("making pipe.in non-blocking")?;
    control::serve_in_background();
    let mut buf = vec![0u8; args.size];
    loop {
        if !read_spinning(&mut input, &mut buf).context("reading a message")? {
            return Ok(());
        }
        output.write_all(&buf).context("writing a message")?;
    }
}

/// Fills `buf` from a non-blocking reader, yielding the CPU after every empty read; `false` at
/// end of file before the first byte.
pub(crate) fn read_spinning(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(err) if err.kind() == ErrorKind::WouldBlock => std::thread::yield_now(),
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(true)
}

/// Echoes whatever one read of up to 4 KiB returns with one write, until end of file.
pub(crate) fn fifo_batch_echo(args: &PeerArgs) -> Result<()> {
    let (mut input, mut output) = open_peer_ends(&args.dir)?;
    control::serve_in_background();
    let mut buf = vec![0u8; 4096];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err).context("reading pipe.in"),
        };
        output.write_all(&buf[..n]).context("writing pipe.out")?;
    }
}

/// Echoes `size`-byte messages over the Unix socket, until end of file.
pub(crate) fn unix_echo(args: &PeerArgs) -> Result<()> {
    let path = args.dir.join(SOCKET);
    let stream =
        UnixStream::connect(&path).context(format_args!("connecting to {}", path.display()))?;
    control::say("ready");
    control::serve_in_background();
    let mut output = stream.try_clone().context("cloning the socket")?;
    let mut input = stream;
    echo_exact(&mut input, &mut output, args.size)
}

/// Reads `pipe.in` with a `size`-byte buffer until end of file, then prints `done BYTES`.
pub(crate) fn fifo_sink(args: &PeerArgs) -> Result<()> {
    let (mut input, _output) = open_peer_ends(&args.dir)?;
    let control = control::serve_in_background();
    let mut buf = vec![0u8; args.size.max(1)];
    let mut total: u64 = 0;
    loop {
        match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n as u64,
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err).context("reading pipe.in"),
        }
    }
    control::say(&format!("done {total}"));
    // Stay until the parent has collected the usage figures and closed the control channel.
    let _ = control.join();
    Ok(())
}

fn echo_exact(input: &mut impl Read, output: &mut impl Write, size: usize) -> Result<()> {
    let mut buf = vec![0u8; size];
    loop {
        match input.read_exact(&mut buf) {
            Ok(()) => {}
            Err(err) if err.kind() == ErrorKind::UnexpectedEof => return Ok(()),
            Err(err) => return Err(err).context("reading a message"),
        }
        output.write_all(&buf).context("writing a message")?;
    }
}
