"""Frames, fragments and payloads: CRC (§4.2), encoder rules (§4), fragmentation (§7), every message
type round-tripped through the receiver (§6)."""

import unittest

from fiforpc import errors as E
from fiforpc import frame as F
from fiforpc import messages as M
from fiforpc.errors import EncodeError
from fiforpc.fragment import encode_message, fragment_sizes
from fiforpc.receiver import ErrorEvent, MessageEvent, Receiver


def receive(data, max_frame=4096, max_message=1 << 24):
    r = Receiver(max_frame, max_message)
    r.push(data)
    out = r.events()
    r.finish()
    return out + r.events()


class FrameTest(unittest.TestCase):
    def test_crc_check_value(self):  # FR-FRAME-12
        self.assertEqual(F.crc32(b"123456789"), 0xCBF43926)

    def test_smallest_frame(self):  # FR-FRAME-2
        data = F.encode_frame(F.RESPONSE, 1, 7)
        self.assertEqual(len(data), 20)
        self.assertEqual(data[:8].hex(), "f1f0001401110010")

    def test_encoder_refuses_zero_session(self):  # FR-FRAME-4
        with self.assertRaises(EncodeError):
            F.encode_frame(F.PING, 0, 0, bytes(8))

    def test_encoder_refuses_frame_over_max(self):  # FR-FRAME-3
        F.encode_frame(F.RESPONSE, 1, 1, bytes(492), max_frame=512)
        with self.assertRaises(EncodeError):
            F.encode_frame(F.RESPONSE, 1, 1, bytes(493), max_frame=512)

    def test_encoder_refuses_extension_area_over_239(self):  # FR-FRAME-5
        F.encode_frame(F.PING, 1, 0, bytes(8), extensions=[(0x8F, bytes(237))])
        with self.assertRaises(EncodeError):
            F.encode_frame(F.PING, 1, 0, bytes(8), extensions=[(0x8F, bytes(238))])

    def test_grease_values(self):  # FR-TYPE-2, §4.4
        self.assertEqual([t for t in range(256) if F.is_grease(t)],
                         [0x8F, 0x9F, 0xAF, 0xBF, 0xCF, 0xDF, 0xEF, 0xFF])


class DrainedTest(unittest.TestCase):
    def test_incomplete_candidate_abandoned_when_drained(self):  # FR-DEC-7
        ping = F.encode_frame(F.PING, 1, 0, bytes(8))
        r = Receiver(4096, 1 << 20)
        r.push(b"\xf1\xf0\x00\x30" + ping[:10])
        self.assertEqual(r.events(), [])
        r.drained()
        self.assertEqual([e.error.name for e in r.events()], [E.TRUNCATED_FRAME])
        r.push(ping[10:])  # scanning from the candidate's second octet finds the PING
        (ev,) = r.events()
        self.assertEqual(ev.message, M.Ping(bytes(8)))
        r.drained()  # nothing incomplete: no event
        self.assertEqual(r.events(), [])


