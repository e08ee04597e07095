"""The frame decoder of spec §5: bytes in, frames (or receiver errors) out.

A FIFO is a byte stream. :class:`FrameDecoder` keeps what it has been given in a buffer and finds
frames in it, whatever the read boundaries were (FR-DEC-1). For each candidate frame it runs the
checks of FR-DEC-2 in order and reports the first failure:

====  ===================================  ==========================  ==========
step  check                                error                       then
====  ===================================  ==========================  ==========
1     octets 0-1 are F1 F0                 BAD_MAGIC                   scan
2     Frame Length >= 20                   FRAME_TOO_SHORT             scan
3     Frame Length <= local MaxFrame       FRAME_TOO_LARGE             scan
4     (wait until the whole frame is here)
5     CRC-32 matches                       BAD_CHECKSUM                scan
6     Version = 1                          UNSUPPORTED_VERSION         skip
7     16 <= Header Length <= FL - 4        BAD_HEADER_LENGTH           skip
8     extensions fill their area exactly   BAD_EXTENSION               skip
9     no unknown critical extension        UNKNOWN_CRITICAL_EXTENSION  skip
10    type assigned or ignorable           UNKNOWN_CRITICAL_TYPE       skip
11    Session ID != 0                      ZERO_SESSION                skip
====  ===================================  ==========================  ==========

*Skip* (FR-DEC-3): the CRC vouched for the boundary, so exactly Frame Length octets go.
*Scan* (FR-DEC-4): the boundary is not trusted; drop the candidate's first octet, then drop octets
silently until the buffer starts with F1 F0, which starts the next candidate.

Steps 1-3 are decided as soon as their octets are here (step 1 with octet 0 alone when it is not
F1), so a false length never makes the receiver wait for, or reserve, octets it will reject.
"""

import struct

from . import errors as E
from .errors import ProtocolError
from .frame import (ASSIGNED_TYPES, FRAME_OVERHEAD, HEADER_LEN, MAGIC, VERSION, Frame, crc32,
                    is_ignorable_type)

_F1, _F0 = 0xF1, 0xF0
_FIXED = struct.Struct(">BBBBII")  # version, type, flags, header length, session, request


def parse_extensions(area):
    """Splits a header extension area into ``[(type, value)]`` (§4.4).

    Returns None when the extensions do not fill the area exactly (FR-EXT-1).
    """
    out, pos = [], 0
    while pos < len(area):
        if pos + 2 > len(area):
            return None  # one octet over
        ext_type, ext_len = area[pos], area[pos + 1]
        if pos + 2 + ext_len > len(area):
            return None  # runs past Header Length
        out.append((ext_type, bytes(area[pos + 2:pos + 2 + ext_len])))
        pos += 2 + ext_len
    return out


def known_extension(ext_type: int) -> bool:
    """Version 1 defines no extension type (§4.4)."""
    return False


