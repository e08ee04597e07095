#!/usr/bin/env python3
"""The FIFO-RPC/1 echo client (spec §10.2).

    echo_client.py --dir DIR [--timeout-ms N] [MSG ...]

Connects (waiting up to the timeout, default 5000 ms, for a server), sends each MSG as an ``echo``
call and prints ``sent: MSG`` then ``received: REPLY``. A MSG equal to ``exit`` calls the ``exit``
method instead and prints ``server exited`` once the server has answered and said GOODBYE
SHUTTING_DOWN (FR-EXIT-1). Without MSG it sends ``msg 1`` .. ``msg 10`` and then ``exit``.

Exit status 0 on success, 1 on any failure (with a one-line message on stderr), 2 on bad usage.
Set FIFORPC_DEBUG=1 for diagnostics on stderr.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fiforpc import bincode1  # noqa: E402
from fiforpc import messages  # noqa: E402
from fiforpc.client import Client, ClientError  # noqa: E402
from fiforpc.fifo import FifoError  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description="FIFO-RPC/1 echo client")
    ap.add_argument("--dir", required=True, help="service directory of the server")
    ap.add_argument("--timeout-ms", type=int, default=5000,
                    help="how long to wait for the server, and for each answer (default 5000)")
    ap.add_argument("msgs", nargs="*", metavar="MSG")
    args = ap.parse_args(argv)
    if args.timeout_ms < 0:
        ap.error("--timeout-ms must be >= 0")
    msgs = args.msgs or ["msg %d" % i for i in range(1, 11)] + ["exit"]
    timeout = args.timeout_ms / 1000.0
    debug = os.environ.get("FIFORPC_DEBUG")
    waited = []

    def on_wait(reason):
        if debug and not waited:
            print("echo_client: waiting for the server at %s (%s)" % (args.dir, reason),
                  file=sys.stderr, flush=True)
        waited.append(reason)

    try:
        client = Client.connect(args.dir, timeout=timeout, on_wait=on_wait)
    except (ClientError, FifoError, OSError) as e:
        print("echo_client: cannot connect to %s: %s" % (args.dir, e), file=sys.stderr)
        return 1
    try:
        for msg in msgs:
            if msg == "exit":
                client.call("exit", b"", timeout)
                bye = client.wait_goodbye(timeout)
                if bye.code != messages.BYE_SHUTTING_DOWN:
                    raise ClientError("server said GOODBYE %s instead of SHUTTING_DOWN"
                                      % messages.goodbye_code_name(bye.code))
                print("server exited", flush=True)
                continue
            print("sent: %s" % msg, flush=True)
            body = client.call("echo", bincode1.encode(bincode1.STRING, msg), timeout)
            reply = bincode1.decode(bincode1.STRING, body)
            print("received: %s" % reply, flush=True)
    except (ClientError, FifoError, OSError, bincode1.DecodeError) as e:
        print("echo_client: %s" % e, file=sys.stderr)
        return 1
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