class FragmentTest(unittest.TestCase):
    def test_example_14_5_sizes(self):  # §14.5
        self.assertEqual(fragment_sizes(10008, 4096), [4076, 4076, 1856])
        self.assertEqual(fragment_sizes(0, 512), [0])
        self.assertEqual(fragment_sizes(492, 512), [492])
        self.assertEqual(fragment_sizes(493, 512), [492, 1])

    def test_more_on_all_but_last(self):  # FR-FRAG-1
        frames = encode_message(F.RESPONSE, 3, 9, [b"a" * 1000], 512)
        self.assertEqual([len(f) for f in frames], [512, 512, 36])
        self.assertEqual([f[6] for f in frames], [F.MORE, F.MORE, 0])
        events = receive(b"".join(frames), max_frame=512)
        self.assertEqual(len(events), 1)
        self.assertEqual(events[0].message, M.Response(9, b"a" * 1000))

    def test_boundaries_max_frame_minus_one_and_plus_one(self):  # §13 item 2
        for size, count in ((4075, 1), (4076, 1), (4077, 2)):
            frames = encode_message(F.RESPONSE, 1, 1, [bytes(size)], 4096)
            self.assertEqual(len(frames), count, size)
            (ev,) = receive(b"".join(frames))
            self.assertEqual(len(ev.message.body), size)

    def test_unfragmentable_type_too_long(self):  # FR-FRAME-14
        with self.assertRaises(EncodeError):
            encode_message(F.GOODBYE, 1, 0, [bytes(600)], 512)

    def test_message_too_large_then_last_fragment_callback(self):  # FR-FRAG-3, FR-FRAG-5
        r = Receiver(512, 4096)
        ended = []
        r.reassembler.on_discard_end = lambda key, name: ended.append((key, name))
        frames = encode_message(F.REQUEST, 5, 2, [b"\x04echo", bytes(5000)], 512)
        for f in frames[:-1]:
            r.push(f)
        self.assertEqual([e.error.name for e in r.events()], [E.MESSAGE_TOO_LARGE])
        self.assertEqual(ended, [])
        r.push(frames[-1])
        self.assertEqual(r.events(), [])
        self.assertEqual(ended, [((5, 2, F.REQUEST), E.MESSAGE_TOO_LARGE)])

    def test_drop_session(self):  # FR-BYE-1
        r = Receiver(4096, 1 << 20)
        a = encode_message(F.REQUEST, 1, 1, [b"\x01a", bytes(5000)], 4096)
        b = encode_message(F.REQUEST, 2, 1, [b"\x01b", bytes(5000)], 4096)
        r.push(a[0] + b[0])
        self.assertEqual(r.events(), [])
        r.drop_session(1)
        r.push(a[1] + b[1])
        dropped, ev = r.events()
        # Session 1's last fragment is now a message on its own: its zeros are no valid REQUEST.
        self.assertEqual((dropped.error.name, dropped.error.session), (E.MALFORMED_PAYLOAD, 1))
        self.assertEqual((ev.session, ev.message.method), (2, "b"))


class MessageTest(unittest.TestCase):
    MESSAGES = [
        M.Hello(1, 2, 4096, 1 << 24, 4242, "bincode1", [(0x80, b"x"), (0x01, b"")]),
        M.Welcome(1, 4096, 1 << 24, 1024, 4243, 0x0123456789ABCDEF, "bincode1", [(0x8F, b"")]),
        M.Request(1, "echo", b"\x02" + bytes(7) + b"hi"),
        M.Notify("log", b"line"),
        M.Response(1, b""),
        M.Error(2, 1000, "boom", b"\xde\xad"),
        M.Cancel(3),
        M.Ping(bytes(range(8))),
        M.Pong(bytes(range(8))),
        M.Goodbye(1, 7, "bye"),
    ]

    def test_round_trip_every_type(self):  # §6, FR-TYPE-3
        for msg in self.MESSAGES:
            with self.subTest(type=F.type_name(msg.TYPE)):
                data = b"".join(M.encode(msg, 42, 4096))
                (ev,) = receive(data)
                self.assertIsInstance(ev, MessageEvent)
                self.assertEqual((ev.session, ev.message), (42, msg))
                self.assertIs(type(ev.message), type(msg))

    def test_example_14_1_hello(self):  # §14.1
        data = b"".join(M.encode(M.Hello(1, 1, 4096, 16777216, 4242, "bincode1"), 42, 512))
        self.assertEqual(data[-4:].hex(), "09ea0cc8")
        self.assertEqual(len(data), 41)

    def test_large_request_fragmented_and_reassembled(self):  # FR-FRAG-1
        body = bytes(range(256)) * 4096  # 1 MiB
        frames = M.encode(M.Request(9, "echo", body), 7, 4096)
        self.assertEqual(len(frames), -(-(len(body) + 5) // 4076))
        (ev,) = receive(b"".join(frames))
        self.assertEqual(ev.message, M.Request(9, "echo", body))

    def test_malformed_is_an_error_event(self):  # FR-TYPE-4
        data = F.encode_frame(F.GOODBYE, 1, 0, bytes(7))
        (ev,) = receive(data)
        self.assertIsInstance(ev, ErrorEvent)
        self.assertEqual(ev.error.name, E.MALFORMED_PAYLOAD)

    def test_code_names(self):  # §11.1, §11.2
        self.assertEqual(M.error_code_name(3), "METHOD_NOT_FOUND")
        self.assertEqual(M.error_code_name(500), "INTERNAL")
        self.assertEqual(M.error_code_name(1000), "APPLICATION(1000)")
        self.assertEqual(M.goodbye_code_name(1), "SHUTTING_DOWN")
        self.assertEqual(M.goodbye_code_name(99), "PROTOCOL_ERROR")


if __name__ == "__main__":
    unittest.main()
