"""The FIFO transport binding (spec §9): files, safe opens, waits, EOF, POLLHUP, ENXIO and EPIPE.

A service lives in a directory D::

    D/            0700  created by the server if missing, never removed      (FR-FIFO-1)
    D/lock        0600  the server's flock: one live server per D            (FR-FIFO-5)
    D/pipe.in     0600  FIFO, client -> server; the server is its reader
    D/pipe.out    0600  FIFO, server -> client; the client is its reader
    D/client.lock 0600  the client's flock: one session at a time           (FR-FIFO-10)

Every open is relative to a verified descriptor of D, uses ``O_NOFOLLOW | O_CLOEXEC`` (and
``O_NONBLOCK`` for FIFOs), and is followed by ``fstat`` checks: the expected kind, the expected
owner, no permission bit for group or others (FR-FIFO-2, FR-FIFO-3). Nothing ever blocks in
``open``: each side opens the FIFO it reads first, then the one it writes, and ``ENXIO`` on the
latter means "no reader yet" (FR-FIFO-7, FR-FIFO-8). Every wait is a ``poll`` with a deadline
(FR-FIFO-11).
"""

import errno
import fcntl
import os
import select
import signal
import stat
import time

PIPE_IN = "pipe.in"
PIPE_OUT = "pipe.out"
LOCK = "lock"
CLIENT_LOCK = "client.lock"

_O_FIFO_READ = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
_O_FIFO_WRITE = os.O_WRONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC

_KINDS = {"directory": stat.S_ISDIR, "FIFO": stat.S_ISFIFO, "regular file": stat.S_ISREG}


class FifoError(Exception):
    """A transport failure. The message names the path and what to do."""


class CheckFailed(FifoError):
    """A file failed a safety check (FR-FIFO-1, FR-FIFO-3, FR-FIFO-6): ``path`` and ``check``."""

    def __init__(self, path, check):
        self.path, self.check = path, check
        super().__init__("%s: %s" % (path, check))


class ServerRunning(FifoError):
    """Another server holds D/lock (FR-FIFO-5)."""


class NoServer(FifoError):
    """No server answered within the connect deadline (FR-FIFO-10)."""


class PeerGone(FifoError):
    """The other side closed its end: EOF, POLLHUP or EPIPE during a session (§9.6)."""


class Deadline:
    """A point in time on the monotonic clock; ``None`` seconds means never."""

    def __init__(self, seconds):
        self.at = None if seconds is None else time.monotonic() + seconds

    def remaining(self):
        if self.at is None:
            return None
        return max(0.0, self.at - time.monotonic())

    def expired(self):
        return self.at is not None and time.monotonic() >= self.at

    def poll_ms(self, cap=None):
        """Milliseconds for ``poll`` (-1 = no limit), never more than ``cap`` seconds."""
        left = self.remaining()
        if cap is not None:
            left = cap if left is None else min(left, cap)
        if left is None:
            return -1
        return int(left * 1000) + (1 if left > 0 else 0)


def poll(fds, deadline, cap=None):
    """Waits for events: ``fds`` maps fd -> event mask; returns ``{fd: revents}`` ({} on timeout).

    ``poll`` reports POLLERR, POLLHUP and POLLNVAL whatever the mask. EINTR is retried by Python
    (PEP 475) with the remaining time, as FR-FIFO-12 asks.
    """
    p = select.poll()
    for fd, events in fds.items():
        p.register(fd, events)
    return dict(p.poll(deadline.poll_ms(cap)))


def pause(seconds):
    """Waits without a descriptor (connect retries): a poll on nothing, never a busy loop."""
    select.poll().poll(max(0, int(seconds * 1000)))


def verify_fd(fd, path, kind, uid):
    """FR-FIFO-3: kind, owner and no group/other permission; D only needs no group/other write."""
    st = os.fstat(fd)
    if not _KINDS[kind](st.st_mode):
        raise CheckFailed(path, "is not a %s (mode 0%o); remove it if it was planted"
                          % (kind, stat.S_IFMT(st.st_mode)))
    if st.st_uid != uid:
        raise CheckFailed(path, "is owned by uid %d, expected uid %d" % (st.st_uid, uid))
    bad = 0o022 if kind == "directory" else 0o077
    if st.st_mode & bad:
        raise CheckFailed(path, "has mode 0%03o; group and others must have %s"
                          % (stat.S_IMODE(st.st_mode),
                             "no write permission" if kind == "directory" else "no permission"))
    return st


