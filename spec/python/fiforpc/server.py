"""The server side of a session (spec §8) over the FIFO transport (§9).

One thread runs an event loop around ``poll``: it reads ``pipe.in`` whenever there is input (also
while it waits to write, FR-FIFO-13), queues accepted REQUESTs, runs them, and writes answers to
``pipe.out`` frame by frame. Clients come one after another (§8.5); each HELLO starts a session:

* IDLE: only HELLO is looked at; every other frame is discarded and counted (FR-HS-4).
* ESTABLISHED: frames of other sessions are discarded, except a HELLO, which means the previous
  client is gone (FR-SESS-1). REQUESTs are queued (at most Max In-flight, FR-CALL-4), CANCEL
  removes a queued call and answers CANCELLED (FR-CANCEL-2), PING gets PONG (FR-PING-1), GOODBYE
  ends the session (FR-BYE-1), a type from the wrong direction ends it with GOODBYE PROTOCOL_ERROR
  (FR-ERR-2).
* DRAINING (:meth:`Server.shutdown`, or the ``exit`` method): queued calls that have not started
  are answered SHUTTING_DOWN, then GOODBYE SHUTTING_DOWN names the last call started, and the
  server removes its files and returns (FR-BYE-2, FR-EXIT-1).

Framing errors never end a session (FR-ERR-1).

The write end of ``pipe.out`` is kept open from one session to the next (§9.4): the next client may
already hold its read end, and closing ours would show it an end of stream before its WELCOME. It
is closed on EPIPE (no reader left), when a reader does not read (SLOW_READER), and at exit.
"""

import os
import secrets
import select
import sys
from collections import deque

from . import errors as E
from . import fifo
from . import messages as M
from .frame import HELLO, MIN_MAX_FRAME, MIN_MAX_MESSAGE, REQUEST
from .fifo import Deadline, PeerGone
from .receiver import ErrorEvent, MessageEvent, Receiver

READ_BURST = 8  # reads per loop turn, so that writing keeps up


class CallError(Exception):
    """Raised by a handler to answer ERROR with ``code`` (§11.1; 1000 and up for the service)."""

    def __init__(self, code, message="", details=b""):
        super().__init__(message)
        self.code, self.message, self.details = code, message, details


class ServerConfig:
    """Limits a server advertises in WELCOME (§6.2)."""

    def __init__(self, max_frame=None, max_message=16 * 1024 * 1024, max_in_flight=1024,
                 encoding="bincode1", write_timeout=10.0, log=None):
        self.max_frame = max_frame  # None: min(PIPE_BUF, 65535) (FR-FRAME-6)
        self.max_message = max_message
        self.max_in_flight = max_in_flight
        self.encoding = encoding
        self.write_timeout = write_timeout  # SLOW_READER after this long without progress
        self.log = log  # callable(str) for diagnostics, or None


class _Session:
    def __init__(self, sid, writer, max_frame, peer_max_message):
        self.id = sid
        self.writer = writer
        self.max_frame = max_frame  # agreed (FR-FRAME-7)
        self.peer_max_message = peer_max_message
        self.queue = deque()  # accepted, not started: Request messages
        self.queued = {}  # request id -> Request
        self.out = deque()  # encoded frames waiting for pipe.out
        self.stalled = None  # Deadline for the frame at the head of `out`
        self.closing = False  # GOODBYE queued: close once `out` is empty
        self.last_started = 0


