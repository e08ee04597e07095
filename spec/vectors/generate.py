#!/usr/bin/env python3
"""Builds the FIFO-RPC/1 test vectors (spec/FRAMING.md §13.1) field by field.

Run from anywhere: ``python3 spec/vectors/generate.py`` rewrites ``valid.json``, ``invalid.json`` and
``streams.json`` next to this script. ``--check`` compares instead of writing (exit 1 on a difference).

Every case states its expected events explicitly, from the rules of the spec; nothing here decodes
bytes. The only computations are the ones a sender performs: lengths, the CRC-32 (``zlib.crc32``,
FR-FRAME-12) and the ``bincode1`` string layout (§10.1). The examples of spec §14 are additionally
compared with the octets printed in the spec.

Standard library only (struct, zlib, json).
"""

import json
import os
import struct
import sys
import zlib

MAGIC = b"\xf1\xf0"

# Types, §6.
HELLO, WELCOME = 0x01, 0x02
REQUEST, RESPONSE, ERROR, NOTIFY, CANCEL = 0x10, 0x11, 0x12, 0x13, 0x14
PING, PONG, GOODBYE = 0x20, 0x21, 0x30
MORE = 0x01

TYPE_NAMES = {
    HELLO: "HELLO", WELCOME: "WELCOME", REQUEST: "REQUEST", RESPONSE: "RESPONSE", ERROR: "ERROR",
    NOTIFY: "NOTIFY", CANCEL: "CANCEL", PING: "PING", PONG: "PONG", GOODBYE: "GOODBYE",
}

DEFAULTS = {"max_frame": 4096, "max_message": 16777216}


# --------------------------------------------------------------------------------------------
# Sender-side building blocks
# --------------------------------------------------------------------------------------------

def crc32(data):
    """CRC-32/ISO-HDLC as zlib computes it (FR-FRAME-12)."""
    return zlib.crc32(data) & 0xFFFFFFFF


def ext(ext_type, value):
    """One header extension: Ext Type (8), Ext Length (8), Value (§4.4)."""
    return {"type": ext_type, "value": value}


def ext_bytes(extensions):
    return b"".join(struct.pack(">BB", e["type"], len(e["value"])) + e["value"] for e in extensions)


class Frame:
    """One frame, built field by field (§4). The override arguments produce invalid frames."""

    def __init__(self, ftype, session, request=0, payload=b"", flags=0, version=1,
                 extensions=(), header_len=None, frame_len=None, crc=None, magic=MAGIC,
                 raw_ext=None):
        self.ftype, self.session, self.request = ftype, session, request
        self.payload, self.flags, self.version = payload, flags, version
        self.extensions = list(extensions)
        ext_area = ext_bytes(self.extensions) if raw_ext is None else raw_ext
        hl = 16 + len(ext_area)
        fl = hl + len(payload) + 4
        # "honest" = every length and the CRC are what a sender computes; then "frames" can
        # describe the octets exactly.
        self.honest = (header_len is None and frame_len is None and crc is None
                       and magic == MAGIC and raw_ext is None)
        hl = hl if header_len is None else header_len
        fl = fl if frame_len is None else frame_len
        body = (magic + struct.pack(">HBBBBII", fl, version, ftype, flags, hl, session, request)
                + ext_area + payload)
        self.crc = crc32(body) if crc is None else crc
        self.octets = body + struct.pack(">I", self.crc)

    def __len__(self):
        return len(self.octets)

    def record(self):
        """The "frames" entry of §13.1."""
        return {
            "version": self.version, "type": self.ftype, "flags": self.flags,
            "session": self.session, "request": self.request,
            "extensions": [{"type": e["type"], "value": e["value"].hex()} for e in self.extensions],
            "payload": self.payload.hex(),
        }