class ServiceDir:
    """A verified descriptor of D; every other file is reached relative to it (FR-FIFO-2)."""

    def __init__(self, path, fd, uid):
        self.path, self.fd, self.uid = path, fd, uid

    @classmethod
    def open(cls, path, create=False, uid=None):
        """Opens and verifies D (FR-FIFO-1); creates it with mode 0700 first if ``create``."""
        uid = os.geteuid() if uid is None else uid
        if create:
            try:
                os.mkdir(path, 0o700)
            except FileExistsError:
                pass
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENOTDIR):
                raise CheckFailed(path, "is a symbolic link or not a directory") from None
            raise
        try:
            verify_fd(fd, path, "directory", uid)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, uid)

    def name(self, name):
        return os.path.join(self.path, name)

    def open_file(self, name, flags, kind, mode=0o600, fchmod=False):
        """``openat`` with O_NOFOLLOW | O_CLOEXEC, then the fstat checks (FR-FIFO-3).

        ``fchmod`` sets the mode of a file this process has just created to exactly ``mode``
        through the descriptor (the umask applied at creation; FR-FIFO-2).
        """
        try:
            fd = os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=self.fd)
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise CheckFailed(self.name(name), "is a symbolic link; remove it if it was "
                                                   "planted") from None
            raise
        try:
            if fchmod:
                os.fchmod(fd, mode)
            verify_fd(fd, self.name(name), kind, self.uid)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def pipe_buf(fd):
    """PIPE_BUF of a FIFO (§4.1), at least 512."""
    try:
        return max(512, os.fpathconf(fd, "PC_PIPE_BUF"))
    except (OSError, ValueError):
        return 512


