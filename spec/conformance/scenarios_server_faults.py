"""Server scenarios with faults: clients that die mid-frame or mid-message, stray bytes and
invalid frames on pipe.in, and a client that stops reading pipe.out.

The harness is the client; see :mod:`scenarios_server` for the NOT-RUN technique and for
:func:`scenarios_server.exit_and_drain`, which ends most scenarios.
"""

import select
import signal
import time

from fiforpc import fifo
from fiforpc import frame as F
from fiforpc import messages as M
from fiforpc.receiver import ErrorEvent, Receiver

import craft
from context import scenario
from craft import load_vectors, s
from peer import describe
from procs import Fail, fionread, pipe_size
from scenarios_server import check_nothing_ran, connect, exit_and_drain, not_run, serve

SIGTERM_BOUND = 30.0  # seconds a server may take to honour SIGTERM with a stalled reader
GIVE_UP_BOUND = 30.0  # seconds the harness waits for a server to give up on a stalled reader


# ---- peers that die, stray bytes --------------------------------------------------------------


@scenario("server.peer-dies.mid-frame", "server",
          "FR-DEC-5 FR-DEC-6 FR-DEC-7 FR-FIFO-14 FR-FIFO-15")
def peer_dies_mid_frame(ctx):
    """A client writes half a frame (the first 10 octets of a REQUEST) and dies: the server
    runs nothing and serves the next client."""
    proc, peer = serve(ctx)
    peer.echo("before dying", ctx.within(10))
    frame = craft.raw_frame(F.REQUEST, peer.session, 2, craft.call_payload(
        "fail", not_run("half-frame")))
    peer.write(frame[:10], ctx.within(5), atomic=False)
    peer.close()
    peer2 = connect(ctx)
    peer2.echo("next client", ctx.within(10))
    exit_and_drain(ctx, proc, peer2)
    check_nothing_ran(ctx, peer2)


@scenario("server.peer-dies.mid-message", "server", "FR-FRAG-6 FR-FIFO-14 FR-SESS-2 FR-BYE-1")
def peer_dies_mid_message(ctx):
    """A client writes the first fragments of a 64 KiB REQUEST and dies: the partial message
    is dropped, never run, and the next client's own fragmented calls work."""
    proc, peer = serve(ctx)
    frames = peer.frames_of(M.Request(1, "fail", not_run("x" * 65536)))
    for f in frames[:3]:
        peer.write(f, ctx.within(5))
    peer.close()
    peer2 = connect(ctx)
    peer2.echo("y" * 20000, ctx.within(20))
    peer2.echo("next client", ctx.within(10))
    exit_and_drain(ctx, proc, peer2)
    check_nothing_ran(ctx, peer2)
    return "%d of %d fragments written" % (3, len(frames))


@scenario("server.stray-bytes.garbage", "server", "FR-DEC-4 FR-DEC-6 FR-ERR-1")
def stray_garbage(ctx):
    """Text and junk octets written on pipe.in during a session (each followed by an echo
    call that must succeed) are skipped; the session goes on."""
    proc, peer = serve(ctx)
    for case, junk in craft.stray_text():
        peer.write(junk, ctx.within(5), atomic=False)
        peer.echo("after %s" % case, ctx.within(10))
    exit_and_drain(ctx, proc, peer)


@scenario("server.stray-bytes.false-candidate", "server", "FR-DEC-7")
def stray_false_candidate(ctx):
    """Stray octets F1 F0 0F A0 (a candidate claiming 4000 octets) then silence: once pipe.in
    is drained the candidate is abandoned, so the next echo call is not held up (SHOULD)."""
    proc, peer = serve(ctx)
    peer.write(b"\xf1\xf0\x0f\xa0" + b"stray", ctx.within(5), atomic=False)
    t0 = time.monotonic()
    peer.echo("not held up", ctx.within(10))
    exit_and_drain(ctx, proc, peer)
    return "echo answered after %.2f s" % (time.monotonic() - t0)


@scenario("server.stray-bytes.invalid-frames", "server",
          "FR-DEC-2 FR-DEC-3 FR-DEC-4 FR-DEC-6 FR-ERR-1 FR-TYPE-1 FR-TYPE-2 FR-TYPE-3 "
          "FR-EXT-1 FR-EXT-2 FR-FRAME-4 FR-FRAME-13")
