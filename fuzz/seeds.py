#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (fuzz/corpus/<target>/). Standard library only."""

import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def frame(t, session, request, payload, flags=0, ext=b"", version=1):
    hl = 16 + len(ext)
    body = b"\xf1\xf0" + struct.pack(">HBBBBII", hl + len(payload) + 4, version, t, flags, hl, session, request)
    body += ext + payload
    return body + struct.pack(">I", zlib.crc32(body))


HELLO = frame(0x01, 42, 0, bytes.fromhex("01011000010000000000109208") + b"bincode1")
WELCOME = frame(0x02, 42, 0, bytes.fromhex("0100100001000000000004000000109301234567") + bytes.fromhex("89abcdef08") + b"bincode1")
REQUEST = frame(0x10, 1, 1, b"\x04echo" + bytes.fromhex("02000000000000006869"))
RESPONSE = frame(0x11, 1, 1, bytes.fromhex("02000000000000006869"))
GOODBYE = frame(0x30, 42, 0, bytes.fromhex("0001000000070000"))
PING = frame(0x20, 42, 0, bytes(range(1, 9)))
FRAGMENTS = frame(0x10, 7, 3, b"\x06upload" + b"a" * 100, flags=1) + frame(0x10, 7, 3, b"b" * 50)
GREASE = frame(0x9F, 1, 5, b"grease", flags=1, ext=b"\x8f\x02ab")
BAD_CRC = PING[:-1] + bytes([PING[-1] ^ 0xFF])
GARBAGE = b"hello\n\xf1\x41\xf1\xf0\x00\x05 junk \xf1"


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    streams = {
        "spec-examples": HELLO + WELCOME + REQUEST + RESPONSE + PING + GOODBYE,
        "fragments-grease": FRAGMENTS + GREASE + PING,
        "garbage-then-frame": GARBAGE + PING,
        "bad-crc-then-frame": BAD_CRC + PING,
        "truncated": REQUEST + RESPONSE[:17],
        "fragment-truncated": FRAGMENTS[:140],
        "empty": b"",
    }
    for name, stream in streams.items():
        # decode_frame: max_frame 4096, chunk seed
        write("decode_frame", name, struct.pack(">HB", 4096, 7) + stream)
        # receiver: max_frame 4096, max_message 4096 (256 * 16), max_partial 2, chunk seed
        write("receiver", name, struct.pack(">HHBB", 4096, 256, 2, 3) + stream)
    write("decode_frame", "small-max-frame", struct.pack(">HB", 40, 1) + REQUEST + PING)
    write("receiver", "too-large", struct.pack(">HHBB", 600, 2, 1, 9) + FRAGMENTS + FRAGMENTS)
    # roundtrip: variant, max_frame, session, request, fields
    head = lambda variant, max_frame: struct.pack(">BHII", variant, max_frame, 42, 7)
    write("roundtrip", "hello", head(0, 512) + bytes.fromhex("0101100001000000000010920862696e636f64653101810002abcd"))
    write("roundtrip", "welcome", head(1, 512) + bytes(22) + b"\x03raw\x00")
    write("roundtrip", "request-fragmented", head(2, 21) + b"\x04echo" + b"body" * 40)
    write("roundtrip", "notify", head(3, 4096) + b"\x03log" + b"line")
    write("roundtrip", "response-empty", head(4, 512))
    write("roundtrip", "error", head(5, 64) + b"\x03\xe8\x04boomdetails")
    write("roundtrip", "cancel", head(6, 512))
    write("roundtrip", "ping", head(7, 512) + b"\x01\x02\x03\x04")
    write("roundtrip", "goodbye-too-large", head(9, 30) + b"\x00\x01\x00\x00\x00\x07" + b"bye" * 10)
    write("roundtrip", "zero-session", struct.pack(">BHII", 4, 512, 0, 1))


if __name__ == "__main__":
    main()