def flock_nb(fd):
    """``flock(LOCK_EX | LOCK_NB)``; False if another process holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def read_some(fd, size=65536):
    """One non-blocking read: octets, ``b""`` for EOF (no writer now), or None (EAGAIN)."""
    try:
        return os.read(fd, size)
    except BlockingIOError:
        return None


def write_frame(fd, data):
    """Writes one frame (or a batch) with exactly one ``write(2)`` (FR-FRAME-9).

    Returns False on EAGAIN (nothing was written: FR-FIFO-13) and raises :class:`PeerGone` on
    EPIPE (FR-FIFO-18). SIGPIPE never kills the process (FR-FIFO-17): if its disposition is not
    "ignore", it is blocked in this thread around the write and a SIGPIPE the write raised is
    consumed.
    """
    block = signal.getsignal(signal.SIGPIPE) != signal.SIG_IGN
    if block:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGPIPE})
        was_pending = signal.SIGPIPE in signal.sigpending()
    try:
        n = os.write(fd, data)
    except BlockingIOError:
        return False
    except BrokenPipeError:
        if block and not was_pending:
            signal.sigtimedwait({signal.SIGPIPE}, 0)
        raise PeerGone("the reader of the FIFO is gone (EPIPE)") from None
    finally:
        if block:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
    if n != len(data):
        # FR-FRAME-11: a frame is never completed with a second write.
        raise FifoError("short write of %d of %d octets on a FIFO" % (n, len(data)))
    return True


class Waker:
    """A self-pipe that interrupts a ``poll`` from another thread or a signal handler."""

    def __init__(self):
        self.r, self.w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def wake(self):
        try:
            os.write(self.w, b"\0")
        except BlockingIOError:
            pass  # already awake

    def drain(self):
        while read_some(self.r, 4096):
            pass

    def close(self):
        os.close(self.r)
        os.close(self.w)


class ServerFifos:
    """The server's side of §9.2: verified D, the lock, fresh FIFOs, ``pipe.in`` read end."""

    def __init__(self, path, uid=None):
        self.dir = ServiceDir.open(path, create=True, uid=uid)
        self.lock_fd = None
        self.in_fd = None
        try:
            # Step 2: the server lock (FR-FIFO-5).
            try:
                self.lock_fd = self.dir.open_file(LOCK, os.O_RDWR | os.O_CREAT | os.O_EXCL,
                                                  "regular file", fchmod=True)
            except FileExistsError:
                self.lock_fd = self.dir.open_file(LOCK, os.O_RDWR, "regular file")
            if not flock_nb(self.lock_fd):
                raise ServerRunning("%s is locked: another server is running in %s"
                                    % (self.dir.name(LOCK), path))
            # Step 3: reclaim what a dead server left, refuse what was planted (FR-FIFO-6).
            self._reclaim()
            self._create()
            # Step 4: the read end of pipe.in (FR-FIFO-7).
            self.in_fd = self.dir.open_file(PIPE_IN, _O_FIFO_READ, "FIFO")
        except BaseException:
            self._close_fds()
            raise
        self.pipe_buf = pipe_buf(self.in_fd)

    def _reclaim(self):
        # Check all three before removing any, so that a refusal leaves D as it was.
        stale = []
        for name, kind in ((PIPE_IN, stat.S_ISFIFO), (PIPE_OUT, stat.S_ISFIFO),
                           (CLIENT_LOCK, stat.S_ISREG)):
            try:
                st = os.stat(name, dir_fd=self.dir.fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            what = ("a symbolic link" if stat.S_ISLNK(st.st_mode) else
                    "of the wrong kind" if not kind(st.st_mode) else
                    "owned by uid %d" % st.st_uid if st.st_uid != self.dir.uid else
                    "of mode 0%03o, not 0600" % stat.S_IMODE(st.st_mode)
                    if stat.S_IMODE(st.st_mode) != 0o600 else None)
            if what:
                raise CheckFailed(self.dir.name(name), "refusing to start: existing file is %s "
                                  "(planted?); remove it" % what)
            stale.append(name)
        for name in stale:
            os.unlink(name, dir_fd=self.dir.fd)

    def _create(self):
        """Creates the FIFOs, then ``client.lock`` last: a client that finds it finds both FIFOs.

        ``mkfifoat`` applies the umask, so each new file gets exactly 0600 with ``fchmod`` on a
        descriptor (a FIFO opened O_RDONLY | O_NONBLOCK, which never blocks), never by path.
        """
        for name in (PIPE_IN, PIPE_OUT):
            os.mkfifo(name, 0o600, dir_fd=self.dir.fd)
            os.close(self.dir.open_file(name, _O_FIFO_READ, "FIFO", fchmod=True))
        os.close(self.dir.open_file(CLIENT_LOCK, os.O_RDWR | os.O_CREAT | os.O_EXCL,
                                    "regular file", fchmod=True))

    def reopen_reader(self):
        """Clears a raised POLLHUP on ``pipe.in`` (FR-FIFO-15).

        The new read end is opened before the old one is closed, so that ``pipe.in`` never has
        zero readers: a client opening it at that moment neither gets ENXIO nor loses data.
        """
        new = self.dir.open_file(PIPE_IN, _O_FIFO_READ, "FIFO")
        os.close(self.in_fd)
        self.in_fd = new

    def open_writer(self):
        """Opens ``pipe.out`` for writing; None when no client reads it (ENXIO: it has gone)."""
        try:
            return self.dir.open_file(PIPE_OUT, _O_FIFO_WRITE, "FIFO")
        except OSError as e:
            if e.errno == errno.ENXIO:
                return None
            raise

    def remove_files(self):
        """FR-FIFO-19: remove pipe.in, pipe.out, client.lock, then lock, holding the lock."""
        if self.dir.fd is None:
            return
        for name in (PIPE_IN, PIPE_OUT, CLIENT_LOCK, LOCK):
            try:
                os.unlink(name, dir_fd=self.dir.fd)
            except FileNotFoundError:
                pass
        self._close_fds()

    def _close_fds(self):
        if self.in_fd is not None:
            os.close(self.in_fd)
            self.in_fd = None
        if self.lock_fd is not None:
            os.close(self.lock_fd)  # releases the flock
            self.lock_fd = None
        self.dir.close()


class ClientFifos:
    """The client's side of §9.4: D verified, client.lock held, pipe.out read end, pipe.in write
    end. Use :meth:`connect`."""

    def __init__(self, sdir, lock_fd, out_fd, in_fd):
        self.dir, self.lock_fd, self.out_fd, self.in_fd = sdir, lock_fd, out_fd, in_fd
        self.pipe_buf = pipe_buf(in_fd)

    @classmethod
    def connect(cls, path, deadline, uid=None, on_wait=None):
        """Connects, retrying until ``deadline`` while there is no server or it is busy
        (FR-FIFO-8, FR-FIFO-10). A failed attempt closes everything and starts again, so that a
        server that restarts meanwhile (new inodes, §9.2 step 3) is found whole.

        ``on_wait(reason)`` is called after each failed attempt (diagnostics).
        """
        delay = 0.005
        reason = "no server"
        while True:
            try:
                got = cls._attempt(path, uid)
            except CheckFailed:
                raise
            except FileNotFoundError:
                got, reason = None, "no server"
            if isinstance(got, cls):
                return got
            if got is not None:
                reason = got
            if on_wait is not None:
                on_wait(reason)
            left = deadline.remaining()
            if left is not None and left <= 0:
                raise NoServer("%s at %s: %s within the connect timeout"
                               % (reason, path, "no server answered" if reason == "no server"
                                  else "another client stayed connected"))
            pause(delay if left is None else min(delay, left))
            delay = min(delay * 2, 0.1)

    @classmethod
    def _attempt(cls, path, uid):
        sdir = ServiceDir.open(path, uid=uid)
        fds = []
        try:
            # O_NONBLOCK: a FIFO planted at this path cannot block the open (§9.4 step 2).
            lock_fd = sdir.open_file(CLIENT_LOCK, os.O_RDWR | os.O_NONBLOCK, "regular file")
            fds.append(lock_fd)
            if not flock_nb(lock_fd):
                raise _Retry("server busy")
            out_fd = sdir.open_file(PIPE_OUT, _O_FIFO_READ, "FIFO")  # read end first (FR-FIFO-7)
            fds.append(out_fd)
            try:
                in_fd = sdir.open_file(PIPE_IN, _O_FIFO_WRITE, "FIFO")
            except OSError as e:
                if e.errno == errno.ENXIO:  # no reader: no server yet (FR-FIFO-8)
                    raise _Retry("no server") from None
                raise
            return cls(sdir, lock_fd, out_fd, in_fd)
        except _Retry as r:
            for fd in fds:
                os.close(fd)
            sdir.close()
            return r.reason
        except BaseException:
            for fd in fds:
                os.close(fd)
            sdir.close()
            raise

    def close(self):
        for attr in ("in_fd", "out_fd", "lock_fd"):
            fd = getattr(self, attr)
            if fd is not None:
                os.close(fd)
                setattr(self, attr, None)
        self.dir.close()


class _Retry(Exception):
    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason
