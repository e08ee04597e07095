"""The FIFO transport and the sessions, with echo_server.py and echo_client.py as real processes
in a private temporary directory (spec §8, §9, §10.2)."""

import os
import signal
import stat

from fiforpc import bincode1 as B
from fiforpc import messages as M
from fiforpc.client import (CallTimeout, Client, RemoteError, ServerGone, ServerShutdown,
                            SessionRefused)
from fiforpc.fifo import NoServer

from tests.support import CLIENT, SERVER, WAIT, FifoTestCase, RawClient, ScriptedServer

DEFAULT_OUTPUT = "".join("sent: msg %d\nreceived: msg %d\n" % (i, i) for i in range(1, 11)) \
    + "server exited\n"


def s(text):
    return B.encode(B.STRING, text)


class StartOrderTest(FifoTestCase):
    def test_server_first_default_messages_then_exit(self):  # FR-FIFO-7, FR-EXIT-1, FR-FIFO-19
        server = self.start_server()
        self.assertEqual(stat.S_IMODE(os.stat(self.dir).st_mode), 0o700)  # FR-FIFO-1
        for name in ("lock", "pipe.in", "pipe.out", "client.lock"):
            self.assertEqual(stat.S_IMODE(os.lstat(os.path.join(self.dir, name)).st_mode), 0o600)
        code, out, err = self.run_client()
        self.assertEqual((code, out), (0, DEFAULT_OUTPUT), err)
        code, out, err = self.finish(server)
        self.assertEqual((code, out), (0, ""), err)
        self.assert_no_files()

    def test_client_first(self):  # FR-FIFO-8, FR-FIFO-10
        client = self.spawn([CLIENT, "--dir", self.dir,
                             "--timeout-ms", "20000", "first", "exit"],
                            env={"FIFORPC_DEBUG": "1"})
        # The client says on stderr that it waits: only then is the server started.
        self.assertIn("waiting for the server", client.err.line())
        server = self.start_server()
        code, out, err = self.finish(client)
        self.assertEqual((code, out), (0, "sent: first\nreceived: first\nserver exited\n"), err)
        self.assertEqual(self.finish(server)[0], 0)
        self.assert_no_files()

    def test_no_server_within_timeout(self):  # FR-FIFO-10
        os.mkdir(self.dir, 0o700)
        code, out, err = self.run_client("x", timeout_ms=300)
        self.assertNotEqual(code, 0)
        self.assertEqual(out, "")
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("no server", err)

    def test_clients_one_after_another(self):  # §8.5, FR-SESS-1
        server = self.start_server()
        for i in range(3):
            code, out, err = self.run_client("round %d" % i)
            self.assertEqual((code, out), (0, "sent: round %d\nreceived: round %d\n" % (i, i)),
                             err)
        code, out, err = self.run_client("exit")
        self.assertEqual((code, out), (0, "server exited\n"), err)
        self.assertEqual(self.finish(server)[0], 0)
        self.assert_no_files()

    def test_sigterm_and_sigint_shut_down_cleanly(self):  # FR-BYE-2, FR-FIFO-19
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(signal=sig):
                server = self.start_server()
                self.stop_server(server, sig)
                self.assert_no_files()

    def test_sigterm_during_session_sends_goodbye(self):  # FR-BYE-2
        server = self.start_server()
        with Client.connect(self.dir, timeout=WAIT) as c:
            self.assertEqual(c.call("echo", s("a"), WAIT), s("a"))
            server.send_signal(signal.SIGTERM)
            bye = c.wait_goodbye(WAIT)
            self.assertEqual((bye.code, bye.last_request_id), (M.BYE_SHUTTING_DOWN, 1))
            with self.assertRaises(ServerShutdown):  # FR-BYE-3
                c.call("echo", s("b"), WAIT)
        self.assertEqual(self.finish(server)[0], 0)
        self.assert_no_files()

    def test_second_server_refused(self):  # FR-FIFO-5
        server = self.start_server()
        second = self.spawn([SERVER, "--dir", self.dir])
        code, out, err = self.finish(second)
        self.assertNotEqual(code, 0)
        self.assertEqual(out, "")
        self.assertIn("another server", err)
        self.assertEqual(self.run_client("still", "exit")[0:2],
                         (0, "sent: still\nreceived: still\nserver exited\n"))
        self.assertEqual(self.finish(server)[0], 0)

    def test_stale_files_of_dead_server_reclaimed(self):  # FR-FIFO-6, §9.8
        server = self.start_server()
        server.kill()
        server.wait(timeout=WAIT)
        self.assertIn("pipe.in", os.listdir(self.dir))
        code, out, err = self.run_client("x", timeout_ms=200)  # stale FIFOs: ENXIO until deadline
        self.assertNotEqual(code, 0)
        server = self.start_server()
        self.assertEqual(self.run_client("exit")[0:2], (0, "server exited\n"))
        self.assertEqual(self.finish(server)[0], 0)
        self.assert_no_files()


