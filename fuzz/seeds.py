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
    session_seeds()


# --- session targets: operation scripts (see crates/protocol/src/fuzzing/{client,server}_session.rs)

def short(b):
    return bytes([len(b)]) + b


def client_ops():
    """Operations of the client_session target, as octets."""
    hello = b"\x00"
    # feed a server message: our session, request from u32, WELCOME (max in-flight 4), MaxFrame
    # 4096, no mangling, fed whole.
    welcome = b"\x02" + b"\x01" + b"\xff" + struct.pack(">I", 1) + b"\x00" + b"\x00" + b"\x04" + bytes(8)
    welcome += b"\x01" + b"\x02" + b"\x02"
    call_echo = b"\x03" + b"\x03\x00" + b"\x01" + short(b"hi")
    call_big = b"\x04" + b"\x03\x01" + b"\x00" + b"\x61" + struct.pack(">H", 9000)
    answer_first = b"\x0a" + b"\x01" + b"\x00" + b"\x01" + short(b"hi") + b"\x00"
    cancel_first = b"\x05" + b"\x00"
    ping = b"\x07" + struct.pack(">I", 0x01020304)
    goodbye = b"\x08"
    eof = b"\x09"
    return hello, welcome, call_echo, call_big, answer_first, cancel_first, ping, goodbye, eof


def server_ops():
    """Operations of the server_session target, as octets."""
    hello = b"\x01" + b"\x00" + struct.pack(">I", 9) + b"\x00" + b"\x00" + struct.pack(">I", 4242)
    hello += b"\x01" + b"\x02" + b"\x02" + b"\x01"
    # REQUEST echo("hi") of session 1, Request ID 1 (calls in flight: picks the first's ID).
    request = b"\x02" + b"\x00" + struct.pack(">I", 1) + b"\x02" + b"\x03\x00" + b"\x01" + short(b"hi")
    request += b"\x01" + b"\x02" + b"\x02" + b"\x01"
    big = b"\x03" + b"\x00" + struct.pack(">I", 2) + b"\x03" + b"\x03\x01" + b"\x00\x62" + struct.pack(">H", 20000)
    big += b"\x00" + b"\x02" + b"\x00" + b"\x01"
    start_first = b"\x09" + b"\x00"
    complete_first = b"\x0b" + b"\x00" + b"\x01" + short(b"hi") + b"\x01"
    cancel = b"\x04" + b"\x00" + b"\x00" + b"\x06" + b"\x01\x02\x02\x01"
    shutdown = b"\x08"
    eof = b"\x06"
    slow = b"\x07\x00"
    stale = b"\x0d\x00"
    return hello, request, big, start_first, complete_first, cancel, shutdown, eof, slow, stale


def session_seeds():
    hello, welcome, call_echo, call_big, answer, cancel, ping, goodbye, eof = client_ops()
    head = struct.pack(">HIHB", 4096, 42, 4096, 4)
    write("client_session", "call-answered", head + hello + welcome + call_echo + answer + goodbye)
    write("client_session", "fragmented-call-cancelled", head + hello + welcome + call_big + cancel + call_echo + ping + eof)
    write("client_session", "pending-at-eof", head + hello + welcome + call_echo + call_big + eof)
    write("client_session", "spec-stream", head + hello + b"\x01" + short(WELCOME[:200]) + call_echo)

    hello, request, big, start, complete, cancel, shutdown, eof, slow, stale = server_ops()
    head = struct.pack(">HHB", 4096, 0x4000, 4)
    write("server_session", "call-answered", head + hello + request + start + complete + stale + eof)
    write("server_session", "drain", head + hello + request + big + start + shutdown + complete + request + eof)
    write("server_session", "cancel-before-start", head + hello + request + cancel + start + eof)
    write("server_session", "slow-reader", head + hello + request + start + slow + stale)
    write("server_session", "spec-stream", head + b"\x00" + short(HELLO + REQUEST[:100]) + b"\x02\x00")


if __name__ == "__main__":
    main()
