#!/usr/bin/env python3
"""FIFO-RPC/1 conformance harness (spec/FRAMING.md §13, item 2).

    python3 spec/conformance/harness.py [OPTIONS] --server CMD [ARG...]
    python3 spec/conformance/harness.py [OPTIONS] --client CMD [ARG...]

CMD is the implementation's echo program (spec §10.2) with its fixed command line: the harness
appends ``--dir DIR`` (and, for a client, ``--timeout-ms N`` and messages). With ``--server``
the harness plays the client against that server; with ``--client`` it plays the server for
that client. Everything after ``--server``/``--client`` is the command, so options come first.

Output: one line per scenario, ``PASS|FAIL <id> [FR-ids] (detail)``, then ``N passed, N
failed`` alone on the last line. A scenario listed in an xfail file (``--xfail FILE``, lines of
``ID reason``) prints ``XFAIL`` when it fails as expected and ``XPASS`` (counted as failed: the
list must be kept honest) when it passes. Exit status 0 only when nothing failed.

Python 3.9+, standard library only, Linux (FIFOs, flock, inotify).
"""

import argparse
import fnmatch
import json
import os
import signal
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))  # the fiforpc package

# Importing the scenario modules registers their scenarios, in this order.
import scenarios_server  # noqa: E402,F401
import scenarios_server_faults  # noqa: E402,F401
import scenarios_server_files  # noqa: E402,F401
import scenarios_client  # noqa: E402,F401
import scenarios_client_faults  # noqa: E402,F401
from context import SCENARIOS, Context  # noqa: E402
from procs import Fail, PeerClosed  # noqa: E402


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="FIFO-RPC/1 conformance harness",
        usage="%(prog)s [--list] [--only ID]... [--xfail FILE] [--json FILE] [--keep] "
              "[--verbose] (--server CMD... | --client CMD...)")
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    ap.add_argument("--only", action="append", default=[], metavar="ID",
                    help="run only scenarios matching ID (a glob, e.g. 'server.planted.*'); "
                         "repeatable")
    ap.add_argument("--xfail", action="append", default=[], metavar="FILE",
                    help="file of expected failures: 'ID reason' per line, '#' comments")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directories of failed scenarios")
    ap.add_argument("--verbose", "-v", action="store_true",
                    help="on failure, print the traceback and the implementation's stderr")
    role = ap.add_mutually_exclusive_group()
    role.add_argument("--server", nargs=argparse.REMAINDER, metavar="CMD",
                      help="test this echo server command (the harness is the client)")
    role.add_argument("--client", nargs=argparse.REMAINDER, metavar="CMD",
                      help="test this echo client command (the harness is the server)")
    args = ap.parse_args(argv)
    if not args.list and not (args.server or args.client):
        ap.error("give --server CMD... or --client CMD... (or --list)")

    return args


def read_xfail(paths):
    """``{id: reason}`` from xfail files: one ``ID reason...`` per line, ``#`` starts a
    comment line."""
    out = {}
    for path in paths:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                sid, _, reason = line.partition(" ")
                out[sid] = reason.strip() or "(no reason given)"
    return out


def selected(role, patterns):
    out = []
    for sc in SCENARIOS:
        if role is not None and sc.role != role:
            continue
        if patterns and not any(fnmatch.fnmatchcase(sc.id, p) for p in patterns):
            continue
        out.append(sc)
    return out


WATCHDOG_SLACK = 15  # seconds past a scenario's own deadline before the watchdog fires


def _watchdog(signum, frame):
    raise Fail("the scenario overran its deadline (watchdog)")


def run_one(sc, cmd, args):
    """Runs one scenario in its own context; returns (status, detail, seconds).

    Every wait inside a scenario has its own deadline; the SIGALRM watchdog is the last line
    of defence should one be missing, so that a run always ends."""
    ctx = Context(cmd, sc)
    t0 = time.monotonic()
    status, detail = "PASS", ""
    signal.signal(signal.SIGALRM, _watchdog)
    signal.alarm(int(sc.timeout) + WATCHDOG_SLACK)
    try:
        result = sc.func(ctx)
        detail = result if isinstance(result, str) else "; ".join(ctx.notes)
    except PeerClosed as e:
        status, detail = "FAIL", str(e)
        for p in ctx.procs:  # why did it close? say how it ended
            if p.poll() is not None:
                detail += "; %s: %s, stderr: %s" % (p.name, p.exit_status_text(p.poll()),
                                                   p.stderr_tail(1))
    except Fail as e:
        status, detail = "FAIL", str(e)
    except Exception as e:  # a harness bug or an unexpected OS error: still a FAIL, with a trace
        status, detail = "FAIL", "harness error: %s: %s" % (type(e).__name__, e)
        if args.verbose:
            traceback.print_exc()
    finally:
        signal.alarm(0)
        if status == "FAIL" and args.verbose:
            for p in ctx.procs:
                err = p.stderr.strip()
                if err:
                    sys.stderr.write("--- stderr of %s (%s):\n%s\n" % (p.name, " ".join(p.argv),
                                                                      err[-4000:]))
        keep = args.keep and status == "FAIL"
        ctx.cleanup(keep=keep)
        if keep:
            detail += " [kept %s]" % ctx.base
    return status, detail, time.monotonic() - t0


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    role = "server" if args.server is not None else "client" if args.client is not None else None
    cmd = args.server or args.client
    scenarios = selected(role, args.only)
    if args.list:
        for sc in scenarios:
            print("%-40s [%s]\n    %s" % (sc.id, ",".join(sc.requirements), sc.summary))
        return 0
    if not scenarios:
        print("no scenario matches %s" % " ".join(args.only), file=sys.stderr)
        return 2
    xfail = read_xfail(args.xfail)
    results = []
    passed = failed = xfailed = 0
    for sc in scenarios:
        status, detail, secs = run_one(sc, cmd, args)
        if sc.id in xfail:
            if status == "FAIL":
                status, detail = "XFAIL", "%s; expected: %s" % (detail, xfail[sc.id])
            else:
                status, detail = "XPASS", "listed as expected to fail (%s) but passed: " \
                                          "remove it from the xfail list" % xfail[sc.id]
        if status == "PASS":
            passed += 1
        elif status == "XFAIL":
            xfailed += 1
        else:
            failed += 1
        print("%s %s [%s] (%s)" % (status, sc.id, ",".join(sc.requirements),
                                   detail or "ok"), flush=True)
        results.append({"id": sc.id, "role": sc.role, "requirements": sc.requirements,
                        "status": status, "detail": detail, "seconds": round(secs, 3)})
    if xfailed:
        print("(%d expected failures listed in %s)" % (xfailed, ", ".join(args.xfail)))
    print("%d passed, %d failed" % (passed, failed), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"command": cmd, "role": role, "results": results,
                       "passed": passed, "failed": failed, "xfailed": xfailed}, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # stdout closed early (| head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