def stray_invalid_frames(ctx):
    """Mutations of a REQUEST of this session, one per receiver check (bad magic, length, CRC,
    version, header length, extensions, type, zero session, Request ID 0), each carrying a fail
    call that must never run and followed by an echo that must succeed; reserved flag bits and
    ignorable extensions on a valid REQUEST must not stop it from running."""
    proc, peer = serve(ctx)
    rid = 1000
    for case, req, octets in craft.bad_request_frames(
            peer.session, rid, lambda c: craft.call_payload("fail", not_run(c))):
        peer.write(octets, ctx.within(5), atomic=len(octets) <= peer.pipe_buf)
        peer.echo("after %s" % case, ctx.within(10))
        check_nothing_ran(ctx, peer)
        ctx.check(all(getattr(m, "request", 0) != rid for m in peer.others),
                  "%s (%s): the discarded REQUEST was answered", case, req)
    for case, req, r, octets in craft.accepted_request_frames(peer.session, 2000, "echo",
                                                               s("valid")):
        peer.write(octets, ctx.within(5))
        got = peer.wait_answers([r], ctx.within(10), "answer to %s" % case)
        a = got[r][0]
        ctx.check(isinstance(a, M.Response) and a.body == s("valid"),
                  "%s (%s): a valid REQUEST answered %s", case, req, describe(a))
    exit_and_drain(ctx, proc, peer)
    check_nothing_ran(ctx, peer)


def incomplete_candidate(octets, max_frame, max_message):
    """True when the reference receiver, given ``octets`` without an end of stream, holds an
    incomplete candidate frame (it waits for more octets that a peer may never send)."""
    rx = Receiver(max_frame, max_message)
    rx.push(octets)
    rx.events()
    return rx.decoder.buffered > 0 and not rx.decoder.scanning


@scenario("server.stray-bytes.vectors", "server",
          "FR-DEC-1 FR-DEC-2 FR-DEC-3 FR-DEC-4 FR-DEC-6 FR-ERR-1 FR-TYPE-3 FR-TYPE-4 "
          "FR-FRAME-14 FR-PING-1", timeout=120)
def stray_vectors(ctx):
    """Every case of spec/vectors/invalid.json written on pipe.in in a session whose id is 1
    (the vectors' session), each followed by an echo call that must succeed. The valid PINGs
    the vectors hold after their bad frames must each get a PONG: the server resynchronised
    exactly as the vector says."""
    proc = ctx.start_server()
    peer = connect(ctx, session=1)
    peer.next_id = 100000  # the vectors' own Request IDs are small
    data = load_vectors("invalid.json")
    dflt = data["defaults"]
    server_mf, server_mm = peer.welcome.max_frame, peer.welcome.max_message
    expected_pongs, bad_requests, run, skipped = [], [], 0, []
    for case in data["cases"]:
        mf = case.get("max_frame", dflt["max_frame"])
        mm = case.get("max_message", dflt["max_message"])
        if mf != server_mf or mm != server_mm:
            skipped.append(case["id"])
            continue
        octets = bytes.fromhex(case["hex"])
        for e in case["expect"]:
            m = e.get("message")
            if m and m["type"] == "PING" and m["session"] == 1:
                expected_pongs.append(m["opaque"])
        # A malformed REQUEST of the session is answered BAD_REQUEST (FR-CALL-6); the
        # reference receiver says which Request IDs the vector's malformed REQUESTs carry.
        bad_requests += malformed_requests(octets, mf, mm, session=1)
        peer.write(octets, ctx.within(5), atomic=False)
        if incomplete_candidate(octets, mf, mm):
            # Not relying on FR-DEC-7 (a SHOULD) here: MaxFrame zero octets complete any
            # candidate, which then fails its CRC and is scanned past.
            peer.write(bytes(mf), ctx.within(5), atomic=False)
        peer.echo("after %s" % case["id"], ctx.within(10))
        run += 1
    rest = exit_and_drain(ctx, proc, peer, allowed=set(bad_requests))
    pongs = sorted(m.opaque.hex() for m in rest if isinstance(m, M.Pong))
    ctx.check(pongs == sorted(expected_pongs), "PONGs for %d vector PINGs, expected %d: the "
              "server did not resynchronise as the vectors say (missing %s, extra %s)",
              len(pongs), len(expected_pongs),
              sorted(set(expected_pongs) - set(pongs))[:3],
              sorted(set(pongs) - set(expected_pongs))[:3])
    answers = sorted(m.request for m in rest if isinstance(m, (M.Response, M.Error)))
    ctx.check(answers == sorted(bad_requests) and all(
        isinstance(m, M.Error) and m.code == M.BAD_REQUEST for m in rest
        if isinstance(m, (M.Response, M.Error))),
        "malformed REQUESTs of the session: answers %s, expected one ERROR BAD_REQUEST for "
        "each of %s (FR-CALL-6)", answers, sorted(bad_requests))
    return "%d vectors, %d PONGs, %d BAD_REQUEST%s" % (
        run, len(pongs), len(bad_requests),
        ", skipped (limits differ): %s" % ", ".join(skipped) if skipped else "")


