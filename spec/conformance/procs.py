"""Processes under test and file-system observation, every wait bounded.

* :class:`Proc` runs an implementation's echo program. Its stdout and stderr are drained by two
  threads from the start (a program that logs a lot must never block on a full pipe), lines are
  waited for with a deadline, and a process that overruns its deadline is killed.
* :class:`Watch` is a minimal ``inotify(7)`` wrapper (through ``ctypes``, Linux only). The
  harness uses it to see, without sleeping, that a peer is demonstrably waiting: a client
  connecting (spec §9.4) opens ``D``, ``client.lock`` and ``pipe.out`` before it tries
  ``pipe.in``, and each open shows up as an ``IN_OPEN`` event.
"""

import ctypes
import fcntl
import os
import select
import signal
import struct
import subprocess
import termios
import threading

from fiforpc.fifo import Deadline


class Fail(Exception):
    """A scenario failed: the message says what was expected and what was observed."""


class PeerClosed(Fail):
    """The implementation closed the FIFO the harness was writing (EPIPE). A failure unless the
    scenario provoked it."""


class Proc:
    """One implementation process (the program under test)."""

    def __init__(self, argv, env=None, name="implementation"):
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.argv = list(argv)
        self.name = name
        # start_new_session: the harness can clean up the process and anything it started, by
        # the process group id of this very process, without touching anything else.
        self.popen = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, env=full_env,
                                      start_new_session=True)
        self.pid = self.popen.pid
        self._cond = threading.Condition()
        self._out = bytearray()
        self._err = bytearray()
        self._eof = {"out": False, "err": False}
        self._line_pos = 0
        self._threads = [threading.Thread(target=self._drain, args=(self.popen.stdout, "out"),
                                          daemon=True),
                         threading.Thread(target=self._drain, args=(self.popen.stderr, "err"),
                                          daemon=True)]
        for t in self._threads:
            t.start()

    def _drain(self, stream, which):
        buf = self._out if which == "out" else self._err
        fd = stream.fileno()
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            with self._cond:
                if not data:
                    self._eof[which] = True
                    self._cond.notify_all()
                    return
                buf += data
                self._cond.notify_all()

    # ---- output ---------------------------------------------------------------------------

    @property
    def stdout(self):
        with self._cond:
            return self._out.decode("utf-8", "replace")

    @property
    def stderr(self):
        with self._cond:
            return self._err.decode("utf-8", "replace")

    def stderr_tail(self, n=3):
        lines = [ln for ln in self.stderr.splitlines() if ln.strip()]
        return " | ".join(lines[-n:]) if lines else "(stderr empty)"

    def line(self, deadline, what="a line on stdout"):
        """The next whole line on stdout (without its newline). Fails on timeout or EOF."""
        with self._cond:
            while True:
                end = self._out.find(b"\n", self._line_pos)
                if end >= 0:
                    text = self._out[self._line_pos:end].decode("utf-8", "replace")
                    self._line_pos = end + 1
                    return text
                if self._eof["out"]:
                    raise Fail("%s: stdout ended before %s (exit %s; stderr: %s)"
                               % (self.name, what, self.popen.poll(), self._err_tail_locked()))
                left = deadline.remaining()
                if left is not None and left <= 0:
                    raise Fail("%s: no %s within the deadline (stdout so far %r)"
                               % (self.name, what, bytes(self._out[self._line_pos:])[:200]))
                self._cond.wait(left)

    def _err_tail_locked(self):
        lines = [ln for ln in self._err.decode("utf-8", "replace").splitlines() if ln.strip()]
        return " | ".join(lines[-3:]) if lines else "(stderr empty)"

    def wait_streams(self, deadline):
        """Waits until both output streams reached EOF (the process and its children closed
        them). Returns False on timeout."""
        with self._cond:
            while not (self._eof["out"] and self._eof["err"]):
                left = deadline.remaining()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    # ---- life -----------------------------------------------------------------------------

    def poll(self):
        return self.popen.poll()

    def send_signal(self, sig):
        if self.popen.poll() is None:
            self.popen.send_signal(sig)

    def wait(self, deadline, what="exit"):
        """Waits for the process to exit and returns its status (negative: killed by that
        signal). A process still running at the deadline is killed and the scenario fails."""
        left = deadline.remaining()
        try:
            code = self.popen.wait(timeout=left)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Fail("%s did not %s within the deadline; killed it (stderr: %s)"
                       % (self.name, what, self.stderr_tail())) from None
        self.wait_streams(Deadline(min(2.0, deadline.remaining() or 2.0)))
        return code

    def exit_status_text(self, code):
        if code is not None and code < 0:
            try:
                return "killed by signal %s" % signal.Signals(-code).name
            except ValueError:
                return "killed by signal %d" % -code
        return "exit %s" % code

    def kill(self):
        """Kills the process group this process leads (only ever processes we started)."""
        if self.popen.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        else:
            # The leader is gone; a child it left in its group may still hold our pipes.
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def close(self):
        self.kill()
        for t in self._threads:
            t.join(2)
        for s in (self.popen.stdout, self.popen.stderr):
            try:
                s.close()
            except OSError:
                pass


