"""Scenarios: the registry and what each one gets to run with.

A scenario is a function ``f(ctx)`` registered with :func:`scenario`. It passes by returning
(optionally a short detail string) and fails by raising :class:`procs.Fail`. Each run gets a
fresh :class:`Context`: a private temporary directory, a deadline for the whole scenario, and the
command of the implementation under test. Everything a scenario starts or opens is cleaned up by
the context, whatever happens.
"""

import os
import shutil
import tempfile

from fiforpc.fifo import Deadline

from procs import Fail, Proc

SCENARIOS = []  # in registration order


class Scenario:
    def __init__(self, sid, role, requirements, func, timeout):
        self.id = sid
        self.role = role  # "server": the implementation is the server; "client": the client
        self.requirements = requirements
        self.func = func
        self.timeout = timeout
        doc = (func.__doc__ or "").strip()
        self.summary = " ".join(doc.split("\n\n")[0].split()) if doc else ""


def scenario(sid, role, requirements, timeout=30.0):
    """Registers a scenario. ``requirements``: the spec ids it checks, space-separated."""
    def register(func):
        SCENARIOS.append(Scenario(sid, role, requirements.split(), func, timeout))
        return func
    return register


class Context:
    """What a running scenario uses: ``dir`` (the service directory D, not created yet), a
    private ``base`` directory around it, the implementation ``cmd``, and bounded waits."""

    def __init__(self, cmd, scen):
        self.cmd = list(cmd)
        self.scenario = scen
        self.base = tempfile.mkdtemp(prefix="fiforpc-conformance-")
        self.dir = os.path.join(self.base, "svc")
        self.deadline = Deadline(scen.timeout)
        self.procs = []
        self._closers = []
        self.notes = []

    # ---- time -----------------------------------------------------------------------------

    def within(self, seconds):
        """A deadline ``seconds`` from now, never past the scenario's own deadline."""
        left = self.deadline.remaining()
        return Deadline(seconds if left is None else min(seconds, left))

    # ---- processes and resources ----------------------------------------------------------

    def spawn(self, *args, directory=None, env=None, name=None):
        """Starts the implementation: ``CMD --dir D ARGS...``."""
        argv = self.cmd + ["--dir", directory or self.dir] + [str(a) for a in args]
        p = Proc(argv, env=env, name=name or ("%s under test" % self.scenario.role))
        self.procs.append(p)
        return p

    def start_server(self, directory=None, what="the server under test"):
        """Starts the server under test and waits for its one ``listening on D`` line."""
        directory = directory or self.dir
        p = self.spawn(directory=directory, name=what)
        line = p.line(self.within(20), "'listening on %s'" % directory)
        self.check(line == "listening on %s" % directory,
                   "%s printed %r, expected 'listening on %s'", what, line, directory)
        return p

    def on_cleanup(self, closer):
        self._closers.append(closer)
        return closer

    def cleanup(self, keep=False):
        for p in self.procs:
            p.close()
        for c in reversed(self._closers):
            try:
                c()
            except Exception:  # cleanup must go on
                pass
        if not keep:
            shutil.rmtree(self.base, ignore_errors=True)

    # ---- checks ---------------------------------------------------------------------------

    def check(self, cond, fmt, *args):
        if not cond:
            raise Fail(fmt % args if args else fmt)

    def note(self, text):
        """A remark shown in the detail of a passing scenario."""
        self.notes.append(text)

    def check_peer(self, peer):
        """The implementation broke no sender's rule in anything the harness read."""
        problems = peer.inbox.problems()
        self.check(not problems, "; ".join(problems[:3]))

    def check_exit(self, proc, code, want_zero=True, what="exit status"):
        text = proc.exit_status_text(code)
        if want_zero:
            self.check(code == 0, "%s: %s, expected exit 0 (stderr: %s)", proc.name, text,
                       proc.stderr_tail())
        else:
            self.check(code is not None and code > 0, "%s: %s, expected a non-zero exit "
                       "status (not a signal)", proc.name, text)

    def check_no_files(self, directory=None):
        """FR-FIFO-19: the server removed its files; D itself stays."""
        directory = directory or self.dir
        try:
            left = sorted(os.listdir(directory))
        except FileNotFoundError:
            raise Fail("the server removed D itself (%s); FR-FIFO-19 keeps it" % directory)
        self.check(left == [], "files left in D after the server exited: %s", ", ".join(left))

    def check_one_stderr_line(self, proc, must_contain=None):
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        self.check(len(lines) == 1, "%s wrote %d lines on stderr, expected exactly one: %r",
                   proc.name, len(lines), lines[:4])
        if must_contain is not None:
            self.check(must_contain in lines[0], "%s's error %r does not name %s",
                       proc.name, lines[0], must_contain)
        return lines[0]