def malformed_requests(octets, max_frame, max_message, session):
    """Request IDs of the REQUESTs of ``session`` in ``octets`` that the reference receiver
    rejects as MALFORMED_PAYLOAD."""
    rx = Receiver(max_frame, max_message)
    rx.push(octets)
    return [ev.error.request for ev in rx.events()
            if isinstance(ev, ErrorEvent) and ev.error.name == "MALFORMED_PAYLOAD"
            and ev.error.frame_type == F.REQUEST and ev.error.session == session]


# ---- a stopped reader -----------------------------------------------------------------------


def stall_server(ctx, peer, big=60000):
    """Stops reading pipe.out and sends large echo calls until pipe.out is full (the server is
    blocked writing), then as many again: those writes complete only if the server keeps
    reading pipe.in while it cannot write (FR-FIFO-13). Returns the Request IDs sent."""
    peer.reading = False
    cap = pipe_size(peer.fifos.out_fd)
    # The kernel counts a pipe's capacity in pages, and the last frame of each answer leaves
    # part of its page empty, so a full pipe may hold up to about one answer less than `cap`
    # octets (with 1 MiB pipes, 17 answers of 60 000 octets fill all 256 pages). Once it holds
    # `cap - big - max_frame`, at most one more answer fits: the server is about to block.
    full = cap - big - peer.max_frame
    ids = []
    deadline = ctx.within(20)
    while fionread(peer.fifos.out_fd) < full:
        if deadline.expired():
            raise Fail("pipe.out never filled up (%d of %d octets) although %d large calls "
                       "were sent" % (fionread(peer.fifos.out_fd), cap, len(ids)))
        ids.append(peer.request("echo", s("%06d" % peer.next_id + "s" * big), deadline))
        if len(ids) > 1000:
            raise Fail("pipe.out did not fill up after 1000 calls")
    # pipe.out is full and the server holds answers it cannot write: now twice what pipe.in
    # can hold, which gets through only if the server keeps reading pipe.in. Within 8 s: both
    # reference servers give up on a reader after 10 s.
    cap_in = pipe_size(peer.fifos.in_fd)
    more = max(8, (cap_in * 2) // big + 1)
    t0 = time.monotonic()
    deadline = ctx.within(8)
    for _ in range(more):
        ids.append(peer.request("echo", s("%06d" % peer.next_id + "s" * big), deadline))
    ctx.note("pipe.out (%d KiB) full after %d calls; %d more (%d KiB, pipe.in holds %d KiB) "
             "written while it stayed full in %.2f s" % (cap // 1024, len(ids) - more, more,
                                                         more * big // 1024, cap_in // 1024,
                                                         time.monotonic() - t0))
    return ids


@scenario("server.stopped-reader.resume", "server", "FR-FIFO-13 FR-FIFO-11 FR-CALL-2",
          timeout=90)
def stopped_reader_resume(ctx):
    """The harness stops reading pipe.out while sending many 60 KiB calls: the server keeps
    reading pipe.in, and when the harness reads again it either gets every answer or GOODBYE
    SLOW_READER, after which a new session works."""
    proc, peer = serve(ctx)
    ids = stall_server(ctx, peer)
    peer.reading = True
    got, end = {}, None  # end: the server's GOODBYE, or "EOF", if it dropped the session
    while not set(ids) <= set(got):
        msg = peer.next(ctx.within(30), "answers after resuming")
        if msg is None or isinstance(msg, M.Goodbye):
            end = msg or "EOF"
            break
        ctx.check(isinstance(msg, M.Response), "unexpected %s", describe(msg))
        ctx.check(msg.request not in got, "request %d answered twice", msg.request)
        ctx.check(msg.body[8:14] == b"%06d" % msg.request,
                  "answer to %d carries another call's body", msg.request)
        got[msg.request] = msg
    if end is None:
        ctx.check_peer(peer)
        peer.echo("resumed", ctx.within(10))
        exit_and_drain(ctx, proc, peer)
        return "all %d answers arrived after resuming; " % len(ids) + "; ".join(ctx.notes)
    # The server gave up on this reader. Its GOODBYE SLOW_READER may not have fitted in the
    # full pipe, and it may have stopped inside a fragmented answer (see the SIGTERM case).
    ctx.check(end == "EOF" or end.code == M.BYE_SLOW_READER,
              "reading again found %s after %d of %d answers, expected the rest, or GOODBYE "
              "SLOW_READER / EOF", describe(end) if end != "EOF" else "EOF", len(got), len(ids))
    peer.inbox.errors = [e for e in peer.inbox.errors
                         if e.name not in ("TRUNCATED_FRAME", "TRUNCATED_MESSAGE")]
    ctx.check_peer(peer)
    peer.close()
    peer2 = connect(ctx)
    peer2.echo("after slow reader", ctx.within(10))
    exit_and_drain(ctx, proc, peer2)
    return "dropped with %s after %d of %d answers; " % (
        "EOF" if end == "EOF" else "GOODBYE SLOW_READER", len(got), len(ids)) + \
        "; ".join(ctx.notes)


@scenario("server.stopped-reader.give-up", "server", "FR-FIFO-11 FR-FIFO-13 FR-SESS-2",
          timeout=120)
def stopped_reader_give_up(ctx):
    """The harness stops reading pipe.out and waits. A server with a write timeout drops the
    session and closes pipe.out (seen as POLLHUP, without reading): what it wrote is whole
    frames, the GOODBYE if any is SLOW_READER, and the next client is served. A server without
    one (allowed: FR-FIFO-11 only asks that the wait be wakeable) must still deliver every
    answer when the harness reads again after 30 s."""
    proc, peer = serve(ctx)
    ids = stall_server(ctx, peer)
    t0 = time.monotonic()
    ready = fifo.poll({peer.fifos.out_fd: 0}, ctx.within(GIVE_UP_BOUND))  # POLLHUP only
    waited = time.monotonic() - t0
    peer.reading = True
    if not ready.get(peer.fifos.out_fd, 0) & select.POLLHUP:
        got = peer.wait_answers(ids, ctx.within(30), "answers after %.0f s" % waited)
        ctx.check(all(len(v) == 1 for v in got.values()), "a call answered twice")
        exit_and_drain(ctx, proc, peer)
        return "no write timeout within %.0f s; all %d answers delivered" % (waited, len(ids))
    msgs = peer.drain_to_eof(ctx.within(30))
    cut = [e for e in peer.inbox.errors if e.name in ("TRUNCATED_FRAME", "TRUNCATED_MESSAGE")]
    peer.inbox.errors = [e for e in peer.inbox.errors if e not in cut]
    ctx.check_peer(peer)
    answered = [m.request for m in msgs if isinstance(m, (M.Response, M.Error))]
    ctx.check(len(answered) == len(set(answered)), "a call answered twice")
    byes = [m for m in msgs if isinstance(m, M.Goodbye)]
    ctx.check(all(b.code == M.BYE_SLOW_READER for b in byes), "the server dropped the reader "
              "with %s, expected GOODBYE SLOW_READER", ", ".join(describe(b) for b in byes))
    peer.close()
    peer2 = connect(ctx)
    peer2.echo("after the slow reader", ctx.within(10))
    exit_and_drain(ctx, proc, peer2)
    return "pipe.out closed %.1f s after the stall; %d of %d answers, %s" % (
        waited, len(answered), len(ids), "GOODBYE SLOW_READER" if byes else
        "no GOODBYE (it did not fit)")


@scenario("server.stopped-reader.sigterm", "server", "FR-FIFO-11 FR-FIFO-13 FR-BYE-2 FR-FIFO-19",
          timeout=90)
def stopped_reader_sigterm(ctx):
    """SIGTERM while the server is blocked on a full pipe.out: it exits 0 within 30 s and
    removes its files; what it wrote is whole frames, no call answered twice."""
    proc, peer = serve(ctx)
    ids = stall_server(ctx, peer)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(ctx.within(SIGTERM_BOUND), "exit within %d s of SIGTERM" % SIGTERM_BOUND)
    took = time.monotonic() - t0
    ctx.check_exit(proc, code)
    ctx.check_no_files()
    peer.reading = True
    msgs = peer.drain_to_eof(ctx.within(30))
    # A server that gives up on a reader that does not read may stop in the middle of a
    # fragmented message, or of a batch of frames larger than PIPE_BUF (FR-FRAME-10): what
    # it wrote then ends inside a message. That is what FR-DEC-5 and FR-FRAG-6 are for.
    cut = [e for e in peer.inbox.errors if e.name in ("TRUNCATED_FRAME", "TRUNCATED_MESSAGE")]
    peer.inbox.errors = [e for e in peer.inbox.errors if e not in cut]
    ctx.check_peer(peer)
    seen = set()
    for m in msgs:
        if isinstance(m, (M.Response, M.Error)):
            ctx.check(m.request not in seen, "request %d answered twice", m.request)
            seen.add(m.request)
    last = describe(msgs[-1]) if msgs else "nothing"
    return "exit 0 %.1f s after SIGTERM; read %d of %d answers, last %s%s" % (
        took, len(seen), len(ids), last,
        "; stream ended inside %d message(s)" % len(cut) if cut else "")
