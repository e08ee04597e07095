"""Scenarios for a server under test: the harness is the client (spec §8, §9.4).

The server is the implementation's echo program (spec §10.2): ``echo`` returns its string,
``fail`` answers ERROR 1000 with it, ``exit`` answers and shuts down gracefully.

A recurring technique: a frame the server must *not* act on carries a call to ``fail`` with a
message starting with ``NOT-RUN``. Had the server run it, an ERROR 1000 with that text would
come back, on this session or (after a reconnect) as a foreign-session frame left in
``pipe.out``; :func:`check_nothing_ran` looks for one in everything the harness read. Most
scenarios end with ``exit`` and read ``pipe.out`` to its end, so that a late answer cannot slip
by unseen.
"""

import os
import signal
import stat
import struct

from fiforpc import frame as F
from fiforpc import messages as M

import craft
from context import scenario
from craft import s
from peer import ClientPeer, describe, short
from procs import Fail

NOT_RUN = "NOT-RUN"


def not_run(case):
    """The body of a ``fail`` call that must never run."""
    return s("%s:%s" % (NOT_RUN, case))


def connect(ctx, session=None):
    """A harness client connected and past the handshake."""
    peer = ClientPeer.connect(ctx.dir, ctx.within(10), session=session)
    ctx.on_cleanup(peer.close)
    peer.handshake(ctx.within(10))
    return peer


def serve(ctx):
    """The server under test, started, and a harness client in session with it."""
    proc = ctx.start_server()
    return proc, connect(ctx)


def check_nothing_ran(ctx, *peers):
    """No ``fail`` call marked NOT-RUN was ever answered, in any session (FR-DEC-6, FR-HS-4)."""
    for peer in peers:
        for sid, msg in peer.inbox.history:
            if isinstance(msg, M.Error) and msg.message.startswith(NOT_RUN):
                raise Fail("the server ran a call it had to discard: ERROR %d %r for request %d "
                           "of session %08x" % (msg.code, msg.message, msg.request, sid))


def exit_and_drain(ctx, proc, peer, allowed=()):
    """Calls ``exit`` and reads ``pipe.out`` to its end (FR-EXIT-1, FR-BYE-2): the empty
    RESPONSE, then GOODBYE SHUTTING_DOWN, then EOF; the server exits 0 and leaves no files
    (FR-FIFO-19). Every message read and not yet consumed is returned; an answer among them
    to a Request ID not in ``allowed`` fails the scenario (nothing else was outstanding)."""
    rid = peer.request("exit", b"", ctx.within(10))
    msgs = peer.others + peer.drain_to_eof(ctx.within(20), "the answer to exit and EOF")
    peer.others = []
    answer = [i for i, m in enumerate(msgs) if isinstance(m, (M.Response, M.Error))
              and m.request == rid]
    ctx.check(len(answer) == 1, "exit (request %d) answered %d times", rid, len(answer))
    i = answer[0]
    ctx.check(isinstance(msgs[i], M.Response) and msgs[i].body == b"",
              "exit answered %s, expected an empty RESPONSE (FR-EXIT-1)", describe(msgs[i]))
    byes = [m for m in msgs if isinstance(m, M.Goodbye)]
    ctx.check(len(byes) == 1 and msgs[-1] is byes[0],
              "after exit expected GOODBYE SHUTTING_DOWN as the last message, got %s",
              ", ".join(describe(m) for m in msgs[i:]) or "nothing")
    ctx.check(byes[0].code == M.BYE_SHUTTING_DOWN and byes[0].last_request_id == rid,
              "expected GOODBYE SHUTTING_DOWN last=%d, got %s (FR-BYE-2)", rid,
              describe(byes[0]))
    rest = msgs[:i] + msgs[i + 1:-1]
    stray = [m for m in rest if isinstance(m, (M.Response, M.Error))
             and m.request not in allowed]
    ctx.check(not stray, "answers to Request IDs that were not outstanding: %s",
              ", ".join(describe(m) for m in stray[:3]))
    code = proc.wait(ctx.within(20))
    ctx.check_exit(proc, code)
    ctx.check_no_files()
    ctx.check_peer(peer)
    return rest