def bstr(text):
    """bincode1 string: u64 little-endian length, then UTF-8 octets (§10.1)."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def options_bytes(options):
    """HELLO/WELCOME options: Option Type (8), Option Length (16), Value (§6.1)."""
    return b"".join(struct.pack(">BH", t, len(v)) + v for t, v in options)


def hello_payload(min_v=1, max_v=1, max_frame=4096, max_message=16777216, pid=4242,
                  encoding=b"bincode1", options=()):
    return (struct.pack(">BBHIIB", min_v, max_v, max_frame, max_message, pid, len(encoding))
            + encoding + options_bytes(options))


def welcome_payload(version=1, reserved=0, max_frame=4096, max_message=16777216, in_flight=1024,
                    pid=4243, instance=0x0123456789ABCDEF, encoding=b"bincode1", options=()):
    return (struct.pack(">BBHIIIQB", version, reserved, max_frame, max_message, in_flight, pid,
                        instance, len(encoding)) + encoding + options_bytes(options))


def call_payload(method, body=b""):
    """REQUEST/NOTIFY: Method Length (8), Method, Body (§6.3)."""
    m = method.encode("utf-8") if isinstance(method, str) else method
    return struct.pack(">B", len(m)) + m + body


def error_payload(code, message, details=b""):
    """ERROR: Code (16), Message Length (16), Message, Details (§6.5)."""
    m = message.encode("utf-8") if isinstance(message, str) else message
    return struct.pack(">HH", code, len(m)) + m + details


def goodbye_payload(code, last_request, message=""):
    """GOODBYE: Code (16), Last Request ID (32), Message Length (16), Message (§6.8)."""
    m = message.encode("utf-8") if isinstance(message, str) else message
    return struct.pack(">HIH", code, last_request, len(m)) + m


def fragments(ftype, session, request, message, sizes, flags_last=0, flags_more=MORE, **kw):
    """Splits `message` into frames whose payloads have the given sizes (FR-FRAG-1)."""
    assert sum(sizes) == len(message), (sum(sizes), len(message))
    out, pos = [], 0
    for i, size in enumerate(sizes):
        last = i == len(sizes) - 1
        out.append(Frame(ftype, session, request, message[pos:pos + size],
                         flags=flags_last if last else flags_more, **kw))
        pos += size
    return out


def no_magic_pair(data):
    """True if `data` holds no F1 F0 pair and does not end in F1: scanning discards all of it."""
    return MAGIC not in data and not data.endswith(b"\xf1")


# --------------------------------------------------------------------------------------------
# Expected events (§13.1)
# --------------------------------------------------------------------------------------------

def err(name):
    return {"error": name}


def ignored(ftype):
    return {"ignored": ftype}


def msg(ftype, session, request=0, **fields):
    m = {"type": TYPE_NAMES[ftype], "session": session, "request": request}
    for key, value in fields.items():
        m[key] = value.hex() if isinstance(value, (bytes, bytearray)) else value
    return {"message": m}


def hello_msg(session, min_v=1, max_v=1, max_frame=4096, max_message=16777216, pid=4242,
              encoding="bincode1", options=()):
    return msg(HELLO, session, 0, min_version=min_v, max_version=max_v, max_frame=max_frame,
               max_message=max_message, client_pid=pid, encoding=encoding,
               options=[{"type": t, "value": v.hex()} for t, v in options])


def welcome_msg(session, version=1, max_frame=4096, max_message=16777216, in_flight=1024,
                pid=4243, instance="0123456789abcdef", encoding="bincode1", options=()):
    return msg(WELCOME, session, 0, version=version, max_frame=max_frame, max_message=max_message,
               max_in_flight=in_flight, server_pid=pid, instance_id=instance, encoding=encoding,
               options=[{"type": t, "value": v.hex()} for t, v in options])


# --------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------

class Suite:
    def __init__(self, description):
        self.description = description
        self.cases = []
        self.ids = set()

    def add(self, cid, requirements, parts, expect, description, encode=None, eof=True,
            max_frame=None, max_message=None):
        """`parts` is a list of Frame objects and raw bytes, concatenated into `hex`.

        "frames" is written when the input is only honest frames. "encode" defaults to true for
        those unless the case says otherwise (frames a conforming sender may not produce).
        """
        assert cid not in self.ids, cid
        self.ids.add(cid)
        octets = b"".join(p.octets if isinstance(p, Frame) else bytes(p) for p in parts)
        case = {"id": cid, "description": description, "requirements": list(requirements)}
        if max_frame is not None:
            case["max_frame"] = max_frame
        if max_message is not None:
            case["max_message"] = max_message
        if not eof:
            case["eof"] = False
        case["hex"] = octets.hex()
        all_frames = all(isinstance(p, Frame) and p.honest for p in parts)
        if all_frames:
            case["frames"] = [p.record() for p in parts]
            case["encode"] = True if encode is None else encode
            limit = max_frame or DEFAULTS["max_frame"]
            if case["encode"]:
                assert all(len(p) <= limit for p in parts), cid
        else:
            assert not encode, cid
        case["expect"] = expect
        self.cases.append(case)

    def dump(self):
        return {"description": self.description, "defaults": dict(DEFAULTS), "cases": self.cases}


def spec_hex(text):
    return bytes.fromhex("".join(text.split()))


def build_valid():
    s = Suite("FIFO-RPC/1 valid frames: every message type, flags, extensions, size limits, "
              "ignorable types and the examples of spec section 14. Each case is one or a few "
              "frames that decode without error.")

    # ---- spec §14 examples, byte for byte -------------------------------------------------
    f = Frame(HELLO, 42, 0, hello_payload())
    assert f.octets == spec_hex("""f1 f0 00 29 01 01 00 10 00 00 00 2a 00 00 00 00 01 01 10 00
        01 00 00 00 00 00 10 92 08 62 69 6e 63 6f 64 65 31 09 ea 0c c8"""), "§14.1"
    s.add("example-14.1-hello", ["FR-FRAME-1", "FR-FRAME-2", "FR-FRAME-12", "FR-HS-1"], [f],
          [hello_msg(42)], "spec 14.1: HELLO, session 42, versions 1..1, max frame 4096, max "
          "message 16 MiB, client pid 4242, encoding bincode1, no options (41 octets)")

    f = Frame(WELCOME, 42, 0, welcome_payload())
    assert f.octets == spec_hex("""f1 f0 00 35 01 02 00 10 00 00 00 2a 00 00 00 00 01 00 10 00
        01 00 00 00 00 00 04 00 00 00 10 93 01 23 45 67 89 ab cd ef 08 62 69 6e 63 6f 64 65 31
        fa 95 e4 b3"""), "§14.2"
    s.add("example-14.2-welcome", ["FR-FRAME-2", "FR-FRAME-12", "FR-HS-2"], [f],
          [welcome_msg(42)], "spec 14.2: WELCOME, 53 octets, instance id 0123456789abcdef")

    hi = bstr("hi")
    assert hi == spec_hex("02 00 00 00 00 00 00 00 68 69"), "§10.1"
    f = Frame(REQUEST, 1, 1, call_payload("echo", hi))
    assert f.octets == spec_hex("""f1 f0 00 23 01 10 00 10 00 00 00 01 00 00 00 01 04 65 63 68
        6f 02 00 00 00 00 00 00 00 68 69 22 6f 51 0e"""), "§14.3 request"
    s.add("example-14.3-request", ["FR-FRAME-2", "FR-TYPE-3", "FR-CALL-1"], [f],
          [msg(REQUEST, 1, 1, method="echo", body=hi)],
          "spec 14.3: REQUEST echo(\"hi\"), session 1, request 1 (35 octets)")

    f = Frame(RESPONSE, 1, 1, hi)
    assert f.octets == spec_hex("""f1 f0 00 1e 01 11 00 10 00 00 00 01 00 00 00 01 02 00 00 00
        00 00 00 00 68 69 dc c8 0a 5e"""), "§14.3 response"
    s.add("example-14.3-response", ["FR-FRAME-2", "FR-TYPE-3", "FR-CALL-2"], [f],
          [msg(RESPONSE, 1, 1, body=hi)], "spec 14.3: RESPONSE \"hi\" to request 1 (30 octets)")

    f = Frame(GOODBYE, 42, 0, goodbye_payload(1, 7))
    assert f.octets == spec_hex("""f1 f0 00 1c 01 30 00 10 00 00 00 2a 00 00 00 00 00 01 00 00
        00 07 00 00 d4 f3 40 fd"""), "§14.4 goodbye"
    s.add("example-14.4-goodbye", ["FR-BYE-2", "FR-TYPE-3"], [f],
          [msg(GOODBYE, 42, 0, code=1, last_request_id=7, message="")],
          "spec 14.4: GOODBYE SHUTTING_DOWN, last request 7, empty message (28 octets)")

    opaque = bytes(range(1, 9))
    f = Frame(PING, 42, 0, opaque)
    assert f.octets == spec_hex("""f1 f0 00 1c 01 20 00 10 00 00 00 2a 00 00 00 00 01 02 03 04
        05 06 07 08 3e 61 31 6a"""), "§14.4 ping"
    s.add("example-14.4-ping", ["FR-PING-1", "FR-TYPE-3"], [f],
          [msg(PING, 42, 0, opaque=opaque)], "spec 14.4: PING with opaque 01..08 (28 octets)")

    # ---- HELLO / WELCOME variants --------------------------------------------------------
    opts = [(0x80, b"abc"), (0x8F, b""), (0x01, b"\x00\x01")]
    f = Frame(HELLO, 7, 0, hello_payload(min_v=1, max_v=3, max_frame=512, max_message=4096,
                                         pid=1, encoding=b"raw", options=opts))
    s.add("hello-with-options", ["FR-HELLO-1", "FR-HS-2"], [f],
          [hello_msg(7, min_v=1, max_v=3, max_frame=512, max_message=4096, pid=1,
                     encoding="raw", options=opts)],
          "HELLO with three options: ignorable 0x80 'abc', GREASE 0x8F empty, critical 0x01 of "
          "2 octets. The receiver reports every option; judging them is the session's job "
          "(FR-HS-2 UNSUPPORTED_OPTION), not the receiver's")

    f = Frame(HELLO, 8, 0, hello_payload(min_v=2, max_v=1, max_frame=100, max_message=10,
                                         pid=0xFFFFFFFF, encoding=b"x" * 32))
    s.add("hello-limits-are-session-level", ["FR-HS-2", "FR-TYPE-4"], [f],
          [hello_msg(8, min_v=2, max_v=1, max_frame=100, max_message=10, pid=0xFFFFFFFF,
                     encoding="x" * 32)],
          "HELLO with an empty version range, Max Frame 100, Max Message 10 and a 32-octet "
          "encoding name is well formed; the server answers it with GOODBYE (FR-HS-2), the "
          "receiver does not reject it")

    wopts = [(0x9F, b"\x00" * 4)]
    f = Frame(WELCOME, 0xDEADBEEF, 0, welcome_payload(max_frame=65535, max_message=0xFFFFFFFF,
                                                       in_flight=1, pid=99, instance=0xFFFFFFFFFFFFFFFF,
                                                       encoding=b"raw", options=wopts))
    s.add("welcome-with-option", ["FR-HELLO-1", "FR-HS-3"], [f],
          [welcome_msg(0xDEADBEEF, max_frame=65535, max_message=0xFFFFFFFF, in_flight=1, pid=99,
                       instance="ffffffffffffffff", encoding="raw", options=wopts)],
          "WELCOME with a GREASE option 0x9F of 4 octets and maximal field values")

    f = Frame(WELCOME, 42, 0, welcome_payload(reserved=0x5A))
    s.add("welcome-reserved-octet-ignored", ["FR-TYPE-4"], [f], [welcome_msg(42)],
          "WELCOME whose Reserved octet is 0x5A: a receiver ignores it (spec 6.2) and does not "
          "report it; encode is false because a sender sets it to 0", encode=False)

    # ---- calls ---------------------------------------------------------------------------
    f = Frame(REQUEST, 1, 2, call_payload("exit"))
    s.add("request-exit-empty-body", ["FR-EXIT-1", "FR-TYPE-3"], [f],
          [msg(REQUEST, 1, 2, method="exit", body=b"")], "REQUEST for exit with an empty body")

    name = "m" * 255
    f = Frame(REQUEST, 3, 0xFFFFFFFF, call_payload(name, b"\x01"))
    s.add("request-method-255-octets", ["FR-TYPE-4", "FR-CALL-1"], [f],
          [msg(REQUEST, 3, 0xFFFFFFFF, method=name, body=b"\x01")],
          "REQUEST with the longest method name (255 octets) and request id 0xFFFFFFFF")

    f = Frame(REQUEST, 3, 4, call_payload("é/日本", b""))
    s.add("request-method-utf8", ["FR-TYPE-4"], [f],
          [msg(REQUEST, 3, 4, method="é/日本", body=b"")],
          "REQUEST whose method is multi-octet UTF-8 (method length counts octets: 9)")

    f = Frame(RESPONSE, 1, 7, b"")
    assert len(f) == 20
    s.add("response-empty-smallest-frame", ["FR-FRAME-2", "FR-TYPE-3"], [f],
          [msg(RESPONSE, 1, 7, body=b"")],
          "the smallest frame: an empty RESPONSE to request 7 is exactly 20 octets")

    f = Frame(ERROR, 1, 5, error_payload(1000, "boom", bytes.fromhex("deadbeef")))
    s.add("error-with-details", ["FR-CALL-2", "FR-TYPE-3"], [f],
          [msg(ERROR, 1, 5, code=1000, message="boom", details=bytes.fromhex("deadbeef"))],
          "ERROR with application code 1000, message 'boom' and 4 octets of details")

    f = Frame(ERROR, 1, 6, error_payload(3, ""))
    s.add("error-empty-message-no-details", ["FR-CALL-6"], [f],
          [msg(ERROR, 1, 6, code=3, message="", details=b"")],
          "ERROR METHOD_NOT_FOUND with an empty message and no details (4-octet payload)")

    f = Frame(NOTIFY, 9, 0, call_payload("log", bstr("started")))
    s.add("notify", ["FR-CALL-7", "FR-TYPE-3"], [f],
          [msg(NOTIFY, 9, 0, method="log", body=bstr("started"))], "NOTIFY log(\"started\")")

    f = Frame(CANCEL, 9, 12)
    s.add("cancel", ["FR-CANCEL-1", "FR-TYPE-3"], [f], [msg(CANCEL, 9, 12)],
          "CANCEL of request 12: empty payload, 20 octets")

    f = Frame(PONG, 9, 0, b"\xff" * 8)
    s.add("pong", ["FR-PING-1"], [f], [msg(PONG, 9, 0, opaque=b"\xff" * 8)],
          "PONG with opaque ff..ff")

    f = Frame(GOODBYE, 9, 0, goodbye_payload(0, 0, "bye"))
    s.add("goodbye-no-error-with-message", ["FR-BYE-1"], [f],
          [msg(GOODBYE, 9, 0, code=0, last_request_id=0, message="bye")],
          "GOODBYE NO_ERROR from a client, last request 0, message 'bye'")

    f = Frame(GOODBYE, 9, 0, goodbye_payload(999, 3, ""))
    s.add("goodbye-unknown-code", ["FR-TYPE-4"], [f],
          [msg(GOODBYE, 9, 0, code=999, last_request_id=3, message="")],
          "GOODBYE with unassigned code 999 is well formed (the session treats it as "
          "PROTOCOL_ERROR, spec 11.2)")

    # ---- flags ---------------------------------------------------------------------------
    f = Frame(PING, 5, 0, opaque, flags=0xFE)
    s.add("reserved-flags-ignored-ping", ["FR-FRAME-13", "FR-FRAME-14"], [f],
          [msg(PING, 5, 0, opaque=opaque)],
          "PING with every reserved flag bit set (0xFE): the bits are ignored and MORE is "
          "clear", encode=False)

    f = Frame(RESPONSE, 5, 1, b"ok", flags=0x80)
    s.add("reserved-flags-ignored-response", ["FR-FRAME-13"], [f],
          [msg(RESPONSE, 5, 1, body=b"ok")],
          "RESPONSE with reserved flag 0x80: ignored, the message is complete", encode=False)

    # ---- size limits ---------------------------------------------------------------------
    body = bytes(i % 251 for i in range(4076))
    f = Frame(RESPONSE, 1, 1, body)
    assert len(f) == 4096
    s.add("largest-frame-4096", ["FR-FRAME-3", "FR-FRAME-8"], [f],
          [msg(RESPONSE, 1, 1, body=body)],
          "a frame of exactly max_frame = 4096 octets (RESPONSE with a 4076-octet body)")

    body = bytes(range(256)) * 2
    f = Frame(RESPONSE, 1, 1, body[:492])
    assert len(f) == 512
    s.add("largest-frame-512", ["FR-FRAME-6", "FR-FRAME-8"], [f],
          [msg(RESPONSE, 1, 1, body=body[:492])],
          "with max_frame 512 a 512-octet frame is accepted", max_frame=512)

    # ---- header extensions ---------------------------------------------------------------
    f = Frame(REQUEST, 1, 1, call_payload("echo", hi), extensions=[ext(0x8F, b"abc")])
    s.add("extension-grease-skipped", ["FR-EXT-1", "FR-EXT-2"], [f],
          [msg(REQUEST, 1, 1, method="echo", body=hi)],
          "REQUEST with GREASE header extension 0x8F of 3 octets: skipped, not part of the "
          "payload")

    f = Frame(PING, 1, 0, opaque, extensions=[ext(0x80, b""), ext(0xFF, b"\x01\x02\x03\x04\x05")])
    s.add("extensions-two-ignorable", ["FR-EXT-1", "FR-EXT-2"], [f],
          [msg(PING, 1, 0, opaque=opaque)],
          "PING with two ignorable extensions (0x80 empty, 0xFF of 5 octets)")

    f = Frame(PING, 1, 0, opaque, extensions=[ext(0x9F, b"\x9f" * 237)])
    assert f.octets[7] == 255
    s.add("extension-area-largest", ["FR-EXT-1", "FR-FRAME-5"], [f],
          [msg(PING, 1, 0, opaque=opaque)],
          "the largest extension area: Header Length 255 (one 0x9F extension of 237 octets)")

    f = Frame(CANCEL, 1, 3, b"", extensions=[ext(0xAF, b"zz")])
    s.add("extension-header-length-is-frame-length-minus-4", ["FR-FRAME-5", "FR-EXT-1"], [f],
          [msg(CANCEL, 1, 3)],
          "CANCEL with an extension and no payload: Header Length = Frame Length - 4")

    # ---- ignorable types -----------------------------------------------------------------
    f = Frame(0x80, 1, 0, b"future")
    s.add("ignorable-type-0x80", ["FR-TYPE-2", "FR-DEC-2"], [f], [ignored(0x80)],
          "a frame of unassigned ignorable type 0x80 is discarded without error")

    f = Frame(0x8F, 1, 5, b"", flags=MORE)
    s.add("grease-type-0x8f-more", ["FR-TYPE-2"], [f], [ignored(0x8F)],
          "GREASE type 0x8F with MORE set and request id 5: ignored whatever its flags and "
          "Request ID")

    f = Frame(0xFF, 0xFFFFFFFF, 0xFFFFFFFF, b"\x00" * 10, extensions=[ext(0xEF, b"")])
    s.add("ignorable-type-0xff", ["FR-TYPE-2"], [f], [ignored(0xFF)],
          "type 0xFF with an extension, session and request 0xFFFFFFFF: ignored")

    return s


def build_invalid():
    s = Suite("FIFO-RPC/1 invalid frames: one case per receiver error of sections 5 and 6, "
              "and the order of the checks. Each case is a single bad frame, sometimes followed "
              "by a good one to show where the receiver carries on.")
    good = Frame(PING, 1, 0, bytes(range(1, 9)))
    good_msg = msg(PING, 1, 0, opaque=bytes(range(1, 9)))
    hi = bstr("hi")

    # ---- step 1: magic -------------------------------------------------------------------
    bad = Frame(PING, 1, 0, bytes(8), magic=b"\xf1\x00")
    assert no_magic_pair(bad.octets[1:])
    s.add("bad-magic-second-octet", ["FR-DEC-2", "FR-DEC-4"], [bad],
          [err("BAD_MAGIC")],
          "magic F1 00: BAD_MAGIC, then scanning discards the rest silently")

    bad = Frame(PING, 1, 0, bytes(8), magic=b"\xf0\xf1")
    assert no_magic_pair(bad.octets[1:])
    s.add("bad-magic-swapped-then-frame", ["FR-DEC-2", "FR-DEC-4"], [bad, good],
          [err("BAD_MAGIC"), good_msg],
          "magic F0 F1: one BAD_MAGIC, scanning finds the next frame")

    s.add("bad-magic-single-octet", ["FR-DEC-2", "FR-DEC-4", "FR-DEC-5"], [b"x"],
          [err("BAD_MAGIC")],
          "a single octet 0x78 then end of stream: step 1 fails as soon as octet 0 is not F1, "
          "so this is BAD_MAGIC, not TRUNCATED_FRAME")

    s.add("lone-f1-at-eof", ["FR-DEC-2", "FR-DEC-5"], [b"\xf1"], [err("TRUNCATED_FRAME")],
          "a single F1 then end of stream: the candidate may still be a frame, so it is a "
          "truncated frame")

    # ---- steps 2-3: length ---------------------------------------------------------------
    bad = Frame(PING, 1, 0, bytes(8), frame_len=19)
    assert no_magic_pair(bad.octets[1:])
    s.add("frame-too-short-19", ["FR-DEC-2", "FR-FRAME-2", "FR-DEC-4"], [bad, good],
          [err("FRAME_TOO_SHORT"), good_msg],
          "Frame Length 19 (< 20): FRAME_TOO_SHORT, scan to the next frame")

    s.add("frame-too-short-zero-early", ["FR-DEC-2"], [b"\xf1\xf0\x00\x00"],
          [err("FRAME_TOO_SHORT")],
          "Frame Length 0 is rejected as soon as octets 2-3 are buffered, without end of "
          "stream", eof=False)

    s.add("frame-too-large-early", ["FR-DEC-2", "FR-FRAME-8"], [b"\xf1\xf0\x10\x01"],
          [err("FRAME_TOO_LARGE")],
          "Frame Length 4097 with max_frame 4096 is rejected from the first four octets, "
          "before the rest arrives and before memory is reserved", eof=False)

    s.add("frame-too-large-ffff", ["FR-DEC-2", "FR-FRAME-8", "FR-DEC-4"],
          [b"\xf1\xf0\xff\xff", good], [err("FRAME_TOO_LARGE"), good_msg],
          "Frame Length 65535: FRAME_TOO_LARGE, then scanning finds the next frame")

    body = bytes(4077)
    big = Frame(RESPONSE, 1, 1, body)
    assert len(big) == 4097 and no_magic_pair(big.octets[1:])
    s.add("frame-too-large-4097", ["FR-DEC-2", "FR-FRAME-3", "FR-FRAME-8", "FR-DEC-4"], [big],
          [err("FRAME_TOO_LARGE")],
          "a complete RESPONSE frame of max_frame + 1 = 4097 octets: FRAME_TOO_LARGE, its "
          "octets are scanned away", encode=False)

    big = Frame(RESPONSE, 1, 1, bytes(493))
    assert len(big) == 513 and no_magic_pair(big.octets[1:])
    s.add("frame-too-large-513-of-512", ["FR-DEC-2", "FR-FRAME-8"], [big, good],
          [err("FRAME_TOO_LARGE"), good_msg],
          "with max_frame 512 a 513-octet frame is rejected, the following frame is accepted",
          max_frame=512, encode=False)

    # ---- step 5: CRC ---------------------------------------------------------------------
    f = Frame(PING, 1, 0, bytes(8))
    bad = Frame(PING, 1, 0, bytes(8), crc=f.crc ^ 1)
    assert no_magic_pair(bad.octets[1:])
    s.add("bad-checksum", ["FR-DEC-2", "FR-FRAME-12", "FR-DEC-4"], [bad, good],
          [err("BAD_CHECKSUM"), good_msg],
          "PING whose CRC has its lowest bit flipped: BAD_CHECKSUM, scan, next frame accepted")

    bad = Frame(PING, 1, 0, bytes(8), crc=struct.unpack("<I", struct.pack(">I", f.crc))[0])
    assert bad.crc != f.crc and no_magic_pair(bad.octets[1:])
    s.add("bad-checksum-little-endian", ["FR-FRAME-12"], [bad], [err("BAD_CHECKSUM")],
          "the right CRC written little-endian instead of big-endian is a BAD_CHECKSUM")

    inner = Frame(PING, 2, 0, b"\x11" * 8)
    shell = Frame(RESPONSE, 1, 1, inner.octets)
    bad = Frame(RESPONSE, 1, 1, inner.octets, crc=shell.crc ^ 0xFFFFFFFF)
    assert no_magic_pair(bad.octets[1:16]) and MAGIC not in bad.octets[-4:]
    assert bad.octets[-4] != 0xF1
    s.add("bad-checksum-scan-finds-embedded-frame", ["FR-DEC-3", "FR-DEC-4"], [bad],
          [err("BAD_CHECKSUM"), msg(PING, 2, 0, opaque=b"\x11" * 8), err("BAD_MAGIC")],
          "a RESPONSE with a bad CRC whose payload is a whole valid PING frame: after "
          "BAD_CHECKSUM the boundary is not trusted, scanning finds the embedded PING; the "
          "outer frame's 4 CRC octets that follow it are a new candidate and fail with BAD_MAGIC")

    bad = Frame(PING, 1, 0, bytes(8), version=2, crc=Frame(PING, 1, 0, bytes(8), version=2).crc ^ 0x100)
    assert no_magic_pair(bad.octets[1:])
    s.add("checksum-checked-before-version", ["FR-DEC-2"], [bad], [err("BAD_CHECKSUM")],
          "version 2 and a bad CRC: the CRC (step 5) is checked before the version (step 6)")

    # ---- step 6: version -----------------------------------------------------------------
    s.add("unsupported-version-2", ["FR-DEC-2", "FR-DEC-3", "FR-FRAME-1"],
          [Frame(PING, 1, 0, bytes(8), version=2), good],
          [err("UNSUPPORTED_VERSION"), good_msg],
          "a well-formed frame of version 2: UNSUPPORTED_VERSION, skip exactly Frame Length "
          "octets, the next frame is accepted", encode=False)

    s.add("unsupported-version-0", ["FR-DEC-2", "FR-DEC-3"], [Frame(PING, 1, 0, bytes(8), version=0)],
          [err("UNSUPPORTED_VERSION")], "version 0: UNSUPPORTED_VERSION", encode=False)

    s.add("skip-does-not-look-inside", ["FR-DEC-3"],
          [Frame(RESPONSE, 1, 1, inner.octets, version=2), good],
          [err("UNSUPPORTED_VERSION"), good_msg],
          "a version-2 frame whose payload is a whole valid PING frame: the CRC vouched for "
          "the boundary, so the receiver skips the whole frame and never sees the embedded "
          "PING", encode=False)

    s.add("version-checked-before-session", ["FR-DEC-2"],
          [Frame(0x00, 0, 0, b"", version=9, header_len=3)],
          [err("UNSUPPORTED_VERSION")],
          "version 9, Header Length 3, type 0x00 and session 0: the version (step 6) is "
          "reported")

    # ---- step 7: header length -----------------------------------------------------------
    s.add("bad-header-length-15", ["FR-DEC-2", "FR-FRAME-5", "FR-DEC-3"],
          [Frame(PING, 1, 0, bytes(8), header_len=15), good],
          [err("BAD_HEADER_LENGTH"), good_msg],
          "Header Length 15 (< 16): BAD_HEADER_LENGTH, skip, next frame accepted")

    s.add("bad-header-length-0", ["FR-DEC-2", "FR-FRAME-5"],
          [Frame(PING, 1, 0, bytes(8), header_len=0)], [err("BAD_HEADER_LENGTH")],
          "Header Length 0: BAD_HEADER_LENGTH")

    s.add("bad-header-length-past-payload", ["FR-DEC-2", "FR-FRAME-5"],
          [Frame(PING, 1, 0, bytes(8), header_len=25), good],
          [err("BAD_HEADER_LENGTH"), good_msg],
          "Frame Length 28 and Header Length 25 (> 28 - 4): BAD_HEADER_LENGTH, skip")

    s.add("header-length-checked-before-extensions", ["FR-DEC-2"],
          [Frame(PING, 1, 0, b"", raw_ext=b"\x01\x09", header_len=23)],
          [err("BAD_HEADER_LENGTH")],
          "Frame Length 22, Header Length 23: reported as BAD_HEADER_LENGTH, not as an "
          "extension error")

    # ---- steps 8-9: extensions -----------------------------------------------------------
    s.add("bad-extension-leftover-octet", ["FR-EXT-1", "FR-DEC-2", "FR-DEC-3"],
          [Frame(PING, 1, 0, bytes(8), raw_ext=b"\x80"), good],
          [err("BAD_EXTENSION"), good_msg],
          "an extension area of one octet (Header Length 17): BAD_EXTENSION, skip")

    s.add("bad-extension-runs-past", ["FR-EXT-1", "FR-DEC-2"],
          [Frame(PING, 1, 0, bytes(8), raw_ext=b"\x80\x05abc")], [err("BAD_EXTENSION")],
          "extension 0x80 declaring 5 octets with only 3 left before Header Length")

    s.add("bad-extension-after-good-one", ["FR-EXT-1"],
          [Frame(PING, 1, 0, bytes(8), raw_ext=b"\x8f\x00\x80")], [err("BAD_EXTENSION")],
          "a well-formed GREASE extension followed by one octet over")

    s.add("unknown-critical-extension-0x01", ["FR-EXT-2", "FR-DEC-2", "FR-DEC-3"],
          [Frame(PING, 1, 0, bytes(8), extensions=[ext(0x01, b"")]), good],
          [err("UNKNOWN_CRITICAL_EXTENSION"), good_msg],
          "critical extension 0x01 (version 1 defines none): rejected, skip", encode=False)

    s.add("unknown-critical-extension-0x7f-after-ignorable", ["FR-EXT-2"],
          [Frame(PING, 1, 0, bytes(8), extensions=[ext(0x80, b"a"), ext(0x7F, b"bc")])],
          [err("UNKNOWN_CRITICAL_EXTENSION")],
          "an ignorable extension then critical 0x7F: rejected", encode=False)

    s.add("extension-form-checked-before-criticality", ["FR-DEC-2"],
          [Frame(PING, 1, 0, bytes(8), raw_ext=b"\x01\x00\x80")], [err("BAD_EXTENSION")],
          "critical extension 0x01 followed by one octet over: step 8 (BAD_EXTENSION) comes "
          "before step 9")

    # ---- step 10: type -------------------------------------------------------------------
    for t in (0x00, 0x03, 0x15, 0x7F):
        s.add("unknown-critical-type-0x%02x" % t, ["FR-TYPE-1", "FR-DEC-2", "FR-DEC-3"],
              [Frame(t, 1, 0, b"?"), good], [err("UNKNOWN_CRITICAL_TYPE"), good_msg],
              "type 0x%02x is critical and unassigned: UNKNOWN_CRITICAL_TYPE, skip" % t,
              encode=False)

    s.add("type-checked-before-session", ["FR-DEC-2"], [Frame(0x40, 0, 0)],
          [err("UNKNOWN_CRITICAL_TYPE")],
          "type 0x40 with session 0: step 10 is reported before step 11", encode=False)

    # ---- step 11: session ----------------------------------------------------------------
    s.add("zero-session", ["FR-FRAME-4", "FR-DEC-2", "FR-DEC-3"],
          [Frame(PING, 0, 0, bytes(8)), good], [err("ZERO_SESSION"), good_msg],
          "PING with Session ID 0: ZERO_SESSION, skip", encode=False)

    s.add("zero-session-ignorable-type", ["FR-DEC-2", "FR-TYPE-2"], [Frame(0x8F, 0, 0)],
          [err("ZERO_SESSION")],
          "an ignorable type with session 0 is still ZERO_SESSION: every check of section 5 "
          "comes before the type is ignored", encode=False)

    # ---- request ids (FR-TYPE-3) ---------------------------------------------------------
    zero_req = [(REQUEST, call_payload("echo", hi)), (RESPONSE, b""), (ERROR, error_payload(1, "")),
                (CANCEL, b"")]
    for t, p in zero_req:
        s.add("bad-request-id-%s-zero" % TYPE_NAMES[t].lower(), ["FR-TYPE-3"],
              [Frame(t, 1, 0, p), good], [err("BAD_REQUEST_ID"), good_msg],
              "%s with Request ID 0: BAD_REQUEST_ID, the next frame is accepted" % TYPE_NAMES[t],
              encode=False)
    nonzero_req = [(HELLO, hello_payload()), (WELCOME, welcome_payload()), (NOTIFY, call_payload("n")),
                   (PING, bytes(8)), (PONG, bytes(8)), (GOODBYE, goodbye_payload(0, 0))]
    for t, p in nonzero_req:
        s.add("bad-request-id-%s-nonzero" % TYPE_NAMES[t].lower(), ["FR-TYPE-3"],
              [Frame(t, 1, 3, p)], [err("BAD_REQUEST_ID")],
              "%s with Request ID 3: BAD_REQUEST_ID" % TYPE_NAMES[t], encode=False)

    s.add("bad-request-id-before-unexpected-fragment", ["FR-TYPE-3", "FR-FRAME-14"],
          [Frame(CANCEL, 1, 0, b"", flags=MORE)], [err("BAD_REQUEST_ID")],
          "CANCEL with Request ID 0 and MORE: the Request ID is checked first", encode=False)

    # ---- MORE on a non-fragmentable type (FR-FRAME-14) -----------------------------------
    for t, r, p in [(HELLO, 0, hello_payload()), (WELCOME, 0, welcome_payload()), (CANCEL, 4, b""),
                    (PING, 0, bytes(8)), (PONG, 0, bytes(8)), (GOODBYE, 0, goodbye_payload(0, 0))]:
        s.add("unexpected-fragment-%s" % TYPE_NAMES[t].lower(), ["FR-FRAME-14"],
              [Frame(t, 1, r, p, flags=MORE), good], [err("UNEXPECTED_FRAGMENT"), good_msg],
              "%s with MORE set: UNEXPECTED_FRAGMENT" % TYPE_NAMES[t], encode=False)

    s.add("unexpected-fragment-before-payload-check", ["FR-FRAME-14", "FR-TYPE-4"],
          [Frame(PING, 1, 0, bytes(7), flags=MORE)], [err("UNEXPECTED_FRAGMENT")],
          "PING of 7 octets with MORE: the flag is checked before the payload", encode=False)

    # ---- payloads (FR-TYPE-4) -----------------------------------------------------------
    mal = [
        ("hello-too-short", HELLO, 0, hello_payload()[:12],
         "HELLO payload of 12 octets, shorter than the 13 fixed octets"),
        ("hello-empty", HELLO, 0, b"", "HELLO with an empty payload"),
        ("hello-encoding-runs-past", HELLO, 0, hello_payload()[:-1],
         "HELLO whose Encoding Length 8 runs one octet past the payload"),
        ("hello-encoding-empty", HELLO, 0, hello_payload(encoding=b""),
         "HELLO with Encoding Length 0 (must be 1..=32)"),
        ("hello-encoding-33", HELLO, 0, hello_payload(encoding=b"e" * 33),
         "HELLO with Encoding Length 33 (must be 1..=32)"),
        ("hello-encoding-not-ascii", HELLO, 0, hello_payload(encoding="bïncode".encode()),
         "HELLO whose encoding name is not ASCII"),
        ("hello-option-leftover-octet", HELLO, 0, hello_payload() + b"\x80",
         "HELLO with one octet after the encoding: the options do not fill the payload"),
        ("hello-option-header-cut", HELLO, 0, hello_payload() + b"\x80\x00",
         "HELLO with an option cut inside its 3-octet header"),
        ("hello-option-runs-past", HELLO, 0, hello_payload() + b"\x80\x00\x04abc",
         "HELLO option declaring 4 octets with 3 left"),
        ("welcome-too-short", WELCOME, 0, welcome_payload()[:24],
         "WELCOME payload of 24 octets, shorter than the 25 fixed octets"),
        ("welcome-option-leftover", WELCOME, 0, welcome_payload() + b"\x8f\x00\x00\x00",
         "WELCOME with an empty option 0x8F then one octet over"),
        ("request-empty-payload", REQUEST, 1, b"",
         "REQUEST with an empty payload (no Method Length)"),
        ("request-empty-method", REQUEST, 1, b"\x00" + hi,
         "REQUEST with Method Length 0 (empty method name)"),
        ("request-method-runs-past", REQUEST, 1, b"\x05echo",
         "REQUEST whose Method Length 5 runs past the payload"),
        ("request-method-invalid-utf8", REQUEST, 1, b"\x02\xff\xfe" + hi,
         "REQUEST whose method octets ff fe are not UTF-8"),
        ("request-method-surrogate", REQUEST, 1, b"\x03\xed\xa0\x80",
         "REQUEST whose method is an encoded UTF-16 surrogate (ed a0 80), invalid UTF-8"),
        ("notify-empty-method", NOTIFY, 0, b"\x00",
         "NOTIFY with Method Length 0"),
        ("error-too-short", ERROR, 1, b"\x00\x01\x00",
         "ERROR payload of 3 octets (Code and Message Length need 4)"),
        ("error-message-runs-past", ERROR, 1, b"\x00\x01\x00\x09boom",
         "ERROR whose Message Length 9 runs past the payload"),
        ("error-message-invalid-utf8", ERROR, 1, error_payload(1000, b"\xc3\x28"),
         "ERROR whose message c3 28 is not UTF-8"),
        ("cancel-with-payload", CANCEL, 1, b"\x00",
         "CANCEL with a one-octet payload (must be empty)"),
        ("ping-7-octets", PING, 0, bytes(7), "PING with 7 octets of opaque"),
        ("ping-9-octets", PING, 0, bytes(9), "PING with 9 octets"),
        ("pong-empty", PONG, 0, b"", "PONG with an empty payload"),
        ("goodbye-trailing-octet", GOODBYE, 0, goodbye_payload(0, 0, "bye") + b"!",
         "GOODBYE with one octet after its message"),
        ("goodbye-too-short", GOODBYE, 0, goodbye_payload(0, 0)[:7],
         "GOODBYE payload of 7 octets (needs 8)"),
        ("goodbye-message-runs-past", GOODBYE, 0, goodbye_payload(0, 0)[:6] + b"\x00\x04bye",
         "GOODBYE whose Message Length 4 runs past the payload"),
        ("goodbye-message-invalid-utf8", GOODBYE, 0, goodbye_payload(2, 0, b"\x80"),
         "GOODBYE whose message is a lone continuation octet"),
    ]
    for name, t, r, p, desc in mal:
        s.add("malformed-" + name, ["FR-TYPE-4"] + (["FR-HELLO-1"] if "option" in name else []),
              [Frame(t, 1, r, p), good], [err("MALFORMED_PAYLOAD"), good_msg],
              desc + ": MALFORMED_PAYLOAD, the next frame is accepted")
    return s


def build_streams():
    s = Suite("FIFO-RPC/1 byte streams: several frames per read, stray bytes and "
              "resynchronisation, fragmentation and reassembly, Max Message, end of stream.")
    opaque = bytes(range(1, 9))
    ping = Frame(PING, 1, 0, opaque)
    ping_msg = msg(PING, 1, 0, opaque=opaque)
    pong = Frame(PONG, 1, 0, opaque)
    pong_msg = msg(PONG, 1, 0, opaque=opaque)
    hi = bstr("hi")

    # ---- several frames in one read ------------------------------------------------------
    a = Frame(REQUEST, 1, 1, call_payload("echo", hi))
    b = Frame(NOTIFY, 1, 0, call_payload("tick"))
    s.add("two-frames-one-read", ["FR-DEC-1", "FR-FRAME-9"], [a, b],
          [msg(REQUEST, 1, 1, method="echo", body=hi), msg(NOTIFY, 1, 0, method="tick", body=b"")],
          "a REQUEST and a NOTIFY back to back")

    conv = [Frame(HELLO, 42, 0, hello_payload()), Frame(WELCOME, 42, 0, welcome_payload()),
            Frame(REQUEST, 42, 1, call_payload("echo", hi)), Frame(RESPONSE, 42, 1, hi),
            Frame(PING, 42, 0, opaque), Frame(PONG, 42, 0, opaque),
            Frame(REQUEST, 42, 2, call_payload("exit")), Frame(RESPONSE, 42, 2, b""),
            Frame(GOODBYE, 42, 0, goodbye_payload(1, 2))]
    s.add("conversation-transcript", ["FR-HS-1", "FR-HS-2", "FR-PING-1", "FR-EXIT-1", "FR-BYE-2"],
          conv,
          [hello_msg(42), welcome_msg(42), msg(REQUEST, 42, 1, method="echo", body=hi),
           msg(RESPONSE, 42, 1, body=hi), msg(PING, 42, 0, opaque=opaque),
           msg(PONG, 42, 0, opaque=opaque), msg(REQUEST, 42, 2, method="exit", body=b""),
           msg(RESPONSE, 42, 2, body=b""), msg(GOODBYE, 42, 0, code=1, last_request_id=2, message="")],
          "both directions of a whole session in one stream: handshake, echo, ping, exit, "
          "GOODBYE SHUTTING_DOWN with last request 2")

    # ---- stray bytes and resynchronisation -----------------------------------------------
    s.add("stray-text-before-frame", ["FR-DEC-4", "FR-DEC-6"], [b"hello\n", ping],
          [err("BAD_MAGIC"), ping_msg],
          "\"hello\\n\" written by mistake, then a frame: BAD_MAGIC once, the frame is found")

    s.add("stray-text-between-frames", ["FR-DEC-4", "FR-ERR-1"], [ping, b"echo hello > pipe.in\n", pong],
          [ping_msg, err("BAD_MAGIC"), pong_msg], "text between two frames")

    s.add("stray-f1-before-frame", ["FR-DEC-4"], [b"\xf1", ping], [err("BAD_MAGIC"), ping_msg],
          "one F1 octet before a frame: F1 F1 fails step 1, the first octet is discarded, the "
          "buffer then starts with F1 F0")

    s.add("scan-f1-split-at-eof", ["FR-DEC-4", "FR-DEC-5"], [b"zz\xf1"], [err("BAD_MAGIC")],
          "stray octets ending in F1 then end of stream: the scanner waits on the F1, and octets "
          "held while scanning are discarded silently")

    s.add("false-candidate-too-short", ["FR-DEC-4"], [b"zz\xf1\xf0\x00\x05", ping],
          [err("BAD_MAGIC"), err("FRAME_TOO_SHORT"), ping_msg],
          "stray octets containing F1 F0 00 05: the false candidate is reported "
          "(FRAME_TOO_SHORT), scanning resumes and finds the frame")

    cand = b"\xf1\xf0\x00\x30"
    tail = ping.octets + pong.octets
    false_len = 0x30
    covered = cand + tail[:false_len - len(cand)]
    assert crc32(covered[:-4]) != struct.unpack(">I", covered[-4:])[0]
    s.add("false-candidate-swallows-frames", ["FR-DEC-4", "FR-DEC-2"], [b"zz" + cand, ping, pong],
          [err("BAD_MAGIC"), err("BAD_CHECKSUM"), ping_msg, pong_msg],
          "stray octets ending in F1 F0 00 30: the receiver waits for 48 octets, which cover the "
          "following PING and part of the PONG; the CRC fails and scanning from the candidate's "
          "second octet finds both real frames")

    bad = Frame(REQUEST, 1, 1, call_payload("echo", hi), crc=0)
    assert no_magic_pair(bad.octets[1:])
    s.add("bad-frame-between-good-ones", ["FR-DEC-4", "FR-DEC-6", "FR-ERR-1"], [ping, bad, pong],
          [ping_msg, err("BAD_CHECKSUM"), pong_msg],
          "a REQUEST with CRC 0 between two good frames is not acted on")

    # ---- end of stream -------------------------------------------------------------------
    s.add("partial-frame-no-eof", ["FR-DEC-1", "FR-DEC-2"], [ping.octets[:27]], [],
          "27 of 28 octets and no end of stream: no event yet", eof=False)

    s.add("frame-then-partial-no-eof", ["FR-DEC-1"], [ping, pong.octets[:10]], [ping_msg],
          "a whole frame and the start of the next, no end of stream", eof=False)

    s.add("truncated-frame-at-eof", ["FR-DEC-5"], [ping.octets[:27]], [err("TRUNCATED_FRAME")],
          "27 of 28 octets then end of stream: TRUNCATED_FRAME")

    s.add("truncated-frame-after-frame", ["FR-DEC-5"], [ping, b"\xf1\xf0\x00"],
          [ping_msg, err("TRUNCATED_FRAME")],
          "a frame, then F1 F0 00 and end of stream")

    s.add("truncated-after-scan", ["FR-DEC-4", "FR-DEC-5"], [b"junk", ping.octets[:5]],
          [err("BAD_MAGIC"), err("TRUNCATED_FRAME")],
          "stray octets, then the first 5 octets of a frame: scanning ends at F1 F0, so the "
          "stream ends inside a candidate frame")

    s.add("empty-stream", ["FR-DEC-5"], [], [], "no octets at all, then end of stream: no event")

    # ---- fragmentation and reassembly ----------------------------------------------------
    message = call_payload("echo", bstr("fragmented hello"))
    fr = fragments(REQUEST, 1, 3, message, [3, 10, len(message) - 13])
    s.add("fragments-three", ["FR-FRAG-1", "FR-FRAG-2"], fr,
          [msg(REQUEST, 1, 3, method="echo", body=bstr("fragmented hello"))],
          "a REQUEST in 3 fragments; the method name itself is split across the first two")

    body = bstr("a" * 10000)
    assert len(body) == 10008
    fr = fragments(RESPONSE, 1, 1, body, [4076, 4076, 1856])
    assert [len(x) for x in fr] == [4096, 4096, 1876]
    s.add("example-14.5-fragmentation", ["FR-FRAG-1", "FR-FRAME-7"], fr,
          [msg(RESPONSE, 1, 1, body=body)],
          "spec 14.5: a RESPONSE of a 10 000-octet bincode1 string (10 008 octets) in frames of "
          "4076 (MORE), 4076 (MORE) and 1856 payload octets")

    message = call_payload("upload", bytes(range(256)) * 4)
    fr = fragments(REQUEST, 2, 9, message, [492, 492, len(message) - 984])
    s.add("fragments-max-frame-512", ["FR-FRAG-1", "FR-FRAME-7"], fr,
          [msg(REQUEST, 2, 9, method="upload", body=bytes(range(256)) * 4)],
          "with max_frame 512: a 1031-octet REQUEST in frames of 512, 512 and 67 octets",
          max_frame=512)

    message = call_payload("echo", hi)
    fr = [Frame(REQUEST, 1, 4, b"", flags=MORE, extensions=[ext(0x8F, b"x")]),
          Frame(REQUEST, 1, 4, message[:6], flags=MORE),
          Frame(REQUEST, 1, 4, b"", flags=MORE),
          Frame(REQUEST, 1, 4, message[6:], extensions=[ext(0x9F, b"yz")])]
    s.add("fragments-empty-and-extensions", ["FR-FRAG-1", "FR-EXT-1"], fr,
          [msg(REQUEST, 1, 4, method="echo", body=hi)],
          "empty fragments are allowed, and extensions on fragments are not part of the "
          "reassembled message")

    fr = [Frame(RESPONSE, 1, 2, b"ab", flags=0x81), Frame(RESPONSE, 1, 2, b"cd", flags=0x80)]
    s.add("fragments-reserved-flags", ["FR-FRAME-13", "FR-FRAG-1"], fr,
          [msg(RESPONSE, 1, 2, body=b"abcd")],
          "MORE with a reserved bit (0x81), then a last fragment with only a reserved bit (0x80)",
          encode=False)

    s1 = fragments(REQUEST, 1, 1, call_payload("a", b"11"), [2, 2])
    s2 = fragments(REQUEST, 2, 1, call_payload("b", b"22"), [3, 1])
    s.add("interleaved-sessions", ["FR-FRAG-2"], [s1[0], s2[0], s1[1], s2[1]],
          [msg(REQUEST, 1, 1, method="a", body=b"11"), msg(REQUEST, 2, 1, method="b", body=b"22")],
          "fragments of two sessions with the same Request ID, interleaved: reassembled "
          "independently (key includes the Session ID)")

    r1 = fragments(RESPONSE, 1, 1, b"first", [2, 2, 1])
    r2 = fragments(RESPONSE, 1, 2, b"second", [3, 3])
    s.add("interleaved-requests-out-of-order", ["FR-FRAG-2", "FR-CALL-3"],
          [r1[0], r2[0], r1[1], r2[1], r1[2]],
          [msg(RESPONSE, 1, 2, body=b"second"), msg(RESPONSE, 1, 1, body=b"first")],
          "fragments of two responses of one session interleaved; request 2 completes first and "
          "is delivered first")

    rp = fragments(RESPONSE, 1, 3, b"partial", [3, 4])
    s.add("reassembly-keyed-by-type", ["FR-FRAG-2"],
          [rp[0], Frame(ERROR, 1, 3, error_payload(5, "x")), rp[1]],
          [msg(ERROR, 1, 3, code=5, message="x", details=b""), msg(RESPONSE, 1, 3, body=b"partial")],
          "an ERROR with the same Request ID arrives between two RESPONSE fragments: a "
          "different Type is a different message")

    nt = fragments(NOTIFY, 1, 0, call_payload("log", b"line"), [4, 4])
    rq = Frame(REQUEST, 1, 6, call_payload("echo", hi))
    s.add("notify-fragments-around-request", ["FR-FRAG-2", "FR-CALL-7"], [nt[0], rq, nt[1]],
          [msg(REQUEST, 1, 6, method="echo", body=hi), msg(NOTIFY, 1, 0, method="log", body=b"line")],
          "a fragmented NOTIFY with a whole REQUEST between its fragments")

    rq = fragments(REQUEST, 1, 8, call_payload("echo", hi), [5, 10])
    bad = Frame(REQUEST, 1, 8, b"zzzz", flags=MORE, crc=1)
    assert no_magic_pair(bad.octets[1:])
    s.add("bad-frames-between-fragments", ["FR-DEC-6", "FR-FRAG-1", "FR-TYPE-3"],
          [rq[0], bad, Frame(REQUEST, 1, 0, b"q", flags=MORE), Frame(0x9F, 1, 8, b"", flags=MORE),
           rq[1]],
          [err("BAD_CHECKSUM"), err("BAD_REQUEST_ID"), ignored(0x9F),
           msg(REQUEST, 1, 8, method="echo", body=hi)],
          "between two fragments: a fragment with a bad CRC, a REQUEST fragment with Request ID "
          "0 and a GREASE frame; none of them joins the message")

    fr = fragments(REQUEST, 1, 5, b"\x00" + hi, [1, len(hi)])
    s.add("fragments-malformed-after-reassembly", ["FR-TYPE-4", "FR-FRAG-1"],
          fr + [Frame(RESPONSE, 1, 5, b"")],
          [err("MALFORMED_PAYLOAD"), msg(RESPONSE, 1, 5, body=b"")],
          "a REQUEST in two fragments with an empty method: the payload is checked once the "
          "message is complete, so MALFORMED_PAYLOAD comes with the last fragment")

    # ---- Max Message (FR-FRAG-3) ---------------------------------------------------------
    exact = bytes(i % 7 for i in range(4096))
    fr = fragments(RESPONSE, 1, 1, exact, [4076, 20])
    s.add("message-exactly-max-message", ["FR-FRAG-3"], fr, [msg(RESPONSE, 1, 1, body=exact)],
          "with max_message 4096 a message of exactly 4096 octets is accepted",
          max_message=4096)

    over = bytes(4076 + 100 + 10)
    fr = fragments(RESPONSE, 1, 1, over, [4076, 100, 10, 0])
    after = Frame(RESPONSE, 1, 2, b"next")
    again = Frame(RESPONSE, 1, 1, b"again")
    s.add("message-too-large-discard", ["FR-FRAG-3", "FR-FRAG-5", "FR-ERR-1"],
          fr[:2] + [after] + fr[2:] + [again],
          [err("MESSAGE_TOO_LARGE"), msg(RESPONSE, 1, 2, body=b"next"),
           msg(RESPONSE, 1, 1, body=b"again")],
          "with max_message 4096: fragments of 4076 and 100 octets pass the limit, "
          "MESSAGE_TOO_LARGE is reported once; the fragments of 10 and 0 octets (the last) are "
          "discarded silently; another message in between and a new message with the same key "
          "afterwards are delivered", max_message=4096)

    fr = fragments(RESPONSE, 1, 1, bytes(4097), [4076, 21])
    s.add("message-too-large-on-last-fragment", ["FR-FRAG-3"], fr + [Frame(RESPONSE, 1, 1, b"ok")],
          [err("MESSAGE_TOO_LARGE"), msg(RESPONSE, 1, 1, body=b"ok")],
          "with max_message 4096: the last fragment takes the message to 4097 octets; nothing "
          "is left to discard, the next message with the same key is delivered",
          max_message=4096)

    body = bytes(5000)
    big = Frame(RESPONSE, 1, 1, body)
    assert len(big) == 5020
    s.add("message-too-large-single-frame", ["FR-FRAG-3"], [big, Frame(RESPONSE, 1, 2, b"ok")],
          [err("MESSAGE_TOO_LARGE"), msg(RESPONSE, 1, 2, body=b"ok")],
          "with max_frame 5120 (PIPE_BUF on illumos) and max_message 4096: a RESPONSE of 5000 "
          "octets in one frame is a message over Max Message too", max_frame=5120,
          max_message=4096)

    opts = [(0x80, bytes(4980))]
    hello = Frame(HELLO, 1, 0, hello_payload(options=opts))
    assert 4096 < len(hello) <= 5120
    s.add("max-message-does-not-bound-unfragmentable", ["FR-FRAG-3", "FR-FRAME-8"], [hello],
          [hello_msg(1, options=opts)],
          "with max_frame 5120 and max_message 4096: a HELLO of %d octets is accepted; Max "
          "Message bounds the fragmentable types only, MaxFrame bounds the others" % len(hello),
          max_frame=5120, max_message=4096)

    fr = fragments(REQUEST, 1, 1, bytes(4200), [4076, 100, 24])
    s.add("message-too-large-then-eof", ["FR-FRAG-3", "FR-FRAG-6"], fr[:2],
          [err("MESSAGE_TOO_LARGE")],
          "with max_message 4096: MESSAGE_TOO_LARGE, then the stream ends while the rest is "
          "being discarded; the message was already reported and freed, so no "
          "TRUNCATED_MESSAGE follows", max_message=4096)

    # ---- end of stream with partial messages (FR-FRAG-6) --------------------------------
    fr = fragments(REQUEST, 1, 1, call_payload("echo", hi), [6, 9])
    s.add("truncated-message-at-eof", ["FR-FRAG-6"], fr[:1], [err("TRUNCATED_MESSAGE")],
          "the first fragment of a REQUEST then end of stream: TRUNCATED_MESSAGE")

    s.add("partial-message-no-eof", ["FR-FRAG-6", "FR-DEC-1"], fr[:1], [],
          "the first fragment of a REQUEST without end of stream: no event", eof=False)

    r1 = fragments(RESPONSE, 1, 2, b"abcd", [2, 2])
    r2 = fragments(RESPONSE, 1, 1, b"wxyz", [2, 2])
    r3 = fragments(RESPONSE, 1, 3, b"done", [2, 2])
    s.add("truncated-messages-two", ["FR-FRAG-6"], [r1[0], r3[0], r2[0], r3[1]],
          [msg(RESPONSE, 1, 3, body=b"done"), err("TRUNCATED_MESSAGE"), err("TRUNCATED_MESSAGE")],
          "three messages started, one completed, then end of stream: one TRUNCATED_MESSAGE per "
          "unfinished message")

    s.add("truncated-frame-then-message", ["FR-DEC-5", "FR-FRAG-6"],
          [r1[0], r1[1].octets[:12]], [err("TRUNCATED_FRAME"), err("TRUNCATED_MESSAGE")],
          "the first fragment, then the last fragment cut after 12 octets, then end of stream: "
          "TRUNCATED_FRAME first, then TRUNCATED_MESSAGE")

    return s


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    check = "--check" in argv
    total, ok = 0, True
    for name, build in (("valid.json", build_valid), ("invalid.json", build_invalid),
                        ("streams.json", build_streams)):
        suite = build()
        total += len(suite.cases)
        text = json.dumps(suite.dump(), indent=1, ensure_ascii=False) + "\n"
        path = os.path.join(here, name)
        if check:
            with open(path, encoding="utf-8") as f:
                if f.read() != text:
                    print("%s differs from the generator" % name, file=sys.stderr)
                    ok = False
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        print("%s: %d cases" % (name, len(suite.cases)))
    print("total: %d cases" % total)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
