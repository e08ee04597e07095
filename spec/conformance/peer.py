"""The harness's own side of a session, over real FIFOs, written from spec §8 and §9.

* :class:`ClientPeer` plays the client against a server under test (§9.4 connect, HELLO,
  calls), and can also misbehave on purpose: write raw octets, stop reading, die mid-message.
* :class:`ServerPeer` plays the server against a client under test: it creates the files of
  §9.2 itself, one step at a time, so that a scenario can hold the server back at any step (for
  example: files created, ``pipe.in`` not yet opened, so that the client must wait on ENXIO).

Both record every frame the implementation sends and check the sender's rules as they go
(:class:`Inbox`): reserved flag bits (FR-FRAME-13), frames within the agreed MaxFrame, 512 octets
before the handshake (FR-FRAME-3, FR-FRAME-7), and no framing error at all: whatever the harness
does, a conforming implementation never sends a bad frame.

Writes follow FR-FIFO-13: while a write waits for room, the writer keeps reading its input FIFO,
unless a scenario stops reading on purpose.
"""

import errno
import os
import secrets
import select
import stat
from collections import deque

from fiforpc import bincode1 as B
from fiforpc import fifo
from fiforpc import frame as F
from fiforpc import messages as M
from fiforpc.receiver import ErrorEvent, IgnoredEvent, MessageEvent, Receiver

from procs import Fail, PeerClosed

MAX_MESSAGE = 64 * 1024 * 1024  # what the harness accepts in either role

_O_READ = os.O_RDONLY | os.O_NONBLOCK
_O_WRITE = os.O_WRONLY | os.O_NONBLOCK


class _RecordingReceiver(Receiver):
    """The reference receiver, also keeping the header of every frame that passed §5."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.on_frame = None

    def _on_frame(self, frame):
        if self.on_frame is not None:
            self.on_frame(frame)
        return super()._on_frame(frame)


def frame_len(frame):
    ext = sum(2 + len(v) for _, v in frame.extensions)
    return F.HEADER_LEN + ext + len(frame.payload) + 4


class Inbox:
    """Everything read from the implementation's output FIFO, decoded and checked.

    ``limit()`` returns the largest frame the implementation may send right now (512 before the
    handshake, the agreed MaxFrame after it). ``own`` is the session whose frames matter; frames
    of other sessions are kept in ``foreign``.
    """

    def __init__(self, local_max_frame, who):
        self.who = who
        self.rx = _RecordingReceiver(local_max_frame, MAX_MESSAGE)
        self.rx.on_frame = self._frame
        self.limit = lambda: F.MIN_MAX_FRAME
        self.own = None
        self.messages = deque()  # (session, message) of the own session, not yet consumed
        self.history = []  # every (session, message) ever received, in order
        self.foreign = []
        self.frames = []  # (session, type, request, flags, length) of every frame
        self.violations = []  # sender's rules broken by the implementation
        self.errors = []  # framing errors in what the implementation sent
        self.ignored = 0
        self.eof = False

    def _frame(self, fr):
        n = frame_len(fr)
        self.frames.append((fr.session, fr.frame_type, fr.request, fr.flags, n))
        if fr.flags & ~F.MORE:
            self.violations.append("%s set reserved flag bits 0x%02x on a %s frame (FR-FRAME-13)"
                                   % (self.who, fr.flags, F.type_name(fr.frame_type)))
        if self.own is None or fr.session == self.own:
            lim = self.limit()
            if n > lim:
                self.violations.append("%s sent a %d-octet %s frame, over the limit of %d "
                                       "(FR-FRAME-3, FR-FRAME-7)"
                                       % (self.who, n, F.type_name(fr.frame_type), lim))

    def push(self, data):
        self.rx.push(data)
        self._drain()

    def read_from(self, fd):
        """Reads the non-blocking ``fd`` until it is empty; end of stream ends the input."""
        while True:
            data = fifo.read_some(fd)
            if data is None:
                return
            if data == b"":
                self.end()
                return
            self.push(data)

    def end(self):
        self.rx.finish()
        self._drain()
        self.eof = True

    def _drain(self):
        while True:
            ev = self.rx.poll_event()
            if ev is None:
                return
            if isinstance(ev, MessageEvent):
                self.history.append((ev.session, ev.message))
                if self.own is None or ev.session == self.own:
                    self.messages.append((ev.session, ev.message))
                else:
                    self.foreign.append((ev.session, ev.message))
            elif isinstance(ev, ErrorEvent):
                self.errors.append(ev.error)
            elif isinstance(ev, IgnoredEvent):
                self.ignored += 1

    def foreign_note(self):
        """For a failure detail: what arrived instead, when it was of another session."""
        if not self.foreign:
            return ""
        sid, msg = self.foreign[-1]
        return " (%d messages of other sessions arrived, the last %s of session %08x)" % (
            len(self.foreign), describe(msg), sid)

    def problems(self):
        """The sender's rules the implementation broke, as text (empty when none)."""
        out = list(self.violations)
        out += ["%s sent bytes that fail the receiver: %s" % (self.who, e) for e in self.errors]
        return out


