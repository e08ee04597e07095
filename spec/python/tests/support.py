"""Helpers for the FIFO tests: processes with deadlines, a raw frame-level client, a scripted
server. Every wait here has a deadline; nothing sleeps to synchronise."""

import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import unittest

from fiforpc import fifo
from fiforpc import messages as M
from fiforpc.fifo import Deadline
from fiforpc.receiver import MessageEvent, Receiver

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.path.join(HERE, "echo_server.py")
CLIENT = os.path.join(HERE, "echo_client.py")
WAIT = 20.0  # seconds: the outer bound of every wait in these tests


class LineReader:
    """Reads lines from a child's pipe with a deadline (poll + os.read, no blocking readline)."""

    def __init__(self, stream):
        self.fd = stream.fileno()
        os.set_blocking(self.fd, False)
        self.buf = b""
        self.eof = False

    def _fill(self, deadline):
        ready = fifo.poll({self.fd: select.POLLIN}, deadline)
        if not ready:
            return False
        data = fifo.read_some(self.fd)
        if data == b"":
            self.eof = True
        elif data:
            self.buf += data
        return True

    def line(self, timeout=WAIT):
        deadline = Deadline(timeout)
        while b"\n" not in self.buf:
            if self.eof:
                raise AssertionError("stream ended before a line; got %r" % self.buf)
            if deadline.expired() or not self._fill(deadline):
                raise AssertionError("no line within %.1f s; got %r" % (timeout, self.buf))
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def rest(self, timeout=WAIT):
        deadline = Deadline(timeout)
        while not self.eof:
            if deadline.expired() or not self._fill(deadline):
                raise AssertionError("stream still open after %.1f s" % timeout)
        out, self.buf = self.buf, b""
        return out.decode()


class FifoTestCase(unittest.TestCase):
    """Gives each test a private temporary directory and reaps the processes it started."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.base = self._tmp.name
        self.dir = os.path.join(self.base, "svc")
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=WAIT)
            for s in (p.stdout, p.stderr):
                if s is not None:
                    s.close()
        self._tmp.cleanup()

    def spawn(self, args, env=None):
        full_env = dict(os.environ)
        full_env.update(env or {})
        p = subprocess.Popen([sys.executable] + args, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=full_env)
        self.procs.append(p)
        p.out = LineReader(p.stdout)
        p.err = LineReader(p.stderr)
        return p

    def start_server(self, directory=None, env=None):
        """Starts echo_server.py and waits for its one ``listening on DIR`` line."""
        directory = directory or self.dir
        p = self.spawn([SERVER, "--dir", directory], env)
        self.assertEqual(p.out.line(), "listening on %s" % directory)
        return p

    def finish(self, p, timeout=WAIT):
        """Waits for a process to exit; returns (code, stdout, stderr)."""
        out = p.out.rest(timeout)
        err = p.err.rest(timeout)
        return p.wait(timeout=timeout), out, err

    def run_client(self, *msgs, timeout_ms=5000, directory=None, env=None):
        p = self.spawn([CLIENT, "--dir", directory or self.dir, "--timeout-ms", str(timeout_ms)]
                       + list(msgs), env)
        return self.finish(p)

    def assert_no_files(self, directory=None):
        """FR-FIFO-19: after shutdown D is empty (and still there)."""
        self.assertEqual(sorted(os.listdir(directory or self.dir)), [])

    def stop_server(self, p, sig=signal.SIGTERM):
        p.send_signal(sig)
        code, out, err = self.finish(p)
        self.assertEqual(code, 0, err)
        return out, err


class RawClient:
    """A client that speaks frames directly (for CANCEL, stray bytes, refusals)."""

    def __init__(self, directory, session=0x1234ABCD, timeout=WAIT):
        self.fifos = fifo.ClientFifos.connect(directory, Deadline(timeout))
        self.session = session
        self.receiver = Receiver(4096, 1 << 26)
        self.max_frame = 512

    def send_raw(self, data):
        deadline = Deadline(WAIT)
        while not fifo.write_frame(self.fifos.in_fd, data):
            fifo.poll({self.fifos.in_fd: select.POLLOUT}, deadline)
            if deadline.expired():
                raise AssertionError("pipe.in stayed full")

    def send(self, *msgs):
        """Encodes messages and sends them in ONE write (at most PIPE_BUF octets)."""
        data = b"".join(b"".join(M.encode(m, self.session, self.max_frame)) for m in msgs)
        assert len(data) <= 4096
        self.send_raw(data)

    def hello(self, **kw):
        self.send(M.Hello(client_pid=os.getpid(), **kw))
        msg = self.next_message()
        if isinstance(msg, M.Welcome):
            self.max_frame = min(4096, msg.max_frame)
        return msg

    def next_message(self, timeout=WAIT):
        """The next message of this session (other sessions' frames are skipped: FR-HS-5), or
        None on EOF (the server closed pipe.out)."""
        deadline = Deadline(timeout)
        while True:
            ev = self.receiver.poll_event()
            if isinstance(ev, MessageEvent) and ev.session == self.session:
                return ev.message
            if ev is not None:
                continue
            ready = fifo.poll({self.fifos.out_fd: select.POLLIN}, deadline)
            if not ready:
                raise AssertionError("no message within %.1f s" % timeout)
            data = fifo.read_some(self.fifos.out_fd)
            if data == b"":
                return None  # EOF: the server closed pipe.out
            if data:
                self.receiver.push(data)

    def close(self):
        self.fifos.close()


class ScriptedServer(threading.Thread):
    """Plays the server from a script, to test the client against behaviours the echo server
    never shows (answers out of order, vanishing mid-call)."""

    def __init__(self, directory, script):
        super().__init__(daemon=True)
        self.fifos = fifo.ServerFifos(directory)
        self.script = script
        self.receiver = Receiver(4096, 1 << 26)
        self.writer = None
        self.error = None

    def run(self):
        try:
            self.script(self)
        except BaseException as e:  # reported by join_checked
            self.error = e
        finally:
            if self.writer is not None:
                os.close(self.writer)
            self.fifos.remove_files()

    def join_checked(self, test):
        self.join(WAIT)
        test.assertFalse(self.is_alive(), "scripted server still running")
        if self.error is not None:
            raise self.error

    def next_message(self, timeout=WAIT):
        deadline = Deadline(timeout)
        while True:
            ev = self.receiver.poll_event()
            if isinstance(ev, MessageEvent):
                return ev.session, ev.message
            if ev is not None:
                continue
            if not fifo.poll({self.fifos.in_fd: select.POLLIN}, deadline):
                raise AssertionError("scripted server: no message within %.1f s" % timeout)
            data = fifo.read_some(self.fifos.in_fd)
            if data == b"":
                self.fifos.reopen_reader()
            elif data:
                self.receiver.push(data)

    def send(self, session, *msgs):
        if self.writer is None:
            self.writer = self.fifos.open_writer()
        for m in msgs:
            for f in M.encode(m, session, 4096):
                deadline = Deadline(WAIT)
                while not fifo.write_frame(self.writer, f):
                    fifo.poll({self.writer: select.POLLOUT}, deadline)
                    if deadline.expired():
                        raise AssertionError("pipe.out stayed full")

    def accept(self):
        """Reads HELLO, answers WELCOME; returns the session id."""
        session, hello = self.next_message()
        assert isinstance(hello, M.Hello), hello
        self.send(session, M.Welcome(1, 4096, 1 << 24, 64, os.getpid(), 1, "bincode1"))
        return session
