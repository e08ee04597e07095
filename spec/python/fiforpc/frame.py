"""The FIFO-RPC/1 frame (spec §4): layout, constants, CRC-32 and the encoder.

A frame on the wire::

    offset size field
         0    2 Magic           F1 F0                              (FR-FRAME-1)
         2    2 Frame Length    whole frame, magic and CRC included (FR-FRAME-2)
         4    1 Version         1                                  (FR-FRAME-1)
         5    1 Type            §6
         6    1 Flags           0x01 MORE, other bits reserved     (FR-FRAME-13)
         7    1 Header Length   16 + extension octets              (FR-FRAME-5)
         8    4 Session ID      non-zero                           (FR-FRAME-4)
        12    4 Request ID      non-zero for request-scoped types  (FR-TYPE-3)
        16   .. Header Extensions (Ext Type, Ext Length, Value)...  (§4.4)
        HL   .. Payload
      FL-4    4 CRC-32 of every octet before it, big-endian         (FR-FRAME-12)

All header integers are big-endian.
"""

import struct
import zlib
from dataclasses import dataclass, field
from typing import List, Tuple

from .errors import EncodeError

MAGIC = b"\xf1\xf0"
VERSION = 1
HEADER_LEN = 16  # fixed header, without extensions
FRAME_OVERHEAD = 20  # fixed header + CRC: the smallest frame (FR-FRAME-2)
MIN_MAX_FRAME = 512  # bootstrap limit and smallest allowed MaxFrame (FR-FRAME-6, FR-FRAME-7)
MAX_MAX_FRAME = 65535  # Frame Length is 16 bits
MIN_MAX_MESSAGE = 4096  # smallest acceptable Max Message (FR-HS-2)
MAX_EXTENSION_AREA = 255 - HEADER_LEN  # Header Length is one octet

# Message types, spec §6.
HELLO = 0x01
WELCOME = 0x02
REQUEST = 0x10
RESPONSE = 0x11
ERROR = 0x12
NOTIFY = 0x13
CANCEL = 0x14
PING = 0x20
PONG = 0x21
GOODBYE = 0x30

TYPE_NAMES = {
    HELLO: "HELLO", WELCOME: "WELCOME", REQUEST: "REQUEST", RESPONSE: "RESPONSE",
    ERROR: "ERROR", NOTIFY: "NOTIFY", CANCEL: "CANCEL", PING: "PING", PONG: "PONG",
    GOODBYE: "GOODBYE",
}
ASSIGNED_TYPES = frozenset(TYPE_NAMES)
#: Types that may be split into fragments (§6 table, FR-FRAME-14).
FRAGMENTABLE_TYPES = frozenset((REQUEST, RESPONSE, ERROR, NOTIFY))
#: Types that carry a non-zero Request ID; every other assigned type carries 0 (FR-TYPE-3).
REQUEST_SCOPED_TYPES = frozenset((REQUEST, RESPONSE, ERROR, CANCEL))

# Flags, spec §4.3.
MORE = 0x01

_HEADER = struct.Struct(">2sHBBBBII")
_CRC = struct.Struct(">I")


def crc32(data) -> int:
    """CRC-32/ISO-HDLC, the one of zlib (spec §4.2). ``crc32(b"123456789") == 0xCBF43926``."""
    return zlib.crc32(data) & 0xFFFFFFFF


def is_ignorable_type(frame_type: int) -> bool:
    """Types 0x80-0xFF are ignorable when not understood (FR-TYPE-2)."""
    return frame_type >= 0x80


def is_grease(value: int) -> bool:
    """GREASE values (0x8F, 0x9F, ..., 0xFF) are never assigned (§4.4, FR-TYPE-2)."""
    return value >= 0x80 and value & 0x0F == 0x0F


def type_name(frame_type: int) -> str:
    return TYPE_NAMES.get(frame_type, "0x%02x" % frame_type)


@dataclass
class Frame:
    """One decoded (or to-be-encoded) frame: the header fields, the extensions and the payload."""

    frame_type: int
    session: int
    request: int = 0
    payload: bytes = b""
    flags: int = 0
    extensions: List[Tuple[int, bytes]] = field(default_factory=list)
    version: int = VERSION

    @property
    def more(self) -> bool:
        """True when another fragment of this message follows (MORE, §7)."""
        return bool(self.flags & MORE)


def encode_frame(frame_type: int, session: int, request: int = 0, payload=b"", flags: int = 0,
                 extensions=(), max_frame: int = MAX_MAX_FRAME) -> bytes:
    """Encodes one frame (spec §4) and returns its octets.

    The sender's rules are enforced: session non-zero (FR-FRAME-4), frame not longer than
    ``max_frame`` (FR-FRAME-3), extensions that fit in Header Length. Flags are written as given,
    so that a caller can set MORE; reserved bits are the caller's responsibility (FR-FRAME-13).
    """
    if not 0 < session <= 0xFFFFFFFF:
        raise EncodeError("session id must be in 1..=0xffffffff, got %d" % session)
    if not 0 <= request <= 0xFFFFFFFF:
        raise EncodeError("request id must fit in 32 bits, got %d" % request)
    ext_area = b"".join(struct.pack(">BB", t, len(v)) + bytes(v) for t, v in extensions)
    if len(ext_area) > MAX_EXTENSION_AREA:
        raise EncodeError("header extensions take %d octets, at most %d fit"
                          % (len(ext_area), MAX_EXTENSION_AREA))
    header_len = HEADER_LEN + len(ext_area)
    frame_len = header_len + len(payload) + 4
    if frame_len > max_frame:
        raise EncodeError("frame of %d octets exceeds max frame %d; fragment the message"
                          % (frame_len, max_frame))
    out = bytearray(_HEADER.pack(MAGIC, frame_len, VERSION, frame_type, flags, header_len,
                                 session, request))
    out += ext_area
    out += payload
    out += _CRC.pack(crc32(out))
    return bytes(out)


def encode(frame: Frame, max_frame: int = MAX_MAX_FRAME) -> bytes:
    """Encodes a :class:`Frame` (its ``version`` must be 1: FR-FRAME-1)."""
    if frame.version != VERSION:
        raise EncodeError("a sender writes version 1, got %d" % frame.version)
    return encode_frame(frame.frame_type, frame.session, frame.request, frame.payload,
                        frame.flags, frame.extensions, max_frame)