def write_all(fd, data, deadline, keep_reading=None, atomic=True):
    """Writes ``data`` to a non-blocking FIFO before ``deadline``.

    ``atomic``: ``data`` is whole frames of at most PIPE_BUF octets, written with one write(2)
    (FR-FRAME-9); on EAGAIN the same octets are written again once there is room (FR-FIFO-13).
    Otherwise (stray bytes, which are not frames) a short write is continued.
    ``keep_reading`` is ``(fd, read)``: while the write waits for room, ``read()`` runs whenever
    ``fd`` is readable, so that two full pipes cannot deadlock (FR-FIFO-13). None (a scenario
    that stops reading on purpose) waits for room only.
    Raises :class:`procs.PeerClosed` on EPIPE.
    """
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            n = 0
        except BrokenPipeError:
            raise PeerClosed("the implementation closed the FIFO the harness was writing "
                             "(EPIPE)") from None
        if n and atomic and n != len(view):
            raise Fail("short write of %d of %d octets on a FIFO (FR-FRAME-11)" % (n, len(view)))
        view = view[n:]
        if not view:
            return
        if deadline.expired():
            raise Fail("the FIFO stayed full until the deadline (the peer stopped reading)")
        fds = {fd: select.POLLOUT}
        if keep_reading is not None:
            fds[keep_reading[0]] = select.POLLIN
        ready = fifo.poll(fds, deadline, cap=0.5)
        if keep_reading is not None and ready.get(keep_reading[0]):
            keep_reading[1]()


def batch(frames, pipe_buf):
    """Groups whole frames into writes of at most PIPE_BUF octets (FR-FRAME-9, FR-FRAME-10)."""
    out, cur = [], b""
    for f in frames:
        if cur and len(cur) + len(f) > pipe_buf:
            out.append(cur)
            cur = b""
        cur += f
    if cur:
        out.append(cur)
    return out


# ---- the harness as client --------------------------------------------------------------------


