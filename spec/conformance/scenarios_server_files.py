"""Server scenarios about the files of §9: planted files and unsafe directories the server
must refuse (FR-FIFO-1, FR-FIFO-3, FR-FIFO-6), a second server (FR-FIFO-5), and the stale
files a killed server leaves (§9.8).
"""

import os
import signal

from context import scenario
from scenarios_server import connect, exit_and_drain


# ---- refusing to start ----------------------------------------------------------------------


def snapshot(directory):
    """Names, kinds, modes and inodes in D: a refusal must leave D as it was (FR-FIFO-6)."""
    out = {}
    for name in sorted(os.listdir(directory)):
        st = os.lstat(os.path.join(directory, name))
        out[name] = (st.st_ino, st.st_mode)
    return out


def refuses_to_start(ctx, names_path, directory=None):
    """The server must exit non-zero promptly, print nothing on stdout, and say on one stderr
    line which path it refuses."""
    proc = ctx.spawn(directory=directory)
    code = proc.wait(ctx.within(15), "refuse to start")
    ctx.check_exit(proc, code, want_zero=False)
    ctx.check(proc.stdout == "", "a refusing server printed %r on stdout", proc.stdout)
    return ctx.check_one_stderr_line(proc, names_path)


def planted(ctx, name, make):
    """Plants ``make(path)`` at D/name next to a valid stale pipe.out; the server must refuse
    and leave D exactly as it was."""
    os.mkdir(ctx.dir, 0o700)
    stale = "pipe.in" if name == "pipe.out" else "pipe.out"
    _fifo_0600(os.path.join(ctx.dir, stale))
    path = os.path.join(ctx.dir, name)
    make(path)
    before = snapshot(ctx.dir)
    line = refuses_to_start(ctx, path)
    after = {k: v for k, v in snapshot(ctx.dir).items() if k != "lock"}
    ctx.check(after == {k: v for k, v in before.items() if k != "lock"},
              "refusing server changed D: before %s, after %s", sorted(before), sorted(after))
    return line


def _symlink_to_fifo(ctx):
    def make(path):
        target = os.path.join(ctx.base, "attacker.fifo")
        os.mkfifo(target, 0o600)
        os.symlink(target, path)
    return make


def _regular(path):
    with open(path, "w") as f:
        f.write("planted\n")
    os.chmod(path, 0o600)


def _fifo_0666(path):
    os.mkfifo(path, 0o600)
    os.chmod(path, 0o666)


def _fifo_0600(path):
    os.mkfifo(path, 0o600)
    os.chmod(path, 0o600)


@scenario("server.planted.symlink-pipe-in", "server", "FR-FIFO-3 FR-FIFO-6")
def planted_symlink(ctx):
    """A symbolic link at D/pipe.in (to a FIFO elsewhere): the server refuses to start, names
    the path, and leaves D as it was."""
    return planted(ctx, "pipe.in", _symlink_to_fifo(ctx))


@scenario("server.planted.regular-pipe-in", "server", "FR-FIFO-3 FR-FIFO-6")
def planted_regular(ctx):
    """A regular file at D/pipe.in: refused, path named, D unchanged."""
    return planted(ctx, "pipe.in", _regular)


@scenario("server.planted.fifo-0666-pipe-in", "server", "FR-FIFO-3 FR-FIFO-6")
def planted_fifo_0666(ctx):
    """A FIFO of mode 0666 at D/pipe.in: refused (only exactly 0600 is reclaimed), path named,
    D unchanged."""
    return planted(ctx, "pipe.in", _fifo_0666)


@scenario("server.planted.symlink-pipe-out", "server", "FR-FIFO-3 FR-FIFO-6")
def planted_symlink_out(ctx):
    """A symbolic link at D/pipe.out: refused, path named, D unchanged."""
    return planted(ctx, "pipe.out", _symlink_to_fifo(ctx))


@scenario("server.planted.fifo-client-lock", "server", "FR-FIFO-3 FR-FIFO-6")
def planted_fifo_client_lock(ctx):
    """A FIFO (0600) at D/client.lock, where a regular file belongs: refused, path named, D
    unchanged."""
    return planted(ctx, "client.lock", _fifo_0600)


@scenario("server.planted.dir-world-writable", "server", "FR-FIFO-1")
def planted_dir_writable(ctx):
    """D exists with mode 0777: the server refuses it and names it."""
    os.mkdir(ctx.dir, 0o700)
    os.chmod(ctx.dir, 0o777)
    refuses_to_start(ctx, ctx.dir)
    ctx.check(os.listdir(ctx.dir) == [], "the refusing server created files in D: %s",
              os.listdir(ctx.dir))


@scenario("server.planted.dir-symlink", "server", "FR-FIFO-1")
def planted_dir_symlink(ctx):
    """D is a symbolic link to a 0700 directory: the server refuses it and names it."""
    real = os.path.join(ctx.base, "real")
    os.mkdir(real, 0o700)
    os.symlink(real, ctx.dir)
    refuses_to_start(ctx, ctx.dir)
    ctx.check(os.listdir(real) == [], "the refusing server created files through the link: %s",
              os.listdir(real))


@scenario("server.second-server", "server", "FR-FIFO-5")
def second_server(ctx):
    """A second server on the same D refuses to start at once, saying another server is
    running; the first keeps serving and its files are untouched."""
    proc = ctx.start_server()
    before = snapshot(ctx.dir)
    refuses_to_start(ctx, None)
    ctx.check(snapshot(ctx.dir) == before, "the second server changed D")
    peer = connect(ctx)
    peer.echo("first server still here", ctx.within(10))
    exit_and_drain(ctx, proc, peer)


@scenario("server.stale-files", "server", "FR-FIFO-6")
def stale_files(ctx):
    """After SIGKILL the files stay; the next server reclaims them, creates new inodes (§9.2
    step 3), serves, and cleans up."""
    proc = ctx.start_server()
    proc.send_signal(signal.SIGKILL)
    proc.wait(ctx.within(10))
    names = ("pipe.in", "pipe.out", "client.lock")
    for n in names:
        ctx.check(os.path.lexists(os.path.join(ctx.dir, n)), "%s gone after SIGKILL?", n)
        # A hard link outside D keeps the old inode alive, so a new file cannot reuse its
        # number: a different number then proves that the file was created anew.
        os.link(os.path.join(ctx.dir, n), os.path.join(ctx.base, "old." + n))
    old = {n: os.lstat(os.path.join(ctx.dir, n)).st_ino for n in names}
    proc2 = ctx.start_server(what="the restarted server")
    for n in names:
        ino = os.lstat(os.path.join(ctx.dir, n)).st_ino
        ctx.check(ino != old[n], "%s kept its inode: not created anew (FR-FIFO-6)", n)
    peer = connect(ctx)
    peer.echo("after a crash", ctx.within(10))
    exit_and_drain(ctx, proc2, peer)