class Server:
    """A FIFO-RPC/1 server for ``handlers``: ``{method: callable(body: bytes) -> bytes}``.

    A handler raises :class:`CallError` to answer ERROR. Call :meth:`serve` to run until
    :meth:`shutdown` (thread- and signal-safe) is called or a handler calls it.
    """

    def __init__(self, path, handlers, config=None):
        self.config = config or ServerConfig()
        self.handlers = dict(handlers)
        self.fifos = fifo.ServerFifos(path)
        local = min(self.fifos.pipe_buf, 65535)
        if self.config.max_frame is not None:
            local = min(local, self.config.max_frame)
        if local < MIN_MAX_FRAME:
            raise ValueError("max frame %d is below %d" % (local, MIN_MAX_FRAME))
        self.max_frame = local
        self.instance_id = secrets.randbits(64)  # FR-HS-3
        self.receiver = Receiver(local, self.config.max_message,
                                 max_partial=self.config.max_in_flight + 1)  # FR-FRAG-7
        self.receiver.reassembler.on_discard_end = self._discard_end
        self.waker = fifo.Waker()
        self.writer = None  # pipe.out write end, kept between sessions
        self.session = None
        self._shutdown = False
        self._draining = False
        self.discarded = 0  # frames discarded by FR-HS-4
        self.framing_errors = 0
        self.sessions_served = 0

    @property
    def path(self):
        return self.fifos.dir.path

    def _log(self, text):
        if self.config.log:
            self.config.log(text)

    # ---- public -------------------------------------------------------------------------

    def shutdown(self):
        """Asks for a graceful shutdown (FR-BYE-2). Safe from signal handlers and threads."""
        self._shutdown = True
        self.waker.wake()

    def serve(self):
        """Serves clients one after another until shut down; then removes the files."""
        try:
            while True:
                if self._shutdown and not self._draining:
                    self._begin_drain()
                if self._draining and (self.session is None or
                                       (self.session.closing and not self.session.out)):
                    self._end_session(None)
                    return
                self._turn()
        finally:
            self.close()

    def close(self):
        """Closes pipe.out and removes the files (FR-FIFO-19). Idempotent."""
        if self.session is not None:
            self._end_session(None)
        if self.writer is not None:
            os.close(self.writer)  # FR-BYE-2 (4): close pipe.out, then remove the files
            self.writer = None
        self.fifos.remove_files()
        if self.waker is not None:
            self.waker.close()
            self.waker = None

    # ---- the loop -----------------------------------------------------------------------

    def _turn(self):
        s = self.session
        fds = {self.fifos.in_fd: select.POLLIN, self.waker.r: select.POLLIN}
        deadline = Deadline(None)
        if s is not None and s.out:
            fds[s.writer] = select.POLLOUT
            deadline = s.stalled
        if s is not None and s.queue:
            deadline = Deadline(0)  # calls to run: do not sleep
        ready = fifo.poll(fds, deadline)
        if self.waker.r in ready:
            self.waker.drain()
        if self.fifos.in_fd in ready:
            self._read_input()
        self._run_calls()
        self._flush()

    def _read_input(self):
        for _ in range(READ_BURST):
            data = fifo.read_some(self.fifos.in_fd)
            if data is None:
                # EAGAIN: all read. A frame is never half in pipe.in (FR-DEC-7).
                self.receiver.drained()
                self._drain_events()
                return
            if data == b"":
                self._input_eof()
                return
            self.receiver.push(data)
            self._drain_events()

    def _input_eof(self):
        # No writer on pipe.in now (FR-FIFO-14): a client opened and closed, or left.
        self.receiver.finish()
        self._drain_events()
        self.receiver.reset()
        if self.session is not None and not self.session.closing:
            self._log("session %08x: client gone (EOF on pipe.in)" % self.session.id)
            self._end_session(None)
        # POLLHUP stays raised until a writer opens again: reopen (FR-FIFO-15).
        self.fifos.reopen_reader()

    def _drain_events(self):
        while True:
            ev = self.receiver.poll_event()
            if ev is None:
                return
            if isinstance(ev, MessageEvent):
                self._on_message(ev.session, ev.message)
            elif isinstance(ev, ErrorEvent):
                self._on_error(ev.error)

    # ---- events -------------------------------------------------------------------------

    def _on_error(self, err):
        self.framing_errors += 1
        self._log("receiver error %s" % err)
        s = self.session
        if (s is None or s.closing or err.session != s.id or err.frame_type != REQUEST
                or not err.request):
            return
        if err.name == E.MALFORMED_PAYLOAD:  # FR-CALL-6
            self._answer_error(err.request, M.BAD_REQUEST, "malformed request: %s" % err.detail)

    def _discard_end(self, key, name):
        """A discarded REQUEST has seen its last fragment (FR-FRAG-5)."""
        session, request, frame_type = key
        s = self.session
        if s is None or s.closing or session != s.id or frame_type != REQUEST:
            return
        if name == E.MESSAGE_TOO_LARGE:
            self._answer_error(request, M.MESSAGE_TOO_LARGE,
                               "request exceeds max message %d" % self.config.max_message)
        else:
            self._answer_error(request, M.OVERLOADED, "too many requests in reassembly")

    def _on_message(self, sid, msg):
        s = self.session
        if msg.TYPE == HELLO:
            if s is not None and s.id == sid and not s.closing:
                self._protocol_error("HELLO during its own session")
                return
            if s is not None:
                # FR-SESS-1: a new client means the previous one is gone.
                self._end_session(None)
            self._on_hello(sid, msg)
            return
        if s is None or s.closing or sid != s.id:
            self.discarded += 1  # FR-HS-4
            return
        kind = type(msg)
        if kind is M.Request:
            self._on_request(msg)
        elif kind is M.Cancel:
            call = s.queued.pop(msg.request, None)
            if call is not None:  # FR-CANCEL-2: not started, so never started
                s.queue.remove(call)
                self._answer_error(msg.request, M.CANCELLED, "cancelled before it started")
        elif kind is M.Ping:
            self._send(M.Pong(msg.opaque))
        elif kind is M.Goodbye:
            self._log("session %08x: client said goodbye" % s.id)
            self._end_session(None)  # FR-BYE-1
        elif kind in (M.Notify, M.Pong):
            pass  # NOTIFY is never answered (FR-CALL-7); this service has no notifications
        else:
            self._protocol_error("%s sent by a client" % type(msg).__name__.upper())

    def _on_hello(self, sid, hello):
        if self.writer is None:
            self.writer = self.fifos.open_writer()
            if self.writer is None:
                self._log("session %08x: client gone before WELCOME (ENXIO)" % sid)
                return
        self.sessions_served += 1
        s = self.session = _Session(sid, self.writer, MIN_MAX_FRAME, hello.max_message)
        refusal = None
        if not hello.min_version <= 1 <= hello.max_version:
            refusal = (M.BYE_VERSION_UNSUPPORTED, "supported versions: 1..=1")
        elif hello.max_frame < MIN_MAX_FRAME or hello.max_message < MIN_MAX_MESSAGE:
            refusal = (M.BYE_LIMITS_UNACCEPTABLE, "max frame must be >= 512 and max message "
                                                  ">= 4096")
        elif hello.encoding != self.config.encoding:
            refusal = (M.BYE_ENCODING_UNSUPPORTED, "this server serves %s" % self.config.encoding)
        else:
            critical = [t for t, _ in hello.options if t < 0x80]
            if critical:
                refusal = (M.BYE_UNSUPPORTED_OPTION, "unknown critical option 0x%02x" % critical[0])
        if refusal is not None or self._draining:
            code, text = refusal or (M.BYE_SHUTTING_DOWN, "the server is shutting down")
            self._log("session %08x: refused: %s" % (sid, text))
            self._goodbye(code, text)  # FR-HS-2, within 512 octets (FR-FRAME-7)
            return
        self._send(M.Welcome(1, self.max_frame, self.config.max_message,
                             self.config.max_in_flight, os.getpid() & 0xFFFFFFFF,
                             self.instance_id, self.config.encoding))
        s.max_frame = min(self.max_frame, hello.max_frame)
        self._log("session %08x: established, max frame %d" % (sid, s.max_frame))

    def _on_request(self, req):
        s = self.session
        if self._draining:
            self._answer_error(req.request, M.SHUTTING_DOWN, "the server is shutting down")
        elif req.request in s.queued:
            self._protocol_error("request id %d reused while outstanding" % req.request)
        elif len(s.queue) >= self.config.max_in_flight:
            self._answer_error(req.request, M.OVERLOADED, "more than %d calls outstanding"
                               % self.config.max_in_flight)  # FR-CALL-4
        else:
            s.queue.append(req)
            s.queued[req.request] = req

    # ---- calls --------------------------------------------------------------------------

    def _run_calls(self):
        s = self.session
        while s is not None and s is self.session and s.queue and not self._draining:
            req = s.queue.popleft()
            del s.queued[req.request]
            s.last_started = req.request
            handler = self.handlers.get(req.method)
            if handler is None:  # FR-CALL-6
                self._answer_error(req.request, M.METHOD_NOT_FOUND,
                                   "no method %r" % req.method)
                continue
            try:
                body = handler(req.body)
            except CallError as e:
                self._answer_error(req.request, e.code, e.message, e.details)
                continue
            except Exception as e:  # the handler crashed
                self._answer_error(req.request, M.HANDLER_PANICKED, "%s: %s"
                                   % (type(e).__name__, e))
                continue
            if len(body) > s.peer_max_message:  # FR-FRAG-4
                self._answer_error(req.request, M.MESSAGE_TOO_LARGE, "response of %d octets "
                                   "exceeds the client's max message" % len(body))
            else:
                self._send(M.Response(req.request, body))
            if self._shutdown and not self._draining:
                self._begin_drain()

    def _answer_error(self, request, code, message, details=b""):
        self._send(M.Error(request, code, message[:1000], details))

    # ---- output -------------------------------------------------------------------------

    def _send(self, msg):
        s = self.session
        if s is None or s.closing:
            return  # FR-SESS-2
        frames = M.encode(msg, s.id, s.max_frame)
        if not s.out:
            s.stalled = Deadline(self.config.write_timeout)
        s.out.extend(frames)

    def _goodbye(self, code, text, last_request=0):
        self._send(M.Goodbye(code, last_request, text))
        self.session.closing = True

    def _protocol_error(self, text):
        self._log("session %08x: protocol error: %s" % (self.session.id, text))
        self._goodbye(M.BYE_PROTOCOL_ERROR, text)  # FR-ERR-2

    def _flush(self):
        s = self.session
        if s is None:
            return
        try:
            while s.out:
                if not fifo.write_frame(s.writer, s.out[0]):
                    break  # pipe full (FR-FIFO-13): wait for POLLOUT, keep reading
                s.out.popleft()
                s.stalled = Deadline(self.config.write_timeout)
        except PeerGone:
            self._log("session %08x: client gone (EPIPE)" % s.id)
            self._end_session(None, close_writer=True)
            return
        if s.out and s.stalled.expired():
            self._log("session %08x: client does not read, dropping it" % s.id)
            s.out.clear()
            try:
                fifo.write_frame(s.writer, M.encode(M.Goodbye(M.BYE_SLOW_READER, s.last_started,
                                                              "answers not read in time"),
                                                    s.id, s.max_frame)[0])
            except PeerGone:
                pass
            self._end_session(None, close_writer=True)
            return
        if s.closing and not s.out and not self._draining:
            self._end_session(None)

    def _begin_drain(self):
        """FR-BYE-2 (1)-(3): stop starting calls, answer the queued ones, say GOODBYE."""
        self._draining = True
        s = self.session
        if s is None:
            return
        if s.closing:
            return
        while s.queue:
            req = s.queue.popleft()
            self._answer_error(req.request, M.SHUTTING_DOWN, "the server is shutting down")
        s.queued.clear()
        self._goodbye(M.BYE_SHUTTING_DOWN, "server shutting down", s.last_started)
        # (4) happens in serve(): once the GOODBYE is written, pipe.out is closed.
        self._flush_until_done()

    def _flush_until_done(self):
        """Writes what is queued, reading input meanwhile (FR-FIFO-13), up to the write timeout."""
        s = self.session
        while s is self.session and s is not None and s.out:
            fds = {self.fifos.in_fd: select.POLLIN, s.writer: select.POLLOUT}
            ready = fifo.poll(fds, s.stalled)
            if self.fifos.in_fd in ready:
                self._read_input()
            self._flush()

    def _end_session(self, _reason, close_writer=False):
        """Forgets the session: queued calls and unwritten answers (FR-SESS-2), partial messages
        (FR-BYE-1). ``close_writer`` also closes pipe.out (EPIPE, slow reader)."""
        s = self.session
        if s is None:
            return
        self.session = None
        self.receiver.drop_session(s.id)
        if close_writer and self.writer is not None:
            os.close(self.writer)
            self.writer = None


def stderr_log(text):
    print(text, file=sys.stderr, flush=True)