class ClientPeer:
    """The harness as a client of the server under test (spec §9.4, §8)."""

    def __init__(self, fifos, session):
        self.fifos = fifos
        self.session = session
        self.pipe_buf = fifos.pipe_buf
        self.local_max_frame = min(self.pipe_buf, F.MAX_MAX_FRAME)
        self.inbox = Inbox(self.local_max_frame, "the server")
        self.inbox.own = session
        self.inbox.limit = self._limit
        self.welcome = None
        self.max_frame = F.MIN_MAX_FRAME  # until WELCOME (FR-FRAME-7)
        self.next_id = 1
        self.reading = True  # False: the harness stops reading pipe.out on purpose
        self.others = []  # messages read while waiting for answers: PONG, GOODBYE, ...

    def _limit(self):
        return self.max_frame if self.welcome is not None else F.MIN_MAX_FRAME

    @classmethod
    def connect(cls, path, deadline, session=None, on_wait=None):
        """§9.4 steps 1-4, retrying while there is no server or it is busy (FR-FIFO-8,
        FR-FIFO-10). ``on_wait(reason)`` runs after each failed attempt."""
        try:
            fifos = fifo.ClientFifos.connect(path, deadline, on_wait=on_wait)
        except fifo.NoServer as e:
            raise Fail("harness client could not connect: %s" % e) from None
        except fifo.CheckFailed as e:
            raise Fail("harness client refused the server's files: %s" % e) from None
        while session is None or session == 0:
            session = secrets.randbits(32)
        return cls(fifos, session)

    # ---- output ---------------------------------------------------------------------------

    def write(self, data, deadline, atomic=True):
        """One write of whole frames (or stray bytes with ``atomic=False``)."""
        keep = None
        if self.reading and not self.inbox.eof:
            keep = (self.fifos.out_fd, self._read_available)
        write_all(self.fifos.in_fd, data, deadline, keep, atomic)

    def frames_of(self, msg, session=None, max_frame=None):
        return M.encode(msg, self.session if session is None else session,
                        max_frame or self.max_frame)

    def send(self, *msgs, deadline, session=None):
        """Encodes messages (fragmenting at the agreed MaxFrame) and writes their frames, whole
        frames per write, at most PIPE_BUF octets per write (FR-FRAME-10)."""
        frames = []
        for m in msgs:
            frames += self.frames_of(m, session)
        for w in batch(frames, self.pipe_buf):
            self.write(w, deadline)

    def request(self, method, body, deadline, rid=None):
        """Sends one REQUEST; returns its Request ID."""
        if rid is None:
            rid = self.next_id
            self.next_id += 1
        self.send(M.Request(rid, method, body), deadline=deadline)
        return rid

    # ---- input ----------------------------------------------------------------------------

    def _read_available(self):
        self.inbox.read_from(self.fifos.out_fd)

    def pump(self, deadline):
        """Waits for input once (until the deadline) and reads what is there. False on
        timeout or when pipe.out has already ended."""
        if self.inbox.eof:
            return False
        ready = fifo.poll({self.fifos.out_fd: select.POLLIN}, deadline)
        if not ready:
            return False
        self._read_available()
        return True

    def next(self, deadline, what="a message from the server"):
        """The next message of this session, or None once pipe.out ended (EOF)."""
        while not self.inbox.messages:
            if self.inbox.eof:
                return None
            if not self.pump(deadline) and not self.inbox.messages:
                if self.inbox.eof:
                    return None
                raise Fail("no %s within the deadline%s" % (what, self.inbox.foreign_note()))
        return self.inbox.messages.popleft()[1]

    def hello(self, deadline, **fields):
        """Sends HELLO (FR-HS-1) and returns the answer: WELCOME or GOODBYE, or None on EOF."""
        h = M.Hello(client_pid=os.getpid(), max_frame=self.local_max_frame,
                    max_message=MAX_MESSAGE)
        for k, v in fields.items():
            setattr(h, k, v)
        self.send(h, deadline=deadline)
        msg = self.next(deadline, "answer to HELLO")
        if isinstance(msg, M.Welcome):
            self.welcome = msg
            self.max_frame = min(self.local_max_frame, msg.max_frame)
        return msg

    def handshake(self, deadline):
        msg = self.hello(deadline)
        if not isinstance(msg, M.Welcome):
            raise Fail("server answered HELLO with %s, expected WELCOME" % describe(msg))
        return msg

    def wait_answers(self, ids, deadline, what="answers"):
        """Collects RESPONSE/ERROR messages until every id in ``ids`` is answered; returns
        ``{id: [answers]}`` for those ids. Every other message read meanwhile (PONG, GOODBYE,
        an answer to another id) is appended to ``self.others``."""
        want = set(ids)
        got = {}
        while not want <= set(got):
            msg = self.next(deadline, "%s (%d of %d still missing)"
                            % (what, len(want - set(got)), len(want)))
            if msg is None:
                raise Fail("pipe.out ended with %d of %d %s missing"
                           % (len(want - set(got)), len(want), what))
            if isinstance(msg, (M.Response, M.Error)) and msg.request in want:
                got.setdefault(msg.request, []).append(msg)
            else:
                self.others.append(msg)
        return got

    def call(self, method, body, deadline):
        """One call: returns the RESPONSE or ERROR message that answers it. Answers to other
        Request IDs read meanwhile are kept in ``self.others`` for the scenario to judge."""
        rid = self.request(method, body, deadline)
        got = self.wait_answers([rid], deadline, "answer to %s" % method)
        if len(got[rid]) != 1:
            raise Fail("request %d answered %d times" % (rid, len(got[rid])))
        return got[rid][0]

    def echo(self, text, deadline):
        """An ``echo`` call that must succeed with the same string."""
        ans = self.call("echo", B.encode(B.STRING, text), deadline)
        if not isinstance(ans, M.Response) or ans.body != B.encode(B.STRING, text):
            raise Fail("echo(%r) answered %s" % (short(text), describe(ans)))

    def drain_to_eof(self, deadline, what="the end of pipe.out"):
        """Reads every remaining message of this session until EOF; returns them."""
        out = []
        while True:
            msg = self.next(deadline, what)
            if msg is None:
                return out
            out.append(msg)

    def close(self):
        if self.fifos is not None:
            self.fifos.close()
            self.fifos = None


