"""Frames a conforming encoder never writes, built field by field (spec §4, §5).

The harness writes these into a live session to check that a peer rejects each one at the right
step of FR-DEC-2 and never acts on it (FR-DEC-6). Every bad frame here is a *mutation* of a good
one of the current session, so that the only thing wrong with it is the field under test: had the
peer accepted it, it would have run a call or ended the session, which the harness would see.
"""

import json
import os
import struct
import zlib

from fiforpc import bincode1 as B
from fiforpc import frame as F
from fiforpc import messages as M

VECTORS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "vectors")


def s(text):
    """A bincode1 string body (§10.1): the argument and result of echo and fail."""
    return B.encode(B.STRING, text)


def load_vectors(name):
    """One file of spec/vectors/ (§13.1)."""
    with open(os.path.join(VECTORS, name)) as f:
        return json.load(f)

_HEADER = struct.Struct(">2sHBBBBII")


def raw_frame(frame_type, session, request, payload, flags=0, version=F.VERSION,
              extensions=b"", header_len=None, frame_len=None, magic=F.MAGIC, crc=None):
    """One frame with every field given explicitly; Header Length, Frame Length and the CRC are
    computed by the rules of §4 unless given (then they may be wrong on purpose)."""
    hl = F.HEADER_LEN + len(extensions) if header_len is None else header_len
    fl = F.HEADER_LEN + len(extensions) + len(payload) + 4 if frame_len is None else frame_len
    body = _HEADER.pack(magic, fl, version, frame_type, flags, hl, session, request)
    body += bytes(extensions) + bytes(payload)
    check = zlib.crc32(body) & 0xFFFFFFFF if crc is None else crc
    return body + struct.pack(">I", check)


def call_payload(method, body, method_bytes=None):
    raw = method.encode("utf-8") if method_bytes is None else method_bytes
    return struct.pack(">B", len(raw)) + raw + bytes(body)


def bad_request_frames(session, request, payload_for):
    """``(case, requirement, octets)``: one REQUEST frame of ``session`` per receiver check.

    ``payload_for(case)`` gives the REQUEST payload of a call whose execution would be visible
    (the harness uses ``fail`` with a message naming the case). None of these frames may run it.
    """
    R = F.REQUEST

    def good(case):
        return raw_frame(R, session, request, payload_for(case))

    def mutated(case, **kw):
        return raw_frame(kw.pop("frame_type", R), kw.pop("session", session),
                         kw.pop("request", request), payload_for(case), **kw)

    def header_past_payload(case):
        return mutated(case, header_len=16 + len(payload_for(case)) + 1)

    cases = [
        ("bad-magic", "FR-DEC-2", lambda c: b"\xf1\xf1" + good(c)[2:]),
        ("frame-too-short", "FR-DEC-2",
         lambda c: good(c)[:2] + struct.pack(">H", 19) + good(c)[4:]),
        ("frame-too-large", "FR-FRAME-8", lambda c: good(c)[:2] + b"\xff\xff" + good(c)[4:]),
        ("bad-checksum", "FR-FRAME-12", lambda c: good(c)[:-1] + bytes([good(c)[-1] ^ 0x01])),
        ("crc-little-endian", "FR-FRAME-12", lambda c: good(c)[:-4] + good(c)[-4:][::-1]),
        ("version-2", "FR-FRAME-1", lambda c: mutated(c, version=2)),
        ("version-0", "FR-FRAME-1", lambda c: mutated(c, version=0)),
        ("header-length-15", "FR-FRAME-5", lambda c: mutated(c, header_len=15)),
        ("header-length-past-payload", "FR-FRAME-5", header_past_payload),
        ("extension-leftover-octet", "FR-EXT-1", lambda c: mutated(c, extensions=b"\x8f")),
        ("extension-runs-past", "FR-EXT-1", lambda c: mutated(c, extensions=b"\x8f\x05\x00")),
        ("critical-extension", "FR-EXT-2", lambda c: mutated(c, extensions=b"\x01\x00")),
        ("critical-type-0x15", "FR-TYPE-1", lambda c: mutated(c, frame_type=0x15)),
        ("critical-type-0x7f", "FR-TYPE-1", lambda c: mutated(c, frame_type=0x7F)),
        ("zero-session", "FR-FRAME-4", lambda c: mutated(c, session=0)),
        ("request-id-zero", "FR-TYPE-3", lambda c: mutated(c, request=0)),
        ("ignorable-type-0x8f", "FR-TYPE-2", lambda c: mutated(c, frame_type=0x8F)),
        ("ignorable-type-0xc0-more", "FR-TYPE-2",
         lambda c: mutated(c, frame_type=0xC0, flags=F.MORE)),
    ]
    return [(case, req, build(case)) for case, req, build in cases]