# ---- inotify ----------------------------------------------------------------------------------

IN_OPEN = 0x00000020
IN_ISDIR = 0x40000000
_EVENT = struct.Struct("iIII")


class Watch:
    """``inotify`` on one directory: :meth:`wait_open` returns once a watched name is opened.

    Events on the directory itself (someone opened D) are reported with the name ``"."``.
    ``Watch.available()`` is False where inotify cannot be used; callers then proceed without
    the demonstration and say so in the scenario's detail.
    """

    _libc = None

    @classmethod
    def _lib(cls):
        if cls._libc is None:
            cls._libc = ctypes.CDLL(None, use_errno=True)
        return cls._libc

    @classmethod
    def available(cls):
        try:
            lib = cls._lib()
            return hasattr(lib, "inotify_init1")
        except OSError:
            return False

    def __init__(self, path):
        lib = self._lib()
        self.fd = lib.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        if lib.inotify_add_watch(self.fd, os.fsencode(path), IN_OPEN) < 0:
            err = ctypes.get_errno()
            os.close(self.fd)
            raise OSError(err, "inotify_add_watch %s" % path)
        self.seen = []

    def _read(self):
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return
        pos = 0
        while pos + _EVENT.size <= len(data):
            _wd, mask, _cookie, length = _EVENT.unpack_from(data, pos)
            name = data[pos + _EVENT.size:pos + _EVENT.size + length].rstrip(b"\0").decode()
            self.seen.append(name or ".")
            pos += _EVENT.size + length

    def wait_open(self, names, deadline):
        """Waits until one of ``names`` (``"."`` for the directory itself) was opened; returns
        that name, or None at the deadline."""
        names = set(names)
        while True:
            for n in self.seen:
                if n in names:
                    return n
            p = select.poll()
            p.register(self.fd, select.POLLIN)
            ms = deadline.poll_ms()
            if ms == 0 or not p.poll(ms):
                self._read()
                hit = [n for n in self.seen if n in names]
                return hit[0] if hit else None
            self._read()

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)  # Linux; Python 3.10+ names it


def pipe_size(fd):
    """The capacity of the pipe behind ``fd`` (Linux ``F_GETPIPE_SZ``)."""
    return fcntl.fcntl(fd, F_GETPIPE_SZ)


def fionread(fd):
    """Octets waiting unread in the pipe behind ``fd`` (``FIONREAD``)."""
    buf = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
    return struct.unpack("i", buf)[0]


def wait_until(cond, deadline, what, interval=0.01):
    """Waits for ``cond()`` to hold, re-checking every ``interval`` seconds, until ``deadline``.

    Only for states the kernel signals no event for (how full a pipe is); everything else is
    waited for with poll, inotify or the process's own output."""
    while not cond():
        if deadline.expired():
            raise Fail("%s did not happen within the deadline" % what)
        select.poll().poll(int(interval * 1000))