def sigterm_and_check(ctx, proc, sig=signal.SIGTERM):
    proc.send_signal(sig)
    code = proc.wait(ctx.within(20), "exit after %s" % signal.Signals(sig).name)
    ctx.check_exit(proc, code)
    ctx.check_no_files()


# ---- start orders and files -----------------------------------------------------------------


@scenario("server.start.server-first", "server",
          "FR-FIFO-1 FR-FIFO-2 FR-FIFO-7 FR-FIFO-19 FR-HS-1")
def start_server_first(ctx):
    """Server first: D is 0700, lock and client.lock regular 0600, the FIFOs 0600; a client
    connects, echoes, says GOODBYE; SIGTERM leaves D empty."""
    proc = ctx.start_server()
    st = os.lstat(ctx.dir)
    ctx.check(stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700,
              "D has mode 0%o, expected a directory of mode 0700 (FR-FIFO-1)", st.st_mode)
    for name, kind in (("lock", stat.S_ISREG), ("pipe.in", stat.S_ISFIFO),
                       ("pipe.out", stat.S_ISFIFO), ("client.lock", stat.S_ISREG)):
        path = os.path.join(ctx.dir, name)
        ctx.check(os.path.lexists(path), "%s missing after 'listening'", name)
        st = os.lstat(path)
        ctx.check(kind(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600,
                  "%s: mode 0%o, expected %s 0600 (FR-FIFO-2)", name, st.st_mode,
                  "a FIFO" if kind is stat.S_ISFIFO else "a regular file")
    peer = connect(ctx)
    peer.echo("hello", ctx.within(10))
    peer.send(M.Goodbye(M.BYE_NO_ERROR), deadline=ctx.within(5))
    peer.close()
    sigterm_and_check(ctx, proc)
    ctx.check_peer(peer)


@scenario("server.start.client-first", "server", "FR-FIFO-8 FR-FIFO-10 FR-FIFO-7")
def start_client_first(ctx):
    """Client first: the harness's connect loop is already retrying (no D yet) when the server
    starts; it must connect once the server is ready."""
    started = []

    def on_wait(reason):
        if not started:  # the first failed attempt: only now start the server
            started.append(ctx.spawn(name="the server under test"))

    peer = ClientPeer.connect(ctx.dir, ctx.within(20), on_wait=on_wait)
    ctx.on_cleanup(peer.close)
    ctx.check(started, "the harness connected before starting the server (D existed?)")
    proc = started[0]
    line = proc.line(ctx.within(10), "'listening on D'")
    ctx.check(line == "listening on %s" % ctx.dir, "server printed %r", line)
    peer.handshake(ctx.within(10))
    peer.echo("client was first", ctx.within(10))
    exit_and_drain(ctx, proc, peer)


# ---- handshake ------------------------------------------------------------------------------


@scenario("server.handshake.welcome", "server",
          "FR-HS-2 FR-HS-3 FR-FRAME-6 FR-FRAME-7 FR-TYPE-3")
def handshake_welcome(ctx):
    """WELCOME is sane: the client's session, version 1, 512 <= Max Frame <= PIPE_BUF, Max
    Message >= 4096, Max In-flight >= 1, encoding bincode1, a frame of at most 512 octets; the
    Instance ID is new after a restart."""
    proc, peer = serve(ctx)
    w = peer.welcome
    ctx.check(w.version == 1, "WELCOME version %d, expected 1", w.version)
    ctx.check(512 <= w.max_frame <= peer.pipe_buf, "WELCOME max frame %d outside 512..=%d "
              "(PIPE_BUF) (FR-FRAME-6)", w.max_frame, peer.pipe_buf)
    ctx.check(w.max_message >= 4096, "WELCOME max message %d < 4096", w.max_message)
    ctx.check(w.max_in_flight >= 1, "WELCOME max in-flight %d", w.max_in_flight)
    ctx.check(w.encoding == "bincode1", "WELCOME encoding %r, expected bincode1", w.encoding)
    ctx.check(w.instance_id != 0, "WELCOME instance id is 0")
    ctx.check_peer(peer)  # also: WELCOME within 512 octets (FR-FRAME-7)
    first = w.instance_id
    peer.close()
    sigterm_and_check(ctx, proc)
    proc2, peer2 = serve(ctx)
    ctx.check(peer2.welcome.instance_id != first, "instance id %016x unchanged after a restart "
              "(FR-HS-3)", first)
    sigterm_and_check(ctx, proc2)
    return "max frame %d, max message %d, max in-flight %d" % (w.max_frame, w.max_message,
                                                              w.max_in_flight)


def refused(ctx, what, expect_code, **hello):
    """One connection whose HELLO must be refused with GOODBYE ``expect_code`` (FR-HS-2)."""
    peer = ClientPeer.connect(ctx.dir, ctx.within(10))
    try:
        msg = peer.hello(ctx.within(10), **hello)
        ctx.check(isinstance(msg, M.Goodbye) and msg.code == expect_code,
                  "%s: answer %s, expected GOODBYE %s", what, describe(msg),
                  M.goodbye_code_name(expect_code))
        ctx.check(msg.last_request_id == 0, "%s: GOODBYE last request %d, expected 0", what,
                  msg.last_request_id)
        ctx.check_peer(peer)
        return msg
    finally:
        peer.close()


@scenario("server.handshake.version-unsupported", "server", "FR-HS-2")
def handshake_version(ctx):
    """HELLO with versions 2..=2 is refused with GOODBYE VERSION_UNSUPPORTED naming the
    supported range; the next client is served."""
    proc = ctx.start_server()
    bye = refused(ctx, "versions 2..=2", M.BYE_VERSION_UNSUPPORTED, min_version=2, max_version=2)
    ctx.check("1" in bye.message, "GOODBYE message %r does not name the supported range",
              bye.message)
    peer = connect(ctx)
    peer.echo("after refusal", ctx.within(10))
    exit_and_drain(ctx, proc, peer)


@scenario("server.handshake.limits", "server", "FR-HS-2 FR-FRAME-6")
def handshake_limits(ctx):
    """HELLO with Max Frame 511, or Max Message 4095, is refused with LIMITS_UNACCEPTABLE;
    512 and 4096 are accepted."""
    proc = ctx.start_server()
    refused(ctx, "max frame 511", M.BYE_LIMITS_UNACCEPTABLE, max_frame=511)
    refused(ctx, "max message 4095", M.BYE_LIMITS_UNACCEPTABLE, max_message=4095)
    peer = ClientPeer.connect(ctx.dir, ctx.within(10))
    ctx.on_cleanup(peer.close)
    peer.local_max_frame = 512
    w = peer.hello(ctx.within(10), max_frame=512, max_message=4096)
    ctx.check(isinstance(w, M.Welcome), "HELLO with 512/4096 answered %s", describe(w))
    peer.echo("x" * 1000, ctx.within(10))  # fragmented at 512 both ways
    exit_and_drain(ctx, proc, peer)


@scenario("server.handshake.encoding", "server", "FR-HS-2")
def handshake_encoding(ctx):
    """HELLO naming an encoding the server does not serve is refused with
    ENCODING_UNSUPPORTED."""
    proc = ctx.start_server()
    refused(ctx, "encoding 'no-such-encoding'", M.BYE_ENCODING_UNSUPPORTED,
            encoding="no-such-encoding")
    peer = connect(ctx)
    exit_and_drain(ctx, proc, peer)


@scenario("server.handshake.options", "server", "FR-HS-2 FR-HELLO-1 FR-TYPE-4")
def handshake_options(ctx):
    """An unknown critical HELLO option (0x01, reserved) is refused with UNSUPPORTED_OPTION;
    unknown ignorable ones (0x80, GREASE 0x8f) are skipped."""
    proc = ctx.start_server()
    refused(ctx, "critical option 0x01", M.BYE_UNSUPPORTED_OPTION,
            options=[(0x01, b"/tmp/reply")])
    peer = ClientPeer.connect(ctx.dir, ctx.within(10))
    ctx.on_cleanup(peer.close)
    w = peer.hello(ctx.within(10), options=[(0x80, b""), (0x8F, b"grease")])
    ctx.check(isinstance(w, M.Welcome), "HELLO with ignorable options answered %s",
              describe(w))
    exit_and_drain(ctx, proc, peer)


@scenario("server.handshake.frames-before-hello", "server", "FR-HS-4 FR-HS-1")
def handshake_before_hello(ctx):
    """Frames sent before HELLO (a REQUEST, a PING, a CANCEL) are discarded: the first answer is
    WELCOME and nothing ever answers them."""
    proc = ctx.start_server()
    peer = ClientPeer.connect(ctx.dir, ctx.within(10))
    ctx.on_cleanup(peer.close)
    peer.send(M.Request(1, "fail", not_run("before-hello")), M.Ping(b"early!!!"),
              M.Cancel(1), deadline=ctx.within(5))
    w = peer.hello(ctx.within(10))
    ctx.check(isinstance(w, M.Welcome), "HELLO after early frames answered %s", describe(w))
    peer.next_id = 2
    peer.echo("after", ctx.within(10))
    rest = exit_and_drain(ctx, proc, peer)
    pongs = [m for m in rest if isinstance(m, M.Pong)]
    ctx.check(not pongs, "the PING sent before HELLO was answered")
    check_nothing_ran(ctx, peer)


# ---- calls ----------------------------------------------------------------------------------


@scenario("server.call.echo-fail", "server", "FR-CALL-2 FR-ENC-1")
def call_echo_fail(ctx):
    """echo returns its string (empty, non-ASCII, 64 KiB); fail answers ERROR 1000 with the
    string as its message (spec §10.2)."""
    proc, peer = serve(ctx)
    for text in ("hello", "", "h\u00e9llo \u2713 \U0001f600", "z" * 65536):
        peer.echo(text, ctx.within(10))
    ans = peer.call("fail", s("boom \u2713"), ctx.within(10))
    ctx.check(isinstance(ans, M.Error) and ans.code == 1000 and ans.message == "boom \u2713",
              "fail('boom \u2713') answered %s, expected ERROR 1000 'boom \u2713'", describe(ans))
    exit_and_drain(ctx, proc, peer)


@scenario("server.call.method-not-found", "server", "FR-CALL-6")
def call_method_not_found(ctx):
    """A method the server does not serve is answered ERROR METHOD_NOT_FOUND; the session goes
    on."""
    proc, peer = serve(ctx)
    for method in ("nosuch", "Echo", "m" * 255):
        ans = peer.call(method, s("x"), ctx.within(10))
        ctx.check(isinstance(ans, M.Error) and ans.code == M.METHOD_NOT_FOUND,
                  "method %r answered %s, expected METHOD_NOT_FOUND", short(method),
                  describe(ans))
    peer.echo("still serving", ctx.within(10))
    exit_and_drain(ctx, proc, peer)


@scenario("server.call.bad-request", "server", "FR-CALL-6 FR-TYPE-4 FR-ENC-1 FR-DEC-6")
def call_bad_request(ctx):
    """A malformed REQUEST (method not UTF-8, empty method) and bodies echo/fail cannot decode
    (short, trailing octet, length past the end) are answered ERROR BAD_REQUEST without running
    the call; the session goes on."""
    proc, peer = serve(ctx)
    body = not_run("bad-request")
    cases = [
        ("method-invalid-utf8", craft.call_payload("", body, method_bytes=b"fail\xff")),
        ("method-surrogate", craft.call_payload("", body, method_bytes=b"fail\xed\xa0\x80")),
        ("method-empty", craft.call_payload("", body, method_bytes=b"")),
        ("echo-body-short", craft.call_payload("echo", b"\x01\x02\x03")),
        ("echo-body-trailing-octet", craft.call_payload("echo", s("abc") + b"\x00")),
        ("echo-length-past-end", craft.call_payload("echo", struct.pack("<Q", 1000) + b"ab")),
        ("echo-invalid-utf8", craft.call_payload("echo", struct.pack("<Q", 2) + b"\xc3\x28")),
        ("fail-body-short", craft.call_payload("fail", b"\x05")),
    ]
    for case, payload in cases:
        rid = peer.next_id
        peer.next_id += 1
        peer.write(craft.raw_frame(F.REQUEST, peer.session, rid, payload), ctx.within(5))
        got = peer.wait_answers([rid], ctx.within(10), "answer to %s" % case)
        ans = got[rid]
        ctx.check(len(ans) == 1 and isinstance(ans[0], M.Error)
                  and ans[0].code == M.BAD_REQUEST,
                  "%s answered %s, expected one ERROR BAD_REQUEST (FR-CALL-6)", case,
                  ", ".join(describe(a) for a in ans))
        peer.echo("after %s" % case, ctx.within(10))
    exit_and_drain(ctx, proc, peer)
    check_nothing_ran(ctx, peer)


@scenario("server.call.ping", "server", "FR-PING-1")
def call_ping(ctx):
    """PING in an established session is answered PONG with the same Opaque octets."""
    proc, peer = serve(ctx)
    opaques = [bytes(range(i, i + 8)) for i in (0, 100, 200)]
    peer.send(*[M.Ping(o) for o in opaques], deadline=ctx.within(5))
    pongs = []
    while len(pongs) < len(opaques):
        msg = peer.next(ctx.within(10), "PONG")
        ctx.check(isinstance(msg, M.Pong), "expected PONG, got %s", describe(msg))
        pongs.append(msg.opaque)
    ctx.check(sorted(pongs) == sorted(opaques), "PONG opaques %s, sent %s",
              [p.hex() for p in pongs], [o.hex() for o in opaques])
    exit_and_drain(ctx, proc, peer)


@scenario("server.pipelining", "server", "FR-CALL-2 FR-CALL-3 FR-FRAME-9 FR-FRAME-10")
def pipelining(ctx):
    """200 requests (every 7th a fail) written before any answer is read: each is answered
    exactly once, matched by Request ID (any order)."""
    proc, peer = serve(ctx)
    n = min(200, peer.welcome.max_in_flight)
    if n < 200:
        ctx.note("server allows only %d in flight" % n)
    reqs = []
    for i in range(1, n + 1):
        method = "fail" if i % 7 == 0 else "echo"
        reqs.append(M.Request(i, method, s("call %d" % i)))
    peer.reading = False  # nothing is read before every request is written
    peer.send(*reqs, deadline=ctx.within(20))
    peer.reading = True
    got = peer.wait_answers(range(1, n + 1), ctx.within(30), "answers")
    order = [k for k in got]
    for i in range(1, n + 1):
        ans = got[i]
        ctx.check(len(ans) == 1, "request %d answered %d times", i, len(ans))
        a = ans[0]
        if i % 7 == 0:
            ok = isinstance(a, M.Error) and a.code == 1000 and a.message == "call %d" % i
        else:
            ok = isinstance(a, M.Response) and a.body == s("call %d" % i)
        ctx.check(ok, "request %d (%s) answered %s", i, reqs[i - 1].method, describe(a))
    extra = sorted(set(got) - set(range(1, n + 1)))
    ctx.check(not extra, "answers for request ids never sent: %s", extra[:5])
    exit_and_drain(ctx, proc, peer)
    return "%d calls, answered %s" % (n, "in order" if order == sorted(order) else "out of order")


# ---- fragmentation --------------------------------------------------------------------------


def response_frames(peer, rid):
    return [f for f in peer.inbox.frames if f[0] == peer.session and f[1] == F.RESPONSE
            and f[2] == rid]


@scenario("server.fragmentation", "server",
          "FR-FRAG-1 FR-FRAG-2 FR-FRAME-3 FR-FRAME-7 FR-FRAME-14", timeout=90)
def fragmentation(ctx):
    """Echo calls whose REQUEST, then whose RESPONSE, is a frame of MaxFrame-1, MaxFrame and
    MaxFrame+1 octets (1, 1 and 2 frames), and a 1 MiB message: answers are right and every
    frame is within the agreed MaxFrame."""
    proc, peer = serve(ctx)
    mf = peer.max_frame
    room = mf - F.FRAME_OVERHEAD
    checked = []
    # REQUEST payload = 1 + len("echo") + 8 + n; RESPONSE payload = 8 + n.
    for label, n in (("request", room - 1 - 13), ("request", room - 13),
                     ("request", room + 1 - 13),
                     ("response", room - 1 - 8), ("response", room - 8),
                     ("response", room + 1 - 8), ("1 MiB", 1 << 20)):
        text = "f" * n
        rid = peer.next_id
        want_req = -(-(13 + n) // room)
        sent = peer.frames_of(M.Request(rid, "echo", s(text)))
        ctx.check(len(sent) == want_req, "harness encoder made %d frames, expected %d",
                  len(sent), want_req)
        peer.echo(text, ctx.within(40))
        frames = response_frames(peer, rid)
        want = -(-(8 + n) // room)
        sizes = [f[4] for f in frames]
        ctx.check(len(frames) == want, "%s of %d octets: RESPONSE in %d frames, expected %d "
                  "(sizes %s)", label, 8 + n, len(frames), want, sizes[:4])
        ctx.check(all(f[3] & F.MORE for f in frames[:-1]) and not frames[-1][3] & F.MORE,
                  "MORE flags wrong on the RESPONSE fragments (FR-FRAG-1)")
        checked.append(str(len(frames)))
    ctx.check_peer(peer)  # every frame within the agreed MaxFrame
    exit_and_drain(ctx, proc, peer)
    return "agreed MaxFrame %d; RESPONSE frames %s" % (mf, "/".join(checked))


# ---- cancel ---------------------------------------------------------------------------------


@scenario("server.cancel", "server", "FR-CANCEL-1 FR-CANCEL-2 FR-CALL-2")
def cancel(ctx):
    """REQUEST then CANCEL (in one write): exactly one terminal answer per call, RESPONSE or
    ERROR CANCELLED; CANCEL of an unknown Request ID is ignored."""
    proc, peer = serve(ctx)
    peer.send(M.Cancel(4242), deadline=ctx.within(5))
    ids = list(range(1, 21))
    for rid in ids:
        peer.send(M.Request(rid, "echo", s("c%d" % rid)), M.Cancel(rid), deadline=ctx.within(5))
    peer.next_id = 21
    got = peer.wait_answers(ids, ctx.within(20), "answers to cancelled calls")
    rest = exit_and_drain(ctx, proc, peer, allowed=set(ids) | {4242})
    for m in rest:
        if isinstance(m, (M.Response, M.Error)):
            got.setdefault(m.request, []).append(m)
    ctx.check(4242 not in got, "CANCEL of unknown id 4242 was answered: %s",
              describe(got.get(4242, [None])[0]))
    cancelled = ran = 0
    for rid in ids:
        ans = got.get(rid, [])
        ctx.check(len(ans) == 1, "cancelled request %d got %d terminal answers (FR-CALL-2): %s",
                  rid, len(ans), ", ".join(describe(a) for a in ans))
        a = ans[0]
        if isinstance(a, M.Error) and a.code == M.CANCELLED:
            cancelled += 1
        elif isinstance(a, M.Response) and a.body == s("c%d" % rid):
            ran += 1
        else:
            raise Fail("cancelled request %d answered %s, expected its RESPONSE or ERROR "
                       "CANCELLED" % (rid, describe(a)))
    return "%d answered CANCELLED, %d ran" % (cancelled, ran)


# ---- ending sessions ------------------------------------------------------------------------


@scenario("server.goodbye", "server", "FR-BYE-1 FR-HS-4 FR-SESS-2")
def goodbye(ctx):
    """A client says GOODBYE NO_ERROR (with a REQUEST of its session after it in the same
    write, which must not run) and leaves; the next client is served."""
    proc, peer = serve(ctx)
    peer.echo("first client", ctx.within(10))
    peer.send(M.Goodbye(M.BYE_NO_ERROR, 0, "bye"), M.Request(9, "fail", not_run("after-bye")),
              deadline=ctx.within(5))
    peer.close()
    peer2 = connect(ctx)
    peer2.echo("second client", ctx.within(10))
    exit_and_drain(ctx, proc, peer2)
    check_nothing_ran(ctx, peer2)


@scenario("server.session.new-hello", "server", "FR-SESS-1 FR-SESS-2 FR-HS-4")
def session_new_hello(ctx):
    """A HELLO with a new Session ID during a session (the previous client is gone) starts a
    new session; a REQUEST of the old session afterwards is discarded."""
    proc, peer = serve(ctx)
    old = peer.session
    peer.echo("old session", ctx.within(10))
    new = (old % 0xFFFFFFF0) + 7
    peer.session = peer.inbox.own = new
    peer.welcome = None
    w = peer.hello(ctx.within(10))
    ctx.check(isinstance(w, M.Welcome), "second HELLO answered %s (FR-SESS-1)", describe(w))
    peer.send(M.Request(50, "fail", not_run("old-session")), session=old, deadline=ctx.within(5))
    peer.echo("new session", ctx.within(10))
    exit_and_drain(ctx, proc, peer)
    check_nothing_ran(ctx, peer)


@scenario("server.session.foreign-frames", "server", "FR-HS-4")
def session_foreign(ctx):
    """Frames of another Session ID during a session (a REQUEST, a PING) are discarded."""
    proc, peer = serve(ctx)
    other = peer.session ^ 0x5A5A5A5A or 3
    peer.send(M.Request(77, "fail", not_run("foreign")), M.Ping(b"foreign!"), session=other,
              deadline=ctx.within(5))
    peer.echo("own session", ctx.within(10))
    rest = exit_and_drain(ctx, proc, peer)
    check_nothing_ran(ctx, peer)
    ctx.check(not [m for m in rest if isinstance(m, M.Pong)], "a foreign PING was answered")
    ctx.check(not [m for s_, m in peer.inbox.history if s_ == other],
              "the server answered on the foreign session")


@scenario("server.exit", "server", "FR-EXIT-1 FR-BYE-2 FR-FIFO-19 FR-FIFO-20")
def exit_method(ctx):
    """exit: the server answers an empty RESPONSE, then GOODBYE SHUTTING_DOWN naming the exit
    call, closes pipe.out and exits 0 with D empty; the harness reads all of it only after the
    process has exited (FR-FIFO-20)."""
    proc, peer = serve(ctx)
    for i in range(3):
        peer.echo("before exit %d" % i, ctx.within(10))
    rid = peer.request("exit", b"", ctx.within(5))
    code = proc.wait(ctx.within(20), "exit after the exit call")
    ctx.check_exit(proc, code)
    ctx.check_no_files()
    msgs = peer.drain_to_eof(ctx.within(10))
    ctx.check([type(m) for m in msgs] == [M.Response, M.Goodbye],
              "after exit read %s, expected RESPONSE, GOODBYE, EOF (FR-EXIT-1)",
              ", ".join(describe(m) for m in msgs) or "nothing")
    ctx.check(msgs[0].request == rid and msgs[0].body == b"", "exit answered %s",
              describe(msgs[0]))
    ctx.check(msgs[1].code == M.BYE_SHUTTING_DOWN and msgs[1].last_request_id == rid,
              "expected GOODBYE SHUTTING_DOWN last=%d, got %s", rid, describe(msgs[1]))
    ctx.check_peer(peer)


@scenario("server.exit.pipelined", "server", "FR-BYE-2 FR-EXIT-1 FR-CALL-2")
def exit_pipelined(ctx):
    """echo, exit, echo, echo in one write: each call gets one answer (the ones after exit
    RESPONSE if already started, else ERROR SHUTTING_DOWN); GOODBYE SHUTTING_DOWN names a
    started call and is the last message."""
    proc, peer = serve(ctx)
    peer.send(M.Request(1, "echo", s("a")), M.Request(2, "exit", b""),
              M.Request(3, "echo", s("b")), M.Request(4, "echo", s("c")),
              deadline=ctx.within(5))
    msgs = peer.drain_to_eof(ctx.within(20))
    code = proc.wait(ctx.within(20))
    ctx.check_exit(proc, code)
    ctx.check_no_files()
    ctx.check_peer(peer)
    answers = {}
    for m in msgs:
        if isinstance(m, (M.Response, M.Error)):
            answers.setdefault(m.request, []).append(m)
    for rid in (1, 2, 3, 4):
        ctx.check(len(answers.get(rid, [])) == 1, "request %d answered %d times", rid,
                  len(answers.get(rid, [])))
    ctx.check(isinstance(answers[1][0], M.Response), "echo before exit: %s",
              describe(answers[1][0]))
    ctx.check(isinstance(answers[2][0], M.Response) and answers[2][0].body == b"",
              "exit: %s", describe(answers[2][0]))
    started = {1, 2}
    for rid in (3, 4):
        a = answers[rid][0]
        if isinstance(a, M.Response):
            started.add(rid)
        else:
            ctx.check(isinstance(a, M.Error) and a.code == M.SHUTTING_DOWN,
                      "request %d after exit answered %s, expected RESPONSE or ERROR "
                      "SHUTTING_DOWN (FR-BYE-2)", rid, describe(a))
    bye = msgs[-1] if msgs else None
    ctx.check(isinstance(bye, M.Goodbye) and bye.code == M.BYE_SHUTTING_DOWN,
              "last message %s, expected GOODBYE SHUTTING_DOWN", describe(bye))
    ctx.check(bye.last_request_id in started, "GOODBYE last request %d is not a started call "
              "(started: %s)", bye.last_request_id, sorted(started))
    return "calls after exit: %s" % ", ".join(
        "%d %s" % (r, "ran" if r in started else "SHUTTING_DOWN") for r in (3, 4))


@scenario("server.signal.sigterm-idle", "server", "FR-FIFO-19")
def sigterm_idle(ctx):
    """SIGTERM with no client: exit 0, D empty."""
    proc = ctx.start_server()
    sigterm_and_check(ctx, proc)


@scenario("server.signal.sigint-idle", "server", "FR-FIFO-19")
def sigint_idle(ctx):
    """SIGINT with no client: exit 0, D empty."""
    proc = ctx.start_server()
    sigterm_and_check(ctx, proc, signal.SIGINT)


@scenario("server.signal.sigterm-session", "server", "FR-BYE-2 FR-FIFO-19")
def sigterm_session(ctx):
    """SIGTERM with a client in session: GOODBYE SHUTTING_DOWN naming the last call, EOF, exit
    0, D empty."""
    proc, peer = serve(ctx)
    peer.echo("one", ctx.within(10))
    peer.echo("two", ctx.within(10))
    sigterm_and_check(ctx, proc)
    msgs = peer.drain_to_eof(ctx.within(10))
    ctx.check(len(msgs) == 1 and isinstance(msgs[0], M.Goodbye)
              and msgs[0].code == M.BYE_SHUTTING_DOWN and msgs[0].last_request_id == 2,
              "after SIGTERM read %s, expected GOODBYE SHUTTING_DOWN last=2 then EOF",
              ", ".join(describe(m) for m in msgs) or "nothing")
    ctx.check_peer(peer)