def accepted_request_frames(session, first_request, method, body):
    """``(case, requirement, request_id, octets)``: REQUEST frames that look unusual but are
    valid, so the peer MUST run them: reserved flag bits set (FR-FRAME-13), ignorable and GREASE
    extensions (FR-EXT-2)."""
    payload = call_payload(method, body)
    R = F.REQUEST
    rid = first_request
    out = []
    for case, req, kw in (
            ("reserved-flags-0xfe", "FR-FRAME-13", {"flags": 0xFE}),
            ("grease-extension-0x8f", "FR-EXT-2", {"extensions": b"\x8f\x03abc"}),
            ("ignorable-extensions-0x80-0xff", "FR-EXT-2",
             {"extensions": b"\x80\x00\xff\x02\x01\x02"})):
        out.append((case, req, rid, raw_frame(R, session, rid, payload, **kw)))
        rid += 1
    return out


def bad_session_frames(session, frame_type, request, payload):
    """``(case, requirement, octets)``: mutations of one valid frame of ``session`` (used on
    ``pipe.out`` to check a client): every §5 check, the Request ID rule, MORE on an
    unfragmentable type, and (for GOODBYE) a trailing octet."""
    T = frame_type
    good = raw_frame(T, session, request, payload)
    cases = [
        ("bad-magic", "FR-DEC-2", b"\xf1\xf1" + good[2:]),
        ("bad-checksum", "FR-FRAME-12", good[:-1] + bytes([good[-1] ^ 0x80])),
        ("version-2", "FR-FRAME-1", raw_frame(T, session, request, payload, version=2)),
        ("header-length-15", "FR-FRAME-5", raw_frame(T, session, request, payload,
                                                     header_len=15)),
        ("extension-leftover-octet", "FR-EXT-1",
         raw_frame(T, session, request, payload, extensions=b"\x9f")),
        ("critical-extension", "FR-EXT-2",
         raw_frame(T, session, request, payload, extensions=b"\x7f\x00")),
        ("critical-type-0x03", "FR-TYPE-1", raw_frame(0x03, session, request, payload)),
        ("ignorable-type-0x9f", "FR-TYPE-2", raw_frame(0x9F, session, request, payload)),
    ]
    if T in F.REQUEST_SCOPED_TYPES:
        cases.append(("request-id-zero", "FR-TYPE-3", raw_frame(T, session, 0, payload)))
    else:
        cases.append(("request-id-nonzero", "FR-TYPE-3", raw_frame(T, session, 7, payload)))
        cases.append(("more-on-unfragmentable", "FR-FRAME-14",
                      raw_frame(T, session, request, payload, flags=F.MORE)))
    if T == F.GOODBYE:
        cases.append(("goodbye-trailing-octet", "FR-TYPE-4",
                      raw_frame(T, session, request, payload + b"\x00")))
    return cases


def goodbye_payload(code, last_request=0, message=""):
    return M.Goodbye(code, last_request, message).encode_payload()


def stray_text():
    """Bytes a stranger might write into a FIFO: text (never a frame start, §4) and binary junk
    with magic-like octets and implausible lengths."""
    return [
        ("text", b"hello\n"),
        ("text-with-nul", b"GET / HTTP/1.0\r\n\r\n\x00\x00"),
        ("lone-f1", b"\xf1"),
        ("f1-f1-f0-short", b"\xf1\xf1\xf0\x00\x05junk"),
        ("magic-zero-length", b"\xf1\xf0\x00\x00"),
        ("magic-huge-length", b"\xf1\xf0\xff\xff\x01\x10"),
        ("random", bytes((i * 73 + 41) & 0xFF for i in range(300))),
    ]