class FrameDecoder:
    """Push bytes with :meth:`push`, pull results with :meth:`decode`, end with :meth:`finish`.

    ``decode`` returns a :class:`~fiforpc.frame.Frame`, a :class:`~fiforpc.errors.ProtocolError`
    (a receiver error; decoding goes on after it), or None when more octets are needed.
    """

    def __init__(self, max_frame: int):
        self.max_frame = max_frame
        self._buf = bytearray()
        self._pos = 0  # octets before _pos are consumed; compacted now and then
        self._scanning = False

    @property
    def buffered(self) -> int:
        """Octets held and not yet consumed."""
        return len(self._buf) - self._pos

    @property
    def scanning(self) -> bool:
        return self._scanning

    def push(self, data) -> None:
        if self._pos and self._pos >= len(self._buf) // 2:
            del self._buf[:self._pos]
            self._pos = 0
        self._buf += data

    def reset(self) -> None:
        """Forgets every buffered octet (a new stream starts)."""
        self._buf = bytearray()
        self._pos = 0
        self._scanning = False

    def _scan_fail(self, name, detail):
        # FR-DEC-4: drop the candidate's first octet and look for the next F1 F0.
        self._pos += 1
        self._scanning = True
        return ProtocolError(name, detail)

    def _skip_fail(self, frame_len, name, detail, **kw):
        # FR-DEC-3: the CRC vouched for the boundary; drop exactly Frame Length octets.
        self._pos += frame_len
        return ProtocolError(name, detail, **kw)

    def _scan(self) -> bool:
        """Drops octets until the buffer starts with F1 F0. False if more octets are needed."""
        buf = self._buf
        idx = buf.find(MAGIC, self._pos)
        if idx >= 0:
            self._pos = idx
            self._scanning = False
            return True
        # Keep a final lone F1: its F0 may come with the next read.
        end = len(buf)
        self._pos = end - 1 if end > self._pos and buf[end - 1] == _F1 else end
        return False

    def decode(self):
        if self._scanning and not self._scan():
            return None
        buf, pos = self._buf, self._pos
        avail = len(buf) - pos
        if avail == 0:
            return None
        # Step 1: magic. Octet 0 alone decides when it is not F1.
        if buf[pos] != _F1:
            return self._scan_fail(E.BAD_MAGIC, "octet 0x%02x where a frame must start with f1 f0"
                                   % buf[pos])
        if avail < 2:
            return None
        if buf[pos + 1] != _F0:
            return self._scan_fail(E.BAD_MAGIC, "f1 followed by 0x%02x instead of f0"
                                   % buf[pos + 1])
        if avail < 4:
            return None
        frame_len = (buf[pos + 2] << 8) | buf[pos + 3]
        # Steps 2 and 3: the length, before waiting for (or reserving room for) the frame.
        if frame_len < FRAME_OVERHEAD:
            return self._scan_fail(E.FRAME_TOO_SHORT, "frame length %d is below %d"
                                   % (frame_len, FRAME_OVERHEAD))
        if frame_len > self.max_frame:
            return self._scan_fail(E.FRAME_TOO_LARGE, "frame length %d exceeds max frame %d"
                                   % (frame_len, self.max_frame))
        # Step 4: wait for the whole frame.
        if avail < frame_len:
            return None
        end = pos + frame_len
        # Step 5: CRC.
        expected = crc32(memoryview(buf)[pos:end - 4])
        actual = int.from_bytes(buf[end - 4:end], "big")
        if expected != actual:
            return self._scan_fail(E.BAD_CHECKSUM, "crc 0x%08x, computed 0x%08x"
                                   % (actual, expected))
        version, ftype, flags, header_len, session, request = _FIXED.unpack_from(buf, pos + 4)
        # Step 6 onwards: the boundary is trusted, failures skip the frame.
        if version != VERSION:
            return self._skip_fail(frame_len, E.UNSUPPORTED_VERSION, "version %d" % version)
        if not HEADER_LEN <= header_len <= frame_len - 4:
            return self._skip_fail(frame_len, E.BAD_HEADER_LENGTH,
                                   "header length %d with frame length %d"
                                   % (header_len, frame_len))
        extensions = parse_extensions(buf[pos + HEADER_LEN:pos + header_len])
        if extensions is None:
            return self._skip_fail(frame_len, E.BAD_EXTENSION,
                                   "extensions do not fill the %d-octet area"
                                   % (header_len - HEADER_LEN))
        for ext_type, _ in extensions:
            if ext_type < 0x80 and not known_extension(ext_type):
                return self._skip_fail(frame_len, E.UNKNOWN_CRITICAL_EXTENSION,
                                       "extension type 0x%02x" % ext_type)
        if ftype not in ASSIGNED_TYPES and not is_ignorable_type(ftype):
            return self._skip_fail(frame_len, E.UNKNOWN_CRITICAL_TYPE, "type 0x%02x" % ftype,
                                   frame_type=ftype)
        if session == 0:
            return self._skip_fail(frame_len, E.ZERO_SESSION, "session id 0", frame_type=ftype)
        payload = bytes(buf[pos + header_len:end - 4])
        self._pos = end
        return Frame(ftype, session, request, payload, flags, extensions, version)

    def abandon(self):
        """FR-DEC-7: the FIFO was read empty while a candidate frame is incomplete.

        On a FIFO whose writers write every frame atomically (``pipe.in``) a legitimate frame is
        never half there, so the candidate is stray bytes: TRUNCATED_FRAME, then scan from its
        second octet. Returns the error, or None when there is no incomplete candidate.
        """
        if self._scanning or not self.buffered:
            return None
        held = self.buffered
        self._pos += 1
        self._scanning = True
        return ProtocolError(E.TRUNCATED_FRAME, "fifo drained %d octets into a candidate frame"
                             % held)

    def finish(self):
        """End of stream (FR-DEC-5): TRUNCATED_FRAME if a candidate frame was cut, else None.

        Call after ``decode`` has returned None. Octets held while scanning are dropped silently.
        """
        held = self.buffered
        scanning = self._scanning
        self.reset()
        if held and not scanning:
            return ProtocolError(E.TRUNCATED_FRAME, "stream ended %d octets into a frame" % held)
        return None
