"""The client side of a session (spec §8) over the FIFO transport (§9).

::

    with Client.connect("/run/user/1000/echo", timeout=5.0) as c:
        body = c.call("echo", bincode1.encode(bincode1.STRING, "hi"))

* :meth:`Client.connect` opens the FIFOs (§9.4), sends HELLO with a fresh random Session ID and
  waits for WELCOME (FR-HS-1). Frames of other sessions are discarded (FR-HS-5).
* :meth:`Client.start` sends a REQUEST and returns its Request ID; many calls may be in flight at
  once (up to the server's Max In-flight, FR-CALL-4) and answers are matched by Request ID, in
  whatever order they come (FR-CALL-3). :meth:`Client.result` waits for one answer; on its
  deadline the call is cancelled and forgotten (FR-CANCEL-1, FR-CALL-5).
* :meth:`Client.call` is start + result.
* :meth:`Client.close` says GOODBYE NO_ERROR and closes the FIFOs (FR-BYE-1).

Outstanding calls fail with :class:`ServerShutdown` after a server GOODBYE (not run, may be
retried: FR-BYE-3) and with :class:`ServerGone` when the server disappears (outcome unknown, never
re-sent: FR-BYE-4).
"""

import os
import secrets
import select

from . import fifo
from . import messages as M
from .fifo import Deadline, PeerGone
from .frame import ERROR, MIN_MAX_FRAME, RESPONSE
from .receiver import ErrorEvent, MessageEvent, Receiver


class ClientError(Exception):
    """Base of the client's errors."""


class RemoteError(ClientError):
    """The server answered ERROR (§6.5): ``code`` (§11.1), ``message``, ``details``."""

    def __init__(self, code, message, details=b""):
        self.code, self.message, self.details = code, message, details
        self.name = M.error_code_name(code)
        super().__init__("server answered %s (%d): %s" % (self.name, code, message))


class SessionRefused(ClientError):
    """The server answered HELLO with GOODBYE (FR-HS-2)."""

    def __init__(self, goodbye):
        self.goodbye = goodbye
        super().__init__("server refused the session: %s: %s"
                         % (M.goodbye_code_name(goodbye.code), goodbye.message))


class ServerShutdown(ClientError):
    """The server said GOODBYE; the call was not run and may be retried (FR-BYE-3)."""


class ServerGone(ClientError):
    """The server went away (EOF, EPIPE); the outcome of outstanding calls is unknown (FR-BYE-4)."""


class CallTimeout(ClientError):
    """No answer before the deadline; the call was cancelled (FR-CANCEL-1)."""


class ProtocolViolation(ClientError):
    """The server broke a session rule (§8.6), or answered with a malformed message."""


_PENDING = object()


