"""Fragmentation and reassembly (spec §7).

A message whose single frame would exceed the agreed MaxFrame travels as several frames of the same
Type, Session ID and Request ID; MORE is set on all but the last (FR-FRAG-1). The message is the
concatenation of the fragments' payloads. Fragments of different messages may interleave; the
receiver keys them by (Session ID, Request ID, Type) (FR-FRAG-2).
"""

from collections import OrderedDict

from . import errors as E
from .errors import EncodeError, ProtocolError
from .frame import FRAGMENTABLE_TYPES, FRAME_OVERHEAD, MORE, encode_frame


def fragment_sizes(message_len: int, max_frame: int, extension_octets: int = 0):
    """Payload sizes of the fragments of a message: every one but the last full (§7, §14.5).

    >>> fragment_sizes(10008, 4096)
    [4076, 4076, 1856]
    """
    room = max_frame - FRAME_OVERHEAD - extension_octets
    if room <= 0:
        raise EncodeError("max frame %d leaves no room for a payload" % max_frame)
    if message_len == 0:
        return [0]
    sizes = [room] * (message_len // room)
    if message_len % room:
        sizes.append(message_len % room)
    return sizes


def encode_message(frame_type: int, session: int, request: int, parts, max_frame: int):
    """Encodes one message as frames and returns their octets, one ``bytes`` per frame.

    ``parts`` is a sequence of byte strings whose concatenation is the message payload. A message
    that fits in one frame is one frame; a longer one of a fragmentable type is split
    (FR-FRAG-1); a longer one of another type is an error (FR-FRAME-14).
    """
    message = b"".join(bytes(p) for p in parts)
    sizes = fragment_sizes(len(message), max_frame)
    if len(sizes) > 1 and frame_type not in FRAGMENTABLE_TYPES:
        raise EncodeError("type 0x%02x is not fragmentable and its payload of %d octets does "
                          "not fit in max frame %d" % (frame_type, len(message), max_frame))
    frames, pos = [], 0
    for i, size in enumerate(sizes):
        flags = MORE if i < len(sizes) - 1 else 0
        frames.append(encode_frame(frame_type, session, request, message[pos:pos + size], flags,
                                   max_frame=max_frame))
        pos += size
    return frames


class Reassembler:
    """Collects fragments into messages (FR-FRAG-1 .. FR-FRAG-7).

    :meth:`feed` takes one frame of a fragmentable type that passed the checks of §5 and returns
    the complete message payload (``bytes``) when that frame was the last fragment, None while
    more fragments are due or the message is being discarded, or a :class:`ProtocolError`
    (MESSAGE_TOO_LARGE, once per oversized message, FR-FRAG-3).

    ``on_discard_end``, if set, is called as ``on_discard_end(key, error_name)`` when the last
    fragment of a discarded message has arrived: a server answers the REQUEST then (FR-FRAG-5).
    """

    def __init__(self, max_message: int, max_partial=None):
        self.max_message = max_message
        self.max_partial = max_partial
        # key -> list of payload pieces; insertion order = order of first fragments (FR-FRAG-6)
        self._partial = OrderedDict()
        self._sizes = {}
        self._discarding = {}  # key -> error name, until the fragment without MORE
        self.on_discard_end = None

    def __len__(self):
        return len(self._partial)

    def feed(self, frame):
        key = (frame.session, frame.request, frame.frame_type)
        if key in self._discarding:
            # FR-FRAG-3: drop the rest of an oversized message, up to the fragment without MORE.
            if not frame.more:
                self._discard_done(key, self._discarding.pop(key))
            return None
        pieces = self._partial.get(key)
        size = self._sizes.get(key, 0) + len(frame.payload)
        if size > self.max_message:
            self._partial.pop(key, None)
            self._sizes.pop(key, None)
            if frame.more:
                self._discarding[key] = E.MESSAGE_TOO_LARGE
            else:
                self._discard_done(key, E.MESSAGE_TOO_LARGE)
            return ProtocolError(E.MESSAGE_TOO_LARGE,
                                 "message grew past max message %d" % self.max_message,
                                 session=frame.session, request=frame.request,
                                 frame_type=frame.frame_type)
        if not frame.more:
            if pieces is None:
                return frame.payload  # a whole message in one frame
            pieces.append(frame.payload)
            del self._partial[key]
            del self._sizes[key]
            return b"".join(pieces)
        if pieces is None:
            if self.max_partial is not None and len(self._partial) >= self.max_partial:
                # FR-FRAG-7: bound the number of messages in reassembly. Discard this one.
                self._discarding[key] = E.TOO_MANY_PARTIAL_MESSAGES
                return ProtocolError(E.TOO_MANY_PARTIAL_MESSAGES,
                                     "more than %d messages in reassembly" % self.max_partial,
                                     session=frame.session, request=frame.request,
                                     frame_type=frame.frame_type)
            pieces = self._partial[key] = []
        pieces.append(frame.payload)
        self._sizes[key] = size
        return None

    def _discard_done(self, key, name):
        if self.on_discard_end is not None:
            self.on_discard_end(key, name)

    def finish(self):
        """End of stream (FR-FRAG-6): one TRUNCATED_MESSAGE per unfinished message, in the order
        their first fragments arrived. Messages being discarded were reported already."""
        out = [ProtocolError(E.TRUNCATED_MESSAGE, "stream ended inside a message",
                             session=s, request=r, frame_type=t)
               for (s, r, t) in self._partial]
        self.reset()
        return out

    def reset(self):
        self._partial.clear()
        self._sizes.clear()
        self._discarding.clear()

    def drop_session(self, session: int):
        """Forgets the partial messages of one session (FR-BYE-1)."""
        for key in [k for k in self._partial if k[0] == session]:
            del self._partial[key]
            del self._sizes[key]
        for key in [k for k in self._discarding if k[0] == session]:
            del self._discarding[key]
