#!/usr/bin/env python3
"""The FIFO-RPC/1 echo client (spec §10.2).

    echo_client.py --dir DIR [--timeout-ms N] [--method NAME] [--message-file PATH]
                   [--in-flight N] [--repeat K] [MSG ...]

Connects (waiting up to the timeout, default 5000 ms, for a server), sends each MSG as an ``echo``
call and prints ``sent: MSG`` then ``received: REPLY``. A MSG equal to ``exit`` calls the ``exit``
method instead and prints ``server exited`` once the server has answered and said GOODBYE
SHUTTING_DOWN (FR-EXIT-1). Without MSG (and without ``--message-file``) it sends ``msg 1`` ..
``msg 10`` and then ``exit``.

Optional flags, the same as the Rust ``echo_client``'s:

* ``--method NAME`` calls NAME instead of ``echo`` (the body is still the bincode1 string); an
  ERROR answer prints ``echo_client: the server answered with error CODE: MESSAGE`` on stderr
  (after the ``sent:`` line) and exits 1. ``exit`` still calls ``exit``.
* ``--message-file PATH``: the file's contents (UTF-8 text) are one more message, sent before the
  MSG arguments, printed as ``sent: <N> bytes from PATH`` and ``received: <N> bytes,
  identical``; a reply that differs is an error.
* ``--in-flight N`` (default 1): the messages go in batches of up to N concurrent calls; a batch's
  lines are printed in message order once all its answers arrived, and with N > 1 each reply
  must equal its own request. ``exit`` waits for the calls before it.
* ``--repeat K`` (default 1): each message (not ``exit``) is sent K times in a row.

Exit status 0 on success, 1 on any failure (with a one-line message on stderr), 2 on bad usage.
Set FIFORPC_DEBUG=1 for diagnostics on stderr.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fiforpc import bincode1  # noqa: E402
from fiforpc import messages  # noqa: E402
from fiforpc.client import Client, ClientError, RemoteError  # noqa: E402
from fiforpc.fifo import FifoError  # noqa: E402


class _Item:
    """One message to send: its text and, for ``--message-file``, where it came from."""

    def __init__(self, text, path=None):
        self.text, self.path = text, path
        self.body = bincode1.encode(bincode1.STRING, text)

    def sent_line(self):
        if self.path is not None:
            return "sent: %d bytes from %s" % (_utf8_len(self.text), self.path)
        return "sent: %s" % self.text

    def received_line(self, reply, must_match):
        if self.path is not None:
            if reply != self.text:
                raise ClientError("the reply to the message from %s differs from it "
                                  "(%d bytes sent, %d bytes received)"
                                  % (self.path, _utf8_len(self.text), _utf8_len(reply)))
            return "received: %d bytes, identical" % _utf8_len(reply)
        if must_match and reply != self.text:
            raise ClientError("the reply to %r differs from it: %r; calls in flight were mixed up"
                              % (self.text, reply))
        return "received: %s" % reply


def _utf8_len(text):
    return len(text.encode("utf-8", "surrogateescape"))


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1, got %d" % value)
    return value


def _plan(args):
    """The steps, in order: each message's :class:`_Item` ``repeat`` times, ``None`` for
    ``exit``."""
    items = []
    if args.message_file is not None:
        try:
            with open(args.message_file, "rb") as f:
                data = f.read()
        except OSError as e:
            raise ClientError("cannot read the message file %s: %s" % (args.message_file, e))
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ClientError("the message file %s is not UTF-8 text: %s" % (args.message_file, e))
        items.append(_Item(text, args.message_file))
    msgs = args.msgs
    if not msgs and args.message_file is None:
        msgs = ["msg %d" % i for i in range(1, 11)] + ["exit"]
    items.extend(None if m == "exit" else _Item(m) for m in msgs)
    steps = []
    for item in items:
        if item is None:
            steps.append(None)
        else:
            steps.extend([item] * args.repeat)
    return steps


def _run_batch(client, method, batch, must_match, timeout):
    """Sends a batch of calls at once, waits for all the answers, then prints them in order."""
    if len(batch) == 1:
        print(batch[0].sent_line(), flush=True)
        reply = bincode1.decode(bincode1.STRING, client.call(method, batch[0].body, timeout))
        print(batch[0].received_line(reply, must_match), flush=True)
        return
    answers, ids, failed = [], [], None
    for item in batch:
        try:
            ids.append(client.start(method, item.body, timeout))
        except ClientError as e:  # a call that could not be sent: the answers before it count
            failed = e
            break
    for rid in ids:
        try:
            answers.append(("ok", client.result(rid, timeout)))
        except ClientError as e:
            answers.append(("error", e))
    if failed is not None:
        answers.append(("error", failed))
    for item, (kind, value) in zip(batch, answers):
        print(item.sent_line(), flush=True)
        if kind == "error":
            raise value
        reply = bincode1.decode(bincode1.STRING, value)
        print(item.received_line(reply, must_match), flush=True)


def _exit(client, timeout):
    """Calls ``exit`` and waits for GOODBYE SHUTTING_DOWN (FR-EXIT-1)."""
    client.call("exit", b"", timeout)
    bye = client.wait_goodbye(timeout)
    if bye.code != messages.BYE_SHUTTING_DOWN:
        raise ClientError("server said GOODBYE %s instead of SHUTTING_DOWN"
                          % messages.goodbye_code_name(bye.code))
    print("server exited", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="FIFO-RPC/1 echo client",
        epilog="Exit status: 0 on success, 1 on any failure (one line on stderr), 2 on bad usage.")
    ap.add_argument("--dir", required=True, help="service directory of the server")
    ap.add_argument("--timeout-ms", type=int, default=5000,
                    help="how long to wait for the server, and for each answer (default 5000)")
    ap.add_argument("--method", default="echo", metavar="NAME",
                    help="method to call for each MSG instead of echo (the body is still the "
                         "bincode1 string); with fail the echo server answers ERROR 1000: one "
                         "line on stderr with the code and the message, exit status 1; a MSG "
                         "exit still calls exit")
    ap.add_argument("--message-file", metavar="PATH",
                    help="a file whose contents (UTF-8 text) are one more message, sent before "
                         "the MSGs; printed as 'sent: <N> bytes from PATH' and 'received: <N> "
                         "bytes, identical'; a reply that differs is an error")
    ap.add_argument("--in-flight", type=_positive, default=1, metavar="N",
                    help="calls in flight at a time (default 1): batches of up to N calls, whose "
                         "lines are printed in MSG order once all answers arrived; with N > 1 each "
                         "reply must equal its request; exit waits for the calls before it")
    ap.add_argument("--repeat", type=_positive, default=1, metavar="K",
                    help="send each MSG (not exit) K times in a row (default 1)")
    ap.add_argument("msgs", nargs="*", metavar="MSG",
                    help="messages to echo; exit stops the server (default, without MSG and "
                         "--message-file: 'msg 1' .. 'msg 10', then exit)")
    args = ap.parse_args(argv)
    if args.timeout_ms < 0:
        ap.error("--timeout-ms must be >= 0")
    timeout = args.timeout_ms / 1000.0
    debug = os.environ.get("FIFORPC_DEBUG")
    waited = []

    def on_wait(reason):
        if debug and not waited:
            print("echo_client: waiting for the server at %s (%s)" % (args.dir, reason),
                  file=sys.stderr, flush=True)
        waited.append(reason)

    try:
        steps = _plan(args)
    except ClientError as e:
        print("echo_client: %s" % e, file=sys.stderr)
        return 1
    try:
        client = Client.connect(args.dir, timeout=timeout, on_wait=on_wait)
    except (ClientError, FifoError, OSError) as e:
        print("echo_client: cannot connect to %s: %s" % (args.dir, e), file=sys.stderr)
        return 1
    must_match = args.in_flight > 1
    batch = []
    try:
        for step in steps:
            if step is not None:
                batch.append(step)
                if len(batch) == args.in_flight:
                    _run_batch(client, args.method, batch, must_match, timeout)
                    batch = []
                continue
            if batch:
                _run_batch(client, args.method, batch, must_match, timeout)
                batch = []
            _exit(client, timeout)
        if batch:
            _run_batch(client, args.method, batch, must_match, timeout)
    except RemoteError as e:
        print("echo_client: the server answered with error %d: %s" % (e.code, e.message),
              file=sys.stderr)
        return 1
    except (ClientError, FifoError, OSError, bincode1.DecodeError) as e:
        print("echo_client: %s" % e, file=sys.stderr)
        return 1
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
