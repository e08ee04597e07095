"""Client scenarios where things go wrong: error answers, a server that dies mid-message,
never answers, refuses, is absent, says GOODBYE instead of answering, or closes pipe.in under
the client's write (EPIPE). A failing client must exit non-zero (never by a signal) with
exactly one line on stderr, and print no reply it did not get.

The harness is the server; the helpers are those of :mod:`scenarios_client`.
"""

from fiforpc import frame as F
from fiforpc import messages as M

from context import scenario
from peer import describe
from procs import PeerClosed, fionread, pipe_size, wait_until
from scenarios_client import accept, finish_failed, new_server, next_request, run_client


# ---- failures -------------------------------------------------------------------------------


@scenario("client.error-answer", "client", "FR-CALL-2")
def error_answer(ctx):
    """The echo call is answered ERROR 1000: the client fails with one line on stderr and a
    non-zero exit status."""
    srv = new_server(ctx)
    proc = run_client(ctx, "boom", "never sent")
    accept(ctx, srv, proc)
    req = next_request(ctx, srv)
    srv.send(M.Error(req.request, 1000, "boom"), deadline=ctx.within(5))
    took, line = finish_failed(ctx, proc, 20)
    ctx.check("never sent" not in proc.stdout, "the client went on after the error")
    return line


@scenario("client.server-dies.mid-message", "client", "FR-BYE-4 FR-FRAG-6 FR-FIFO-14")
def server_dies_mid_message(ctx):
    """The server writes the first fragment of a RESPONSE and dies (closes pipe.out): the
    client fails promptly (long before its 60 s timeout) with one line on stderr, and does not
    re-send the call (FR-BYE-4)."""
    srv = new_server(ctx)
    text = "d" * (3 * srv.local_max_frame)
    proc = run_client(ctx, text, timeout_ms=60000)
    accept(ctx, srv, proc)
    req = next_request(ctx, srv)
    frames = srv.frames_of(M.Response(req.request, req.body))
    srv.write(frames[0], ctx.within(5))
    seen = len(srv.inbox.history)
    srv.close_writer()  # dies; pipe.in stays open to see whether the call is re-sent
    took, line = finish_failed(ctx, proc, 10)
    rest = later_calls(ctx, srv, seen)
    ctx.check(not rest, "after the server died the client sent %s (FR-BYE-4: never re-send)",
              ", ".join(describe(m) for m in rest))
    return "failed after %.2f s: %s" % (took, line)


def later_calls(ctx, srv, seen):
    """HELLOs and REQUESTs (of any session) the client wrote after the first ``seen`` messages,
    read to the end of pipe.in (the client has exited)."""
    while srv.pump(ctx.within(5)):
        pass
    return [m for _, m in srv.inbox.history[seen:] if isinstance(m, (M.Request, M.Hello))]


@scenario("client.no-welcome", "client", "FR-FIFO-14 FR-FIFO-11")
def no_welcome(ctx):
    """The server reads HELLO and goes away without answering (closes and removes everything):
    the client fails with one line on stderr, within its 3 s timeout."""
    srv = new_server(ctx)
    proc = run_client(ctx, "unanswered", timeout_ms=3000)
    accept(ctx, srv, proc, welcome=False)
    srv.close()
    took, line = finish_failed(ctx, proc, 13)
    return "failed after %.2f s: %s" % (took, line)


@scenario("client.hello-unanswered", "client", "FR-FIFO-11")
def hello_unanswered(ctx):
    """The server keeps the FIFOs open but never answers HELLO: the client gives up at its
    2 s timeout with one line on stderr."""
    srv = new_server(ctx)
    proc = run_client(ctx, "silence", timeout_ms=2000)
    accept(ctx, srv, proc, welcome=False)
    took, line = finish_failed(ctx, proc, 12)
    return "failed after %.2f s: %s" % (took, line)


@scenario("client.refused", "client", "FR-HS-2")
def refused(ctx):
    """HELLO is answered GOODBYE VERSION_UNSUPPORTED: the client fails with one line on stderr
    (within its timeout)."""
    srv = new_server(ctx)
    proc = run_client(ctx, "refused", timeout_ms=3000)
    accept(ctx, srv, proc, welcome=False)
    srv.send(M.Goodbye(M.BYE_VERSION_UNSUPPORTED, 0, "supported versions: 7..=7"),
             deadline=ctx.within(5))
    took, line = finish_failed(ctx, proc, 13)
    return "failed after %.2f s: %s" % (took, line)