class PlantedFileTest(FifoTestCase):
    """FR-FIFO-3, FR-FIFO-6, §12: the server refuses files it did not make, and names them."""

    def refused(self, plant):
        os.mkdir(self.dir, 0o700)
        path = os.path.join(self.dir, "pipe.in")
        plant(path)
        before = os.lstat(path)
        p = self.spawn([SERVER, "--dir", self.dir])
        code, out, err = self.finish(p)
        self.assertNotEqual(code, 0)
        self.assertEqual(out, "")  # never "listening"
        self.assertIn("pipe.in", err)
        after = os.lstat(path)
        self.assertEqual((before.st_ino, before.st_mode), (after.st_ino, after.st_mode))
        return err

    def test_symlink(self):
        target = os.path.join(self.base, "target")
        os.mkfifo(target, 0o600)
        self.assertIn("symbolic link", self.refused(lambda p: os.symlink(target, p)))

    def test_regular_file(self):
        def plant(p):
            with open(p, "w") as f:
                f.write("x")
            os.chmod(p, 0o600)
        self.assertIn("wrong kind", self.refused(plant))

    def test_fifo_mode_0666(self):
        def plant(p):
            os.mkfifo(p, 0o600)
            os.chmod(p, 0o666)
        self.assertIn("0666", self.refused(plant))

    def test_refusal_leaves_directory_as_it_was(self):  # FR-FIFO-6
        os.mkdir(self.dir, 0o700)
        stale = os.path.join(self.dir, "pipe.in")
        os.mkfifo(stale, 0o600)
        os.chmod(stale, 0o600)
        os.symlink(os.path.join(self.base, "elsewhere"), os.path.join(self.dir, "pipe.out"))
        p = self.spawn([SERVER, "--dir", self.dir])
        code, out, err = self.finish(p)
        self.assertNotEqual(code, 0)
        self.assertIn("pipe.out", err)
        self.assertTrue(stat.S_ISFIFO(os.lstat(stale).st_mode))  # the stale FIFO is still there

    def test_directory_writable_by_others(self):  # FR-FIFO-1
        os.mkdir(self.dir, 0o700)
        os.chmod(self.dir, 0o777)
        p = self.spawn([SERVER, "--dir", self.dir])
        code, out, err = self.finish(p)
        self.assertNotEqual(code, 0)
        self.assertIn("mode 0777", err)


