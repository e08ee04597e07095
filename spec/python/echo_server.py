#!/usr/bin/env python3
"""The FIFO-RPC/1 echo server (spec §10.2).

    echo_server.py --dir DIR

Creates DIR if it is missing, prints ``listening on DIR`` once a client can connect, and serves
``echo`` (RESPONSE with the same bincode1 string), ``fail`` (ERROR 1000 with the string as its
message) and ``exit`` (empty RESPONSE, then graceful shutdown: FR-EXIT-1) until ``exit``, SIGINT or
SIGTERM. It then removes its FIFOs and lock files and exits 0. Set FIFORPC_DEBUG=1 for
diagnostics on stderr.
"""

import argparse
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fiforpc import bincode1  # noqa: E402
from fiforpc.fifo import FifoError  # noqa: E402
from fiforpc.server import CallError, Server, ServerConfig, stderr_log  # noqa: E402

FAIL_CODE = 1000


def bad_request(what):
    from fiforpc import messages
    return CallError(messages.BAD_REQUEST, what)


def make_handlers(server_box):
    def string_arg(body):
        try:
            return bincode1.decode(bincode1.STRING, body)
        except bincode1.DecodeError as e:
            raise bad_request("body is not a bincode1 string: %s" % e) from None

    def echo(body):
        return bincode1.encode(bincode1.STRING, string_arg(body))

    def fail(body):
        raise CallError(FAIL_CODE, string_arg(body))

    def exit_(body):
        if body:
            raise bad_request("exit takes an empty body")
        server_box[0].shutdown()  # answered first, then the graceful shutdown (FR-BYE-2)
        return b""

    return {"echo": echo, "fail": fail, "exit": exit_}


def main(argv=None):
    ap = argparse.ArgumentParser(description="FIFO-RPC/1 echo server")
    ap.add_argument("--dir", required=True, help="service directory (created if missing)")
    args = ap.parse_args(argv)
    log = stderr_log if os.environ.get("FIFORPC_DEBUG") else None
    box = [None]
    try:
        server = Server(args.dir, make_handlers(box), ServerConfig(log=log))
    except (FifoError, OSError) as e:
        print("echo_server: cannot start in %s: %s" % (args.dir, e), file=sys.stderr)
        return 1
    box[0] = server

    def on_signal(signum, frame):
        server.shutdown()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print("listening on %s" % args.dir, flush=True)
    try:
        server.serve()
    except (FifoError, OSError) as e:
        print("echo_server: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