# ---- the harness as server --------------------------------------------------------------------


class ServerPeer:
    """The harness as the server of a client under test, following §9.2 step by step.

    ``create()`` is steps 1-3 (D, lock, fresh files with ``client.lock`` last); ``open_reader()``
    is step 4, after which clients can connect. A scenario may run them apart.
    """

    def __init__(self, path):
        self.path = path
        self.dir = None
        self.lock_fd = None
        self.in_fd = None
        self.out_fd = None
        self.session = None
        self.inbox = None
        self.max_frame = F.MIN_MAX_FRAME
        self.hello_msg = None

    # ---- files (§9.2) ---------------------------------------------------------------------

    def create(self):
        self.dir = fifo.ServiceDir.open(self.path, create=True)  # step 1 (FR-FIFO-1)
        try:
            self.lock_fd = self.dir.open_file(fifo.LOCK, os.O_RDWR | os.O_CREAT | os.O_EXCL,
                                              "regular file", fchmod=True)
        except FileExistsError:
            self.lock_fd = self.dir.open_file(fifo.LOCK, os.O_RDWR, "regular file")
        if not fifo.flock_nb(self.lock_fd):  # step 2 (FR-FIFO-5)
            raise Fail("harness server: %s is locked by another server" % self.path)
        for name in (fifo.PIPE_IN, fifo.PIPE_OUT, fifo.CLIENT_LOCK):  # step 3 (FR-FIFO-6)
            try:
                os.unlink(name, dir_fd=self.dir.fd)
            except FileNotFoundError:
                pass
        for name in (fifo.PIPE_IN, fifo.PIPE_OUT):
            os.mkfifo(name, 0o600, dir_fd=self.dir.fd)
            os.close(self.dir.open_file(name, _O_READ, "FIFO", fchmod=True))
        os.close(self.dir.open_file(fifo.CLIENT_LOCK, os.O_RDWR | os.O_CREAT | os.O_EXCL,
                                    "regular file", fchmod=True))  # last

    def open_reader(self):
        """Step 4: the read end of pipe.in. From now on a client can connect."""
        self.in_fd = self.dir.open_file(fifo.PIPE_IN, _O_READ, "FIFO")
        self.pipe_buf = fifo.pipe_buf(self.in_fd)
        self.local_max_frame = min(self.pipe_buf, F.MAX_MAX_FRAME)
        self.inbox = Inbox(self.local_max_frame, "the client")
        self.inbox.limit = self._limit
        self.welcomed = False

    def start(self):
        self.create()
        self.open_reader()
        return self

    def _limit(self):
        return self.max_frame if self.welcomed else F.MIN_MAX_FRAME

    def close_reader(self):
        if self.in_fd is not None:
            os.close(self.in_fd)
            self.in_fd = None

    def close_writer(self):
        if self.out_fd is not None:
            os.close(self.out_fd)
            self.out_fd = None

    def remove_files(self):
        """FR-FIFO-19: pipe.in, pipe.out, client.lock, then lock, holding the lock."""
        if self.dir is None or self.dir.fd is None:
            return
        for name in (fifo.PIPE_IN, fifo.PIPE_OUT, fifo.CLIENT_LOCK, fifo.LOCK):
            try:
                os.unlink(name, dir_fd=self.dir.fd)
            except FileNotFoundError:
                pass

    def close(self, remove=True):
        self.close_writer()
        if remove:
            self.remove_files()
        self.close_reader()
        if self.lock_fd is not None:
            os.close(self.lock_fd)
            self.lock_fd = None
        if self.dir is not None:
            self.dir.close()

    # ---- input ----------------------------------------------------------------------------

    def _read_available(self):
        """Reads pipe.in until it is empty. EOF with a client gone ends the input."""
        self.inbox.read_from(self.in_fd)

    def pump(self, deadline):
        if self.inbox.eof:
            return False
        ready = fifo.poll({self.in_fd: select.POLLIN}, deadline)
        if not ready:
            return False
        self._read_available()
        return True

    def next(self, deadline, what="a message from the client"):
        """The next message (of the session once there is one), or None at EOF on pipe.in
        (FR-FIFO-14: a client that had opened pipe.in closed it)."""
        while not self.inbox.messages:
            if self.inbox.eof:
                return None
            if not self.pump(deadline) and not self.inbox.messages:
                if self.inbox.eof:
                    return None
                raise Fail("no %s within the deadline%s" % (what, self.inbox.foreign_note()))
        self.last_session, msg = self.inbox.messages.popleft()
        return msg

    def accept(self, deadline):
        """Waits for HELLO (FR-HS-1: the first frame) and opens pipe.out for writing."""
        msg = self.next(deadline, "HELLO")
        if msg is None:
            raise Fail("the client closed pipe.in without sending HELLO")
        if not isinstance(msg, M.Hello):
            raise Fail("the client's first message is %s, expected HELLO (FR-HS-1)"
                       % describe(msg))
        self.session = self.inbox.own = self.last_session
        self.hello_msg = msg
        if self.out_fd is None:
            self.open_writer()
        return msg

    def open_writer(self):
        try:
            self.out_fd = self.dir.open_file(fifo.PIPE_OUT, _O_WRITE, "FIFO")
        except OSError as e:
            if e.errno == errno.ENXIO:
                raise Fail("the client closed pipe.out before WELCOME (ENXIO)") from None
            raise

    def welcome(self, deadline, max_frame=None, max_message=16 * 1024 * 1024,
                max_in_flight=64, encoding=None):
        """Answers the HELLO with WELCOME; the agreed MaxFrame is the smaller advertised one."""
        mf = self.local_max_frame if max_frame is None else max_frame
        w = M.Welcome(1, mf, max_message, max_in_flight, os.getpid(), secrets.randbits(64),
                      encoding or self.hello_msg.encoding)
        self.send(w, deadline=deadline)
        self.max_frame = min(mf, self.hello_msg.max_frame)
        self.welcomed = True
        return w

    # ---- output ---------------------------------------------------------------------------

    def write(self, data, deadline, atomic=True):
        keep = None
        if self.in_fd is not None and not self.inbox.eof:
            keep = (self.in_fd, self._read_available)
        write_all(self.out_fd, data, deadline, keep, atomic)

    def frames_of(self, msg, session=None, max_frame=None):
        return M.encode(msg, self.session if session is None else session,
                        max_frame or self.max_frame)

    def send(self, *msgs, deadline, session=None):
        """Encodes and writes messages, one frame per write."""
        for m in msgs:
            for f in self.frames_of(m, session):
                self.write(f, deadline)

    def exit_sequence(self, request, deadline):
        """FR-EXIT-1 / FR-BYE-2: empty RESPONSE, GOODBYE SHUTTING_DOWN naming the last request
        started, close pipe.out, remove the files (FR-FIFO-19)."""
        self.send(M.Response(request, b""),
                  M.Goodbye(M.BYE_SHUTTING_DOWN, request, "server exiting"), deadline=deadline)
        self.close_writer()
        self.remove_files()


# ---- text -------------------------------------------------------------------------------------


def short(text, n=40):
    text = str(text)
    return text if len(text) <= n else "%s...(%d chars)" % (text[:n], len(text))


def describe(msg):
    """A message in a few words, for failure details."""
    if msg is None:
        return "EOF"
    if isinstance(msg, M.Error):
        return "ERROR %s(%d) %r for request %d" % (M.error_code_name(msg.code), msg.code,
                                                   short(msg.message), msg.request)
    if isinstance(msg, M.Goodbye):
        return "GOODBYE %s(%d) last=%d %r" % (M.goodbye_code_name(msg.code), msg.code,
                                              msg.last_request_id, short(msg.message))
    if isinstance(msg, M.Response):
        return "RESPONSE for request %d (%d octets)" % (msg.request, len(msg.body))
    return type(msg).__name__.upper()


__all__ = ["ClientPeer", "ServerPeer", "Inbox", "describe", "short", "write_all"]