class SessionTest(FifoTestCase):
    def setUp(self):
        super().setUp()
        self.server = self.start_server()

    def tearDown(self):
        if self.server.poll() is None:
            self.stop_server(self.server)
            self.assert_no_files()
        super().tearDown()

    def test_large_message_4mib_fragmented(self):  # FR-FRAG-1, FR-FRAME-9, FR-FIFO-13
        text = "".join(chr(0x61 + i % 26) for i in range(4 * 1024 * 1024))
        with Client.connect(self.dir, timeout=WAIT) as c:
            self.assertLess(c.max_frame, len(text))
            self.assertEqual(c.call("echo", s(text), 120.0), s(text))
            self.assertEqual(c.call("echo", s("after"), WAIT), s("after"))

    def test_fragmented_message_through_the_cli(self):  # FR-FRAG-1
        text = "x" * 100000  # one argument stays below the kernel's 128 KiB limit
        code, out, err = self.run_client(text)
        self.assertEqual((code, out), (0, "sent: %s\nreceived: %s\n" % (text, text)), err)

    def test_cli_message_file_before_the_msgs(self):  # FR-FRAG-1, FR-FRAME-9
        path = os.path.join(self.base, "big.txt")
        text = "".join(chr(0x61 + i % 26) for i in range(1000000)) + "\u00e9\u2713"
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        n = len(text.encode("utf-8"))
        code, out, err = self.run_client("--message-file", path, "after")
        self.assertEqual((code, out), (0, "sent: %d bytes from %s\nreceived: %d bytes, identical\n"
                                          "sent: after\nreceived: after\n" % (n, path, n)), err)

    def test_cli_in_flight_and_repeat_in_message_order(self):  # FR-CALL-1, FR-CALL-3
        msgs = ["m%d" % i for i in range(1, 151)]
        code, out, err = self.run_client("--in-flight", "100", "--repeat", "2", *msgs)
        want = "".join("sent: %s\nreceived: %s\n" % (m, m) for m in msgs for _ in range(2))
        self.assertEqual((code, out), (0, want), err)

    def test_cli_method_fail_reports_the_error_answer(self):  # §10.2, FR-CALL-6
        for in_flight in ("1", "3"):
            code, out, err = self.run_client("--in-flight", in_flight, "--method", "fail",
                                             "oops", "later")
            self.assertEqual((code, out, err),
                             (1, "sent: oops\n",
                              "echo_client: the server answered with error 1000: oops\n"))

    def test_cli_in_flight_and_repeat_zero_are_bad_usage(self):
        for flag in ("--in-flight", "--repeat"):
            code, out, err = self.run_client(flag, "0", "hi")
            self.assertEqual((code, out), (2, ""), err)

    def test_pipelining_many_calls_in_flight(self):  # FR-CALL-1, FR-CALL-3
        with Client.connect(self.dir, timeout=WAIT) as c:
            ids = [c.start("echo", s("m%d" % i)) for i in range(300)]
            self.assertEqual(ids, list(range(1, 301)))
            for i in reversed(range(300)):  # collected in the opposite order
                self.assertEqual(c.result(ids[i], WAIT), s("m%d" % i))

    def test_fail_and_unknown_method_and_bad_body(self):  # §10.2, FR-CALL-6
        with Client.connect(self.dir, timeout=WAIT) as c:
            with self.assertRaises(RemoteError) as e:
                c.call("fail", s("nope"), WAIT)
            self.assertEqual((e.exception.code, e.exception.message), (1000, "nope"))
            with self.assertRaises(RemoteError) as e:
                c.call("nosuch", b"", WAIT)
            self.assertEqual(e.exception.code, M.METHOD_NOT_FOUND)
            with self.assertRaises(RemoteError) as e:
                c.call("echo", b"\x01", WAIT)
            self.assertEqual(e.exception.code, M.BAD_REQUEST)
            self.assertEqual(c.call("echo", s("ok"), WAIT), s("ok"))

    def test_ping(self):  # FR-PING-1
        with Client.connect(self.dir, timeout=WAIT) as c:
            c.ping(WAIT)
            c.ping(WAIT)

    def test_exit_response_then_goodbye(self):  # FR-EXIT-1, FR-BYE-2
        with Client.connect(self.dir, timeout=WAIT) as c:
            c.call("echo", s("a"), WAIT)
            rid = c.start("exit")
            self.assertEqual(c.result(rid, WAIT), b"")
            bye = c.wait_goodbye(WAIT)
            self.assertEqual((bye.code, bye.last_request_id), (M.BYE_SHUTTING_DOWN, rid))
        self.assertEqual(self.finish(self.server)[0], 0)
        self.assert_no_files()

    def test_calls_after_exit_are_shutting_down(self):  # FR-BYE-2 (1)
        raw = RawClient(self.dir)
        self.assertIsInstance(raw.hello(), M.Welcome)
        raw.send(M.Request(1, "exit"), M.Request(2, "echo", s("late")))
        got = [raw.next_message() for _ in range(3)]
        self.assertEqual(got[0], M.Response(1, b""))
        self.assertEqual((type(got[1]), got[1].request, got[1].code),
                         (M.Error, 2, M.SHUTTING_DOWN))
        self.assertEqual((got[2].code, got[2].last_request_id), (M.BYE_SHUTTING_DOWN, 1))
        self.assertIsNone(raw.next_message())  # then EOF
        raw.close()
        self.assertEqual(self.finish(self.server)[0], 0)

    def test_cancel_queued_call(self):  # FR-CANCEL-2
        raw = RawClient(self.dir)
        raw.hello()
        # One atomic write: the server reads all three before it starts any call.
        raw.send(M.Request(1, "echo", s("one")), M.Request(2, "echo", s("two")), M.Cancel(2),
                 M.Cancel(99))
        # Answers come in any order (FR-CALL-3); sort them by Request ID.
        first, second = sorted((raw.next_message(), raw.next_message()), key=lambda m: m.request)
        self.assertEqual(first, M.Response(1, s("one")))
        self.assertEqual((type(second), second.request, second.code), (M.Error, 2, M.CANCELLED))
        raw.send(M.Ping(b"12345678"))
        self.assertEqual(raw.next_message(), M.Pong(b"12345678"))  # nothing else came
        raw.close()

    def test_stray_bytes_do_not_end_the_session(self):  # FR-DEC-4, FR-DEC-6, FR-ERR-1
        with Client.connect(self.dir, timeout=WAIT) as c:
            self.assertEqual(c.call("echo", s("before"), WAIT), s("before"))
            # A stranger writes text into pipe.in (echo hello > pipe.in).
            fd = os.open(os.path.join(self.dir, "pipe.in"), os.O_WRONLY | os.O_NONBLOCK)
            os.write(fd, b"hello\n\xf1\xf0\x00\x05garbage")
            os.close(fd)
            self.assertEqual(c.call("echo", s("after"), WAIT), s("after"))

    def test_stray_incomplete_candidate_abandoned(self):  # FR-DEC-7
        with Client.connect(self.dir, timeout=WAIT) as c:
            # Stray octets that look like the start of a 48-octet frame. Without FR-DEC-7 the
            # next REQUEST (38 octets) would sit inside that candidate, waiting for more.
            fd = os.open(os.path.join(self.dir, "pipe.in"), os.O_WRONLY | os.O_NONBLOCK)
            os.write(fd, b"\xf1\xf0\x00\x30")
            os.close(fd)
            self.assertEqual(c.call("echo", s("after"), WAIT), s("after"))

    def test_foreign_session_frames_discarded(self):  # FR-HS-4
        raw = RawClient(self.dir, session=7)
        raw.hello()
        raw.session = 8
        raw.send(M.Request(1, "exit"))  # not the session's: never acted on
        raw.session = 7
        raw.send(M.Request(1, "echo", s("mine")))
        self.assertEqual(raw.next_message(), M.Response(1, s("mine")))
        raw.close()

    def test_hello_refused(self):  # FR-HS-2
        raw = RawClient(self.dir)
        bye = raw.hello(encoding="raw")
        self.assertEqual(bye.code, M.BYE_ENCODING_UNSUPPORTED)
        raw.close()
        for kw, code in (({"min_version": 2, "max_version": 3}, M.BYE_VERSION_UNSUPPORTED),
                         ({"max_message": 100}, M.BYE_LIMITS_UNACCEPTABLE),
                         ({"options": [(0x01, b"")]}, M.BYE_UNSUPPORTED_OPTION)):
            raw = RawClient(self.dir)
            self.assertEqual(raw.hello(**kw).code, code)
            raw.close()
        with self.assertRaises(SessionRefused):
            Client.connect(self.dir, timeout=WAIT, encoding="raw")

    def test_request_over_max_message(self):  # FR-FRAG-3, FR-FRAG-5
        raw = RawClient(self.dir)
        welcome = raw.hello()
        big = M.Request(1, "echo", bytes(welcome.max_message))
        for f in M.encode(big, raw.session, raw.max_frame):
            raw.send_raw(f)
        err = raw.next_message(timeout=120)
        self.assertEqual((type(err), err.request, err.code), (M.Error, 1, M.MESSAGE_TOO_LARGE))
        raw.send(M.Request(2, "echo", s("fine")))
        self.assertEqual(raw.next_message(), M.Response(2, s("fine")))
        raw.close()

    def test_client_gone_mid_session_then_next_client(self):  # FR-FIFO-14, FR-FIFO-15
        raw = RawClient(self.dir)
        raw.hello()
        raw.send(M.Request(1, "echo", s("x")))
        raw.close()  # vanishes without GOODBYE or reading its answer
        self.assertEqual(self.run_client("next")[0:2], (0, "sent: next\nreceived: next\n"))


