"""Interoperability: this package's client against another implementation's echo server.

Skipped unless FIFORPC_PEER_SERVER names a server executable with the echo_server.py command line
(``--dir DIR``, one ``listening on DIR`` line, §10.2), for example::

    FIFORPC_PEER_SERVER=target/debug/examples/echo_server \\
        python3 -m unittest discover -s spec/python/tests -t spec/python
"""

import os
import signal
import unittest

from fiforpc import bincode1 as B
from fiforpc import messages as M
from fiforpc.client import Client, RemoteError

from tests.support import CLIENT, WAIT, FifoTestCase, RawClient

PEER = os.environ.get("FIFORPC_PEER_SERVER")
DEFAULT_OUTPUT = "".join("sent: msg %d\nreceived: msg %d\n" % (i, i) for i in range(1, 11)) \
    + "server exited\n"


def s(text):
    return B.encode(B.STRING, text)


@unittest.skipUnless(PEER, "set FIFORPC_PEER_SERVER to test against another server")
class PeerServerTest(FifoTestCase):
    def start_peer(self):
        p = self.spawn_cmd([PEER, "--dir", self.dir])
        self.assertEqual(p.out.line(), "listening on %s" % self.dir)
        return p

    def spawn_cmd(self, argv):
        import subprocess
        from tests.support import LineReader
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.procs.append(p)
        p.out, p.err = LineReader(p.stdout), LineReader(p.stderr)
        return p

    def test_server_first_default_run(self):  # FR-EXIT-1, FR-FIFO-19
        server = self.start_peer()
        code, out, err = self.run_client()
        self.assertEqual((code, out), (0, DEFAULT_OUTPUT), err)
        self.assertEqual(self.finish(server)[0], 0)
        self.assert_no_files()

    def test_client_first(self):  # FR-FIFO-8, FR-FIFO-10
        client = self.spawn([CLIENT, "--dir", self.dir, "--timeout-ms", "20000", "a", "exit"],
                            env={"FIFORPC_DEBUG": "1"})
        self.assertIn("waiting for the server", client.err.line())
        server = self.start_peer()
        code, out, err = self.finish(client)
        self.assertEqual((code, out), (0, "sent: a\nreceived: a\nserver exited\n"), err)
        self.assertEqual(self.finish(server)[0], 0)
        self.assert_no_files()

    def test_calls(self):  # FR-CALL-3, FR-CALL-6, FR-PING-1, FR-FRAG-1, §10.2
        server = self.start_peer()
        with Client.connect(self.dir, timeout=WAIT) as c:
            ids = [c.start("echo", s("m%d" % i)) for i in range(300)]
            self.assertEqual([c.result(i, WAIT) for i in ids], [s("m%d" % i) for i in range(300)])
            big = "q" * (4 * 1024 * 1024)
            self.assertEqual(c.call("echo", s(big), 120.0), s(big))
            with self.assertRaises(RemoteError) as e:
                c.call("fail", s("no"), WAIT)
            self.assertEqual((e.exception.code, e.exception.message), (1000, "no"))
            with self.assertRaises(RemoteError) as e:
                c.call("nosuch", b"", WAIT)
            self.assertEqual(e.exception.code, M.METHOD_NOT_FOUND)
            c.ping(WAIT)
        for _ in range(3):  # one client after another
            code, out, err = self.run_client("again")
            self.assertEqual((code, out), (0, "sent: again\nreceived: again\n"), err)
        server.send_signal(signal.SIGTERM)
        self.assertEqual(self.finish(server)[0], 0)
        self.assert_no_files()

    def test_hello_refused(self):  # FR-HS-2
        server = self.start_peer()
        raw = RawClient(self.dir)
        self.assertEqual(raw.hello(encoding="nosuch-encoding").code, M.BYE_ENCODING_UNSUPPORTED)
        raw.close()
        raw = RawClient(self.dir)
        self.assertIsInstance(raw.hello(), M.Welcome)
        raw.close()
        server.send_signal(signal.SIGTERM)
        self.assertEqual(self.finish(server)[0], 0)

    def test_planted_pipe_in_refused(self):  # FR-FIFO-3, FR-FIFO-6
        os.mkdir(self.dir, 0o700)
        os.symlink(os.path.join(self.base, "x"), os.path.join(self.dir, "pipe.in"))
        p = self.spawn_cmd([PEER, "--dir", self.dir])
        code, out, err = self.finish(p)
        self.assertNotEqual(code, 0)
        self.assertEqual(out, "")
        self.assertIn("pipe.in", err)
