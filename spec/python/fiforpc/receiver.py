"""The receiver of spec §13.1: decoder (§5), then per-frame checks, reassembly (§7), payloads (§6).

Bytes go in with :meth:`Receiver.push`; events come out of :meth:`Receiver.poll_event`:

* :class:`MessageEvent` — a complete, well-formed message;
* :class:`IgnoredEvent` — a frame of an unassigned ignorable type was dropped (FR-TYPE-2);
* :class:`ErrorEvent` — a receiver error (§11.3). Receiving goes on afterwards (FR-ERR-1).

A frame that passed the decoder's checks is handled in this order (spec §5, after FR-DEC-6):

1. an unassigned type in 0x80-0xFF is ignored, whatever its flags and Request ID (FR-TYPE-2);
2. the Request ID must be non-zero exactly for REQUEST, RESPONSE, ERROR, CANCEL (FR-TYPE-3);
3. MORE is only allowed on REQUEST, RESPONSE, ERROR, NOTIFY (FR-FRAME-14);
4. other types: the payload is parsed now (FR-TYPE-4);
5. fragmentable types go through the reassembler (FR-FRAG-1..3) and the complete message is
   parsed (FR-TYPE-4).
"""

from collections import deque
from dataclasses import dataclass

from . import errors as E
from . import messages
from .decoder import FrameDecoder
from .errors import ProtocolError
from .fragment import Reassembler
from .frame import (ASSIGNED_TYPES, FRAGMENTABLE_TYPES, REQUEST_SCOPED_TYPES, type_name)


@dataclass
class MessageEvent:
    session: int
    message: object

    def to_vector(self):
        return {"message": messages.to_vector(self.session, self.message)}


@dataclass
class IgnoredEvent:
    frame_type: int

    def to_vector(self):
        return {"ignored": self.frame_type}


@dataclass
class ErrorEvent:
    error: ProtocolError

    def to_vector(self):
        return {"error": self.error.name}


class Receiver:
    """One input stream's receiver, with local MaxFrame and Max Message (and an optional bound on
    the number of messages in reassembly, FR-FRAG-7)."""

    def __init__(self, max_frame: int, max_message: int, max_partial=None):
        self.decoder = FrameDecoder(max_frame)
        self.reassembler = Reassembler(max_message, max_partial)
        self._events = deque()
        self.frames = 0  # frames that passed §5

    def push(self, data) -> None:
        self.decoder.push(data)

    def poll_event(self):
        """The next event, or None when the buffered octets hold no more."""
        while not self._events:
            item = self.decoder.decode()
            if item is None:
                return None
            if isinstance(item, ProtocolError):
                return ErrorEvent(item)
            self.frames += 1
            event = self._on_frame(item)
            if event is not None:
                return event
        return self._events.popleft()

    def events(self):
        """Every event the buffered octets hold, as a list."""
        out = []
        while True:
            ev = self.poll_event()
            if ev is None:
                return out
            out.append(ev)

    def finish(self) -> None:
        """End of stream: queue TRUNCATED_FRAME (FR-DEC-5) then TRUNCATED_MESSAGE (FR-FRAG-6).

        Drain :meth:`poll_event` before and after calling this. The receiver is then empty and
        may be used for a new stream.
        """
        pending = self.events()
        self._events.extend(pending)
        err = self.decoder.finish()
        if err is not None:
            self._events.append(ErrorEvent(err))
        for err in self.reassembler.finish():
            self._events.append(ErrorEvent(err))

    def drained(self) -> None:
        """The input FIFO was read empty (FR-DEC-7, ``pipe.in`` only): an incomplete candidate
        frame is abandoned. Drain :meth:`poll_event` before and after calling this."""
        pending = self.events()
        self._events.extend(pending)
        err = self.decoder.abandon()
        if err is not None:
            self._events.append(ErrorEvent(err))

    def reset(self) -> None:
        """Drops buffered octets and partial messages (a new stream)."""
        self.decoder.reset()
        self.reassembler.reset()
        self._events.clear()

    def drop_session(self, session: int) -> None:
        self.reassembler.drop_session(session)

    def _on_frame(self, frame):
        t = frame.frame_type
        if t not in ASSIGNED_TYPES:
            return IgnoredEvent(t)  # FR-TYPE-2
        if (frame.request != 0) != (t in REQUEST_SCOPED_TYPES):
            return ErrorEvent(ProtocolError(
                E.BAD_REQUEST_ID, "%s with request id %d" % (type_name(t), frame.request),
                session=frame.session, request=frame.request, frame_type=t))
        if t not in FRAGMENTABLE_TYPES:
            if frame.more:
                return ErrorEvent(ProtocolError(
                    E.UNEXPECTED_FRAGMENT, "MORE set on %s" % type_name(t),
                    session=frame.session, request=frame.request, frame_type=t))
            return self._parse(frame.session, frame.request, t, frame.payload)
        result = self.reassembler.feed(frame)
        if result is None:
            return None
        if isinstance(result, ProtocolError):
            return ErrorEvent(result)
        return self._parse(frame.session, frame.request, t, result)

    @staticmethod
    def _parse(session, request, t, payload):
        try:
            return MessageEvent(session, messages.parse(t, request, payload))
        except ProtocolError as err:
            err.session, err.request = session, request
            return ErrorEvent(err)