class ClientBehaviourTest(FifoTestCase):
    """The client against a scripted server (FR-CALL-3, FR-BYE-4, FR-CALL-5)."""

    def test_out_of_order_answers_matched_by_id(self):  # FR-CALL-3
        def script(srv):
            sid = srv.accept()
            reqs = [srv.next_message()[1] for _ in range(5)]
            for r in reversed(reqs):
                srv.send(sid, M.Response(r.request, r.body + b"!"))
            srv.next_message()  # GOODBYE NO_ERROR

        srv = ScriptedServer(self.dir, script)
        srv.start()
        with Client.connect(self.dir, timeout=WAIT) as c:
            ids = [c.start("echo", b"%d" % i) for i in range(5)]
            self.assertEqual([c.result(i, WAIT) for i in ids],
                             [b"%d!" % i for i in range(5)])
        srv.join_checked(self)

    def test_late_answer_to_cancelled_call_discarded(self):  # FR-CALL-5, FR-CANCEL-1
        def script(srv):
            sid = srv.accept()
            _, first = srv.next_message()
            _, cancel = srv.next_message()
            assert isinstance(cancel, M.Cancel) and cancel.request == first.request, cancel
            srv.send(sid, M.Response(first.request, b"late"))
            _, second = srv.next_message()
            srv.send(sid, M.Response(second.request, b"second"))
            srv.next_message()

        srv = ScriptedServer(self.dir, script)
        srv.start()
        with Client.connect(self.dir, timeout=WAIT) as c:
            rid = c.start("slow")
            with self.assertRaises(CallTimeout):
                c.result(rid, 0.05)
            self.assertEqual(c.call("next", b"", WAIT), b"second")
        srv.join_checked(self)

    def test_server_gone_mid_call(self):  # FR-BYE-4, §9.6
        def script(srv):
            srv.accept()
            srv.next_message()  # the REQUEST; then vanish without answering

        srv = ScriptedServer(self.dir, script)
        srv.start()
        with Client.connect(self.dir, timeout=WAIT) as c:
            with self.assertRaises(ServerGone) as e:
                c.call("echo", s("x"), WAIT)
            self.assertIn("unknown", str(e.exception))
        srv.join_checked(self)

    def test_cli_server_gone_mid_call(self):  # FR-BYE-4
        def script(srv):
            srv.accept()
            srv.next_message()

        srv = ScriptedServer(self.dir, script)
        srv.start()
        code, out, err = self.run_client("x", timeout_ms=int(WAIT * 1000))
        self.assertNotEqual(code, 0)
        self.assertEqual(out, "sent: x\n")
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        srv.join_checked(self)

    def test_no_server_library(self):  # FR-FIFO-10
        os.mkdir(self.dir, 0o700)
        with self.assertRaises(NoServer):
            Client.connect(self.dir, timeout=0.2)