class Client:
    """One client session. Not thread-safe: use it from one thread."""

    def __init__(self, fifos, session_id, max_frame, max_message, encoding):
        self.fifos = fifos
        self.session_id = session_id
        self.local_max_frame = max_frame
        self.max_message = max_message
        self.encoding = encoding
        self.receiver = Receiver(max_frame, max_message)
        self.welcome = None
        self.max_frame = MIN_MAX_FRAME  # until WELCOME (FR-FRAME-7)
        self.goodbye = None  # the server's GOODBYE, once received
        self.gone = None  # why the session is over, once it is
        self._out = []  # frames waiting for pipe.in
        self._calls = {}  # request id -> _PENDING or ("ok", body) / ("err", exc)
        self._next_id = 1
        self._pongs = set()
        self.framing_errors = 0

    # ---- connect ------------------------------------------------------------------------

    @classmethod
    def connect(cls, path, timeout=5.0, max_message=16 * 1024 * 1024, encoding="bincode1",
                max_frame=None, uid=None, on_wait=None):
        """Connects to the server in ``path`` within ``timeout`` seconds (§9.4, §8.1)."""
        deadline = Deadline(timeout)
        fifos = fifo.ClientFifos.connect(path, deadline, uid=uid, on_wait=on_wait)
        local = min(fifos.pipe_buf, 65535) if max_frame is None else max_frame
        sid = 0
        while sid == 0:
            sid = secrets.randbits(32)  # FR-HS-1: fresh, random, non-zero
        client = cls(fifos, sid, local, max_message, encoding)
        try:
            client._handshake(deadline)
        except BaseException:
            fifos.close()
            raise
        return client

    def _handshake(self, deadline):
        hello = M.Hello(1, 1, self.local_max_frame, self.max_message, os.getpid() & 0xFFFFFFFF,
                        self.encoding)
        self._queue(hello)
        while self.welcome is None:
            if self.goodbye is not None:
                raise SessionRefused(self.goodbye)
            if self.gone is not None:
                raise self.gone
            if deadline.expired():
                raise ServerGone("no WELCOME from the server within the connect timeout")
            self._pump(deadline)
        w = self.welcome
        if w.version != 1 or w.encoding != self.encoding or w.max_frame < MIN_MAX_FRAME:
            self._say_goodbye(M.BYE_PROTOCOL_ERROR, "unacceptable WELCOME")
            raise ProtocolViolation("server WELCOME: version %d, encoding %r, max frame %d"
                                    % (w.version, w.encoding, w.max_frame))
        self.max_frame = min(self.local_max_frame, w.max_frame)

    # ---- calls --------------------------------------------------------------------------

    def start(self, method, body=b"", timeout=None):
        """Sends a REQUEST and returns its Request ID. Waits for a free in-flight slot."""
        self._check_open()
        size = 1 + len(method.encode("utf-8")) + len(body)
        if size > self.welcome.max_message:  # FR-FRAG-4: fail locally
            raise ClientError("request of %d octets exceeds the server's max message %d"
                              % (size, self.welcome.max_message))
        deadline = Deadline(timeout)
        while self._outstanding() >= self.welcome.max_in_flight:  # FR-CALL-4
            if deadline.expired():
                raise CallTimeout("no free call slot within the timeout")
            self._pump(deadline)
            self._check_open()
        rid = self._allocate_id()
        self._calls[rid] = _PENDING
        self._queue(M.Request(rid, method, body))
        self._flush()
        return rid

    def result(self, request_id, timeout=None):
        """Waits for the answer to ``request_id``: the RESPONSE body, or raises
        :class:`RemoteError` for ERROR. On timeout the call is cancelled (FR-CANCEL-1)."""
        deadline = Deadline(timeout)
        while self._calls.get(request_id) is _PENDING:
            if self.gone is not None:
                break
            if deadline.expired():
                del self._calls[request_id]
                if self.gone is None:
                    self._queue(M.Cancel(request_id))
                    self._flush()
                raise CallTimeout("no answer to request %d within the timeout" % request_id)
            self._pump(deadline)
        outcome = self._calls.pop(request_id, None)
        if outcome is None:
            raise ClientError("request %d is not outstanding" % request_id)
        if outcome is _PENDING:
            raise self.gone
        kind, value = outcome
        if kind == "ok":
            return value
        raise value

    def call(self, method, body=b"", timeout=None):
        """One call: start + result."""
        return self.result(self.start(method, body, timeout), timeout)

    def cancel(self, request_id):
        """Sends CANCEL and forgets the call; a late answer is discarded (FR-CALL-5)."""
        if self._calls.pop(request_id, None) is _PENDING and self.gone is None:
            self._queue(M.Cancel(request_id))
            self._flush()

    def ping(self, timeout=None):
        """Sends PING and waits for the matching PONG (FR-PING-1)."""
        self._check_open()
        opaque = secrets.token_bytes(8)
        self._queue(M.Ping(opaque))
        deadline = Deadline(timeout)
        while opaque not in self._pongs:
            self._check_open()
            if deadline.expired():
                raise CallTimeout("no PONG within the timeout")
            self._pump(deadline)
        self._pongs.discard(opaque)

    def wait_goodbye(self, timeout=None):
        """Waits for the server's GOODBYE (after ``exit``, FR-EXIT-1) and returns it."""
        deadline = Deadline(timeout)
        while self.goodbye is None:
            if self.gone is not None and not isinstance(self.gone, ServerShutdown):
                raise self.gone
            if deadline.expired():
                raise CallTimeout("no GOODBYE within the timeout")
            self._pump(deadline)
        return self.goodbye

    def close(self):
        """Says GOODBYE NO_ERROR if the session is still up, then closes everything (FR-BYE-1)."""
        if self.fifos is None:
            return
        if self.gone is None and self.welcome is not None:
            self._say_goodbye(M.BYE_NO_ERROR, "")
        self.fifos.close()
        self.fifos = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- internals ----------------------------------------------------------------------

    def _check_open(self):
        if self.gone is not None:
            raise self.gone

    def _outstanding(self):
        return sum(1 for v in self._calls.values() if v is _PENDING)

    def _allocate_id(self):
        # FR-CALL-1: count up from 1, wrap, skip 0 and ids still outstanding.
        while True:
            rid = self._next_id
            self._next_id = rid % 0xFFFFFFFF + 1
            if rid not in self._calls:
                return rid

    def _queue(self, msg):
        self._out.extend(M.encode(msg, self.session_id, self.max_frame))

    def _flush(self):
        """Writes queued frames, one write each (FR-FRAME-9, FR-FRAME-10), until EAGAIN."""
        while self._out and self.gone is None:
            try:
                if not fifo.write_frame(self.fifos.in_fd, self._out[0]):
                    return
            except PeerGone:
                self._lost(ServerGone("the server is gone (EPIPE on pipe.in); the outcome of "
                                      "outstanding calls is unknown"))
                return
            self._out.pop(0)

    def _pump(self, deadline):
        """One wait: write what is queued when pipe.in has room, read pipe.out, dispatch.

        Reading goes on while writing waits (FR-FIFO-13). POLLERR on pipe.in means that it has
        no reader any more: the server is gone.
        """
        self._flush()
        if self.gone is not None:
            return
        fds = {self.fifos.out_fd: select.POLLIN,
               self.fifos.in_fd: select.POLLOUT if self._out else 0}
        ready = fifo.poll(fds, deadline)
        if ready.get(self.fifos.out_fd):
            self._read()
        if self.gone is None and ready.get(self.fifos.in_fd, 0) & select.POLLERR:
            self._lost(ServerGone("the server is gone (pipe.in has no reader); the outcome of "
                                  "outstanding calls is unknown"))
        self._flush()

    def _read(self):
        for _ in range(8):
            data = fifo.read_some(self.fifos.out_fd)
            if data is None:
                return
            if data == b"":
                self._eof()
                return
            self.receiver.push(data)
            self._dispatch()
            if self.gone is not None:
                return

    def _eof(self):
        self.receiver.finish()
        self._dispatch()
        if self.welcome is None and self.goodbye is None and self.gone is None:
            # §9.6: EOF on pipe.out before WELCOME: the server closed without answering (a
            # server keeps pipe.out open between sessions, §9.4, so this is no leftover).
            self._lost(ServerGone("the server closed pipe.out without answering HELLO"))
            return
        if self.gone is None:
            self._lost(ServerShutdown("the server ended the session") if self.goodbye else
                       ServerGone("the server is gone (EOF on pipe.out); the outcome of "
                                  "outstanding calls is unknown"))

    def _dispatch(self):
        while self.gone is None or self.welcome is None:
            ev = self.receiver.poll_event()
            if ev is None:
                return
            if isinstance(ev, MessageEvent):
                if ev.session == self.session_id:  # FR-HS-5
                    self._on_message(ev.message)
            elif isinstance(ev, ErrorEvent):
                self._on_error(ev.error)

    def _on_error(self, err):
        self.framing_errors += 1
        if (err.session == self.session_id and err.frame_type in (RESPONSE, ERROR)
                and self._calls.get(err.request) is _PENDING):
            self._calls[err.request] = ("err", ProtocolViolation(
                "answer to request %d rejected: %s" % (err.request, err)))

    def _on_message(self, msg):
        kind = type(msg)
        if self.welcome is None:
            if kind is M.Welcome:
                self.welcome = msg
            elif kind is M.Goodbye:
                self.goodbye = msg
            elif kind is M.Ping:
                pass  # not established yet (FR-PING-1 applies to established sessions)
            else:
                self._violation("%s before WELCOME" % kind.__name__.upper())
            return
        if kind is M.Response:
            if self._calls.get(msg.request) is _PENDING:
                self._calls[msg.request] = ("ok", msg.body)
            # else FR-CALL-5: an answer nobody waits for is discarded
        elif kind is M.Error:
            if self._calls.get(msg.request) is _PENDING:
                self._calls[msg.request] = ("err", RemoteError(msg.code, msg.message,
                                                               msg.details))
        elif kind is M.Ping:
            self._queue(M.Pong(msg.opaque))  # FR-PING-1
        elif kind is M.Pong:
            self._pongs.add(msg.opaque)
        elif kind is M.Goodbye:
            self.goodbye = msg
            self._lost(ServerShutdown("the server said GOODBYE %s (%s); the call was not run"
                                      % (M.goodbye_code_name(msg.code), msg.message)))
        elif kind is M.Notify:
            pass  # no notification handlers in this client
        else:
            self._violation("%s sent by the server" % kind.__name__.upper())

    def _violation(self, text):
        # FR-ERR-2: GOODBYE PROTOCOL_ERROR and end the session.
        self._say_goodbye(M.BYE_PROTOCOL_ERROR, text)
        self._lost(ProtocolViolation(text))

    def _say_goodbye(self, code, text):
        self._out = []
        self._queue(M.Goodbye(code, 0, text))
        try:
            self._flush()
        except PeerGone:
            pass

    def _lost(self, exc):
        """The session is over: fail every outstanding call (FR-BYE-3, FR-BYE-4)."""
        if self.gone is None:
            self.gone = exc
        self._out = []
        for rid, outcome in self._calls.items():
            if outcome is _PENDING:
                self._calls[rid] = ("err", exc)


__all__ = ["Client", "ClientError", "RemoteError", "SessionRefused", "ServerShutdown",
           "ServerGone", "CallTimeout", "ProtocolViolation"]