@scenario("client.no-server", "client", "FR-FIFO-10 FR-FIFO-11")
def no_server(ctx):
    """No server, not even D: the client retries until its 1 s timeout, then fails with one
    line on stderr."""
    proc = run_client(ctx, "anyone?", timeout_ms=1000)
    took, line = finish_failed(ctx, proc, 11)
    ctx.check(took >= 0.8, "the client gave up after %.2f s, before its 1 s timeout "
              "(FR-FIFO-10)", took)
    return "failed after %.2f s: %s" % (took, line)


@scenario("client.no-server.stale-files", "client", "FR-FIFO-8 FR-FIFO-11")
def no_server_stale(ctx):
    """Files left by a dead server, nobody reading pipe.in: the client gets ENXIO, retries until
    its 1 s timeout, then fails with one line on stderr."""
    srv = new_server(ctx, open_reader=False)
    srv.close(remove=False)
    proc = run_client(ctx, "anyone?", timeout_ms=1000)
    took, line = finish_failed(ctx, proc, 11)
    ctx.check(took >= 0.8, "the client gave up after %.2f s, before its 1 s timeout "
              "(FR-FIFO-8)", took)
    return "failed after %.2f s: %s" % (took, line)


@scenario("client.goodbye-before-answer", "client", "FR-BYE-3")
def goodbye_before_answer(ctx):
    """The server says GOODBYE SHUTTING_DOWN instead of answering the first of two calls, then
    exits: the client fails (the call was not run), prints no reply, and sends no further
    REQUEST."""
    srv = new_server(ctx)
    proc = run_client(ctx, "first", "second")
    accept(ctx, srv, proc)
    req = next_request(ctx, srv)
    seen = len(srv.inbox.history)
    srv.send(M.Goodbye(M.BYE_SHUTTING_DOWN, 0, "server exiting"), deadline=ctx.within(5))
    srv.close_writer()
    srv.remove_files()
    took, line = finish_failed(ctx, proc, 20)
    later = later_calls(ctx, srv, seen)
    ctx.check(not later, "after GOODBYE the client sent %s (FR-BYE-3)",
              ", ".join(describe(m) for m in later))
    ctx.check("sent: second" not in proc.stdout, "the client went on to the second call")
    return line


@scenario("client.epipe", "client", "FR-FIFO-17 FR-FIFO-18 FR-FIFO-13")
def epipe(ctx):
    """The server stops reading pipe.in while the client writes a 120 000-octet REQUEST (more
    than the pipe holds, so the client waits for room), then closes its read end. The client's
    next write fails with EPIPE (or it sees POLLERR on pipe.in first and writes nothing more):
    either way the server is gone (FR-FIFO-18) and the client must not die of SIGPIPE: non-zero
    exit status, not a signal, one line on stderr."""
    srv = new_server(ctx)
    text = "e" * 120000
    proc = run_client(ctx, text, "never sent")
    accept(ctx, srv, proc)
    room = srv.max_frame - F.FRAME_OVERHEAD
    payload = 1 + len("echo") + 8 + len(text)
    total = payload + F.FRAME_OVERHEAD * -(-payload // room)
    cap = pipe_size(srv.in_fd)
    if total + srv.max_frame <= cap:
        # The whole REQUEST fits in pipe.in: once it is there, close the read end and send a
        # PING, whose PONG is the client's next write.
        wait_until(lambda: fionread(srv.in_fd) >= total, ctx.within(15),
                   "the client's whole REQUEST in pipe.in")
        srv.close_reader()
        try:
            srv.send(M.Ping(b"epipe!!!"), deadline=ctx.within(5))
        except PeerClosed:
            pass  # the client already noticed and left
        how = "REQUEST written whole (pipe.in holds %d), then PING" % cap
    else:
        # pipe.in is full and the client waits for room to write the rest of its REQUEST.
        wait_until(lambda: fionread(srv.in_fd) > cap - srv.max_frame, ctx.within(15),
                   "pipe.in full (the client blocked writing)")
        srv.close_reader()
        how = "closed while the client waited to write (pipe.in full at %d octets)" % cap
    took, line = finish_failed(ctx, proc, 20)
    return "%s; %s" % (how, line)


@scenario("client.exit-without-goodbye", "client", "FR-EXIT-1")
def exit_without_goodbye(ctx):
    """exit is answered with an empty RESPONSE, but pipe.out then ends without GOODBYE: the
    client does not print 'server exited' (the CLI contract asks for both) and fails."""
    srv = new_server(ctx)
    proc = run_client(ctx, "exit")
    accept(ctx, srv, proc)
    req = next_request(ctx, srv)
    srv.send(M.Response(req.request, b""), deadline=ctx.within(5))
    srv.close_writer()
    srv.remove_files()
    took, line = finish_failed(ctx, proc, 20)
    return line
