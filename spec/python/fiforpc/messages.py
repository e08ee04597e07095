"""Message payloads (spec §6): one class per type, ``encode_payload`` and :func:`parse`.

All control fields are big-endian. Every message knows its type (``TYPE``), the Session ID is the
frame's, and request-scoped types (REQUEST, RESPONSE, ERROR, CANCEL) carry their Request ID
(FR-TYPE-3). :func:`parse` rejects a payload that does not match its layout with
MALFORMED_PAYLOAD (FR-TYPE-4); for fragmentable types it is given the reassembled message.
"""

import struct
from dataclasses import dataclass, field
from typing import List, Tuple

from .errors import EncodeError, MalformedPayload
from .frame import (CANCEL, ERROR, GOODBYE, HELLO, NOTIFY, PING, PONG, REQUEST, RESPONSE,
                    TYPE_NAMES, WELCOME)
from .fragment import encode_message

# ERROR codes, spec §11.1.
CANCELLED = 1
BAD_REQUEST = 2
METHOD_NOT_FOUND = 3
MESSAGE_TOO_LARGE = 4
HANDLER_FAILED = 5
HANDLER_PANICKED = 6
OVERLOADED = 7
SHUTTING_DOWN = 8
INTERNAL = 9
APPLICATION_MIN = 1000
ERROR_CODE_NAMES = {
    CANCELLED: "CANCELLED", BAD_REQUEST: "BAD_REQUEST", METHOD_NOT_FOUND: "METHOD_NOT_FOUND",
    MESSAGE_TOO_LARGE: "MESSAGE_TOO_LARGE", HANDLER_FAILED: "HANDLER_FAILED",
    HANDLER_PANICKED: "HANDLER_PANICKED", OVERLOADED: "OVERLOADED",
    SHUTTING_DOWN: "SHUTTING_DOWN", INTERNAL: "INTERNAL",
}

# GOODBYE codes, spec §11.2.
BYE_NO_ERROR = 0
BYE_SHUTTING_DOWN = 1
BYE_PROTOCOL_ERROR = 2
BYE_VERSION_UNSUPPORTED = 3
BYE_ENCODING_UNSUPPORTED = 4
BYE_LIMITS_UNACCEPTABLE = 5
BYE_UNSUPPORTED_OPTION = 6
BYE_SLOW_READER = 7
GOODBYE_CODE_NAMES = {
    0: "NO_ERROR", 1: "SHUTTING_DOWN", 2: "PROTOCOL_ERROR", 3: "VERSION_UNSUPPORTED",
    4: "ENCODING_UNSUPPORTED", 5: "LIMITS_UNACCEPTABLE", 6: "UNSUPPORTED_OPTION",
    7: "SLOW_READER",
}


def error_code_name(code: int) -> str:
    """§11.1 name; an unknown code below 1000 counts as INTERNAL, 1000 and up are the service's."""
    if code >= APPLICATION_MIN:
        return "APPLICATION(%d)" % code
    return ERROR_CODE_NAMES.get(code, "INTERNAL")


def goodbye_code_name(code: int) -> str:
    """§11.2 name; an unknown code counts as PROTOCOL_ERROR."""
    return GOODBYE_CODE_NAMES.get(code, "PROTOCOL_ERROR")


class _Reader:
    """Cursor over a payload; every short read is MALFORMED_PAYLOAD (FR-TYPE-4)."""

    def __init__(self, frame_type, data):
        self.t, self.data, self.pos = frame_type, data, 0

    def fail(self, why):
        raise MalformedPayload(self.t, "%s payload: %s" % (TYPE_NAMES.get(self.t, "?"), why))

    def take(self, n, what):
        if self.pos + n > len(self.data):
            self.fail("%s needs %d octets, %d left" % (what, n, len(self.data) - self.pos))
        out = bytes(self.data[self.pos:self.pos + n])
        self.pos += n
        return out

    def uint(self, n, what):
        return int.from_bytes(self.take(n, what), "big")

    def utf8(self, n, what):
        raw = self.take(n, what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.fail("%s is not valid UTF-8" % what)

    def rest(self):
        out = bytes(self.data[self.pos:])
        self.pos = len(self.data)
        return out

    def end(self):
        if self.pos != len(self.data):
            self.fail("%d octets left over" % (len(self.data) - self.pos))


def _encoding_bytes(name):
    raw = name.encode("ascii")
    if not 1 <= len(raw) <= 32:
        raise EncodeError("encoding name must be 1..=32 ASCII octets, got %d" % len(raw))
    return struct.pack(">B", len(raw)) + raw


def _options_bytes(options):
    out = b""
    for t, v in options:
        if len(v) > 0xFFFF:
            raise EncodeError("option value of %d octets exceeds 65535" % len(v))
        out += struct.pack(">BH", t, len(v)) + bytes(v)
    return out


def _read_encoding(r):
    n = r.uint(1, "Encoding Length")
    if not 1 <= n <= 32:
        r.fail("Encoding Length %d is outside 1..=32" % n)
    raw = r.take(n, "Encoding")
    if any(b >= 0x80 for b in raw):
        r.fail("encoding name is not ASCII")
    return raw.decode("ascii")


def _read_options(r):
    """Options fill the rest of the payload exactly (FR-HELLO-1)."""
    out = []
    while r.pos < len(r.data):
        t = r.uint(1, "Option Type")
        n = r.uint(2, "Option Length")
        out.append((t, r.take(n, "Option Value")))
    return out


def _options_json(options):
    return [{"type": t, "value": bytes(v).hex()} for t, v in options]


@dataclass
class Hello:
    """HELLO (§6.1): the client's first frame (FR-HS-1)."""

    TYPE = HELLO
    min_version: int = 1
    max_version: int = 1
    max_frame: int = 4096
    max_message: int = 16 * 1024 * 1024
    client_pid: int = 0
    encoding: str = "bincode1"
    options: List[Tuple[int, bytes]] = field(default_factory=list)
    request: int = 0

    def encode_payload(self):
        return (struct.pack(">BBHII", self.min_version, self.max_version, self.max_frame,
                            self.max_message, self.client_pid)
                + _encoding_bytes(self.encoding) + _options_bytes(self.options))

    @classmethod
    def parse(cls, r):
        m = cls(r.uint(1, "Min Version"), r.uint(1, "Max Version"), r.uint(2, "Max Frame"),
                r.uint(4, "Max Message"), r.uint(4, "Client PID"))
        m.encoding = _read_encoding(r)
        m.options = _read_options(r)
        return m

    def fields(self):
        return {"min_version": self.min_version, "max_version": self.max_version,
                "max_frame": self.max_frame, "max_message": self.max_message,
                "client_pid": self.client_pid, "encoding": self.encoding,
                "options": _options_json(self.options)}


@dataclass
class Welcome:
    """WELCOME (§6.2): the server's acceptance of HELLO (FR-HS-2)."""

    TYPE = WELCOME
    version: int = 1
    max_frame: int = 4096
    max_message: int = 16 * 1024 * 1024
    max_in_flight: int = 1024
    server_pid: int = 0
    instance_id: int = 0
    encoding: str = "bincode1"
    options: List[Tuple[int, bytes]] = field(default_factory=list)
    request: int = 0

    def encode_payload(self):
        return (struct.pack(">BBHIIIQ", self.version, 0, self.max_frame, self.max_message,
                            self.max_in_flight, self.server_pid, self.instance_id)
                + _encoding_bytes(self.encoding) + _options_bytes(self.options))

    @classmethod
    def parse(cls, r):
        version = r.uint(1, "Version")
        r.uint(1, "Reserved")  # ignored by a receiver (§6.2)
        m = cls(version, r.uint(2, "Max Frame"), r.uint(4, "Max Message"),
                r.uint(4, "Max In-flight"), r.uint(4, "Server PID"), r.uint(8, "Instance ID"))
        m.encoding = _read_encoding(r)
        m.options = _read_options(r)
        return m

    def fields(self):
        return {"version": self.version, "max_frame": self.max_frame,
                "max_message": self.max_message, "max_in_flight": self.max_in_flight,
                "server_pid": self.server_pid, "instance_id": "%016x" % self.instance_id,
                "encoding": self.encoding, "options": _options_json(self.options)}


def _call_prefix(method):
    raw = method.encode("utf-8")
    if not 1 <= len(raw) <= 255:
        raise EncodeError("method name must be 1..=255 UTF-8 octets, got %d" % len(raw))
    return struct.pack(">B", len(raw)) + raw


def _parse_call(r):
    n = r.uint(1, "Method Length")
    if n == 0:
        r.fail("empty method name")
    return r.utf8(n, "Method"), r.rest()


@dataclass
class Request:
    """REQUEST (§6.3): a call; answered by exactly one RESPONSE or ERROR (FR-CALL-2)."""

    TYPE = REQUEST
    request: int
    method: str
    body: bytes = b""

    def encode_parts(self):
        return [_call_prefix(self.method), self.body]

    @classmethod
    def parse(cls, r, request):
        method, body = _parse_call(r)
        return cls(request, method, body)

    def fields(self):
        return {"method": self.method, "body": bytes(self.body).hex()}


@dataclass
class Notify:
    """NOTIFY (§6.3): a call that is never answered (FR-CALL-7)."""

    TYPE = NOTIFY
    method: str
    body: bytes = b""
    request: int = 0

    def encode_parts(self):
        return [_call_prefix(self.method), self.body]

    @classmethod
    def parse(cls, r):
        method, body = _parse_call(r)
        return cls(method, body)

    def fields(self):
        return {"method": self.method, "body": bytes(self.body).hex()}


@dataclass
class Response:
    """RESPONSE (§6.4): the whole message is the body."""

    TYPE = RESPONSE
    request: int
    body: bytes = b""

    def encode_parts(self):
        return [self.body]

    @classmethod
    def parse(cls, r, request):
        return cls(request, r.rest())

    def fields(self):
        return {"body": bytes(self.body).hex()}


@dataclass
class Error:
    """ERROR (§6.5): a call failed; ``code`` from §11.1, 1000 and up for the service."""

    TYPE = ERROR
    request: int
    code: int
    message: str = ""
    details: bytes = b""

    def encode_parts(self):
        raw = self.message.encode("utf-8")
        if len(raw) > 0xFFFF:
            raise EncodeError("error message of %d octets exceeds 65535" % len(raw))
        return [struct.pack(">HH", self.code, len(raw)) + raw, self.details]

    @classmethod
    def parse(cls, r, request):
        code = r.uint(2, "Code")
        n = r.uint(2, "Message Length")
        return cls(request, code, r.utf8(n, "Message"), r.rest())

    def fields(self):
        return {"code": self.code, "message": self.message, "details": bytes(self.details).hex()}


@dataclass
class Cancel:
    """CANCEL (§6.6): empty payload; the Request ID names the call (FR-CANCEL-1)."""

    TYPE = CANCEL
    request: int

    def encode_payload(self):
        return b""

    @classmethod
    def parse(cls, r, request):
        r.end()
        return cls(request)

    def fields(self):
        return {}


@dataclass
class Ping:
    """PING (§6.7): 8 opaque octets, answered by a PONG that copies them (FR-PING-1)."""

    TYPE = PING
    opaque: bytes
    request: int = 0

    def encode_payload(self):
        if len(self.opaque) != 8:
            raise EncodeError("opaque must be 8 octets, got %d" % len(self.opaque))
        return bytes(self.opaque)

    @classmethod
    def parse(cls, r):
        m = cls(r.take(8, "Opaque"))
        r.end()
        return m

    def fields(self):
        return {"opaque": bytes(self.opaque).hex()}


@dataclass
class Pong(Ping):
    """PONG (§6.7): the answer to PING."""

    TYPE = PONG


@dataclass
class Goodbye:
    """GOODBYE (§6.8): the end of a session, with a §11.2 code."""

    TYPE = GOODBYE
    code: int
    last_request_id: int = 0
    message: str = ""
    request: int = 0

    def encode_payload(self):
        raw = self.message.encode("utf-8")
        return struct.pack(">HIH", self.code, self.last_request_id, len(raw)) + raw

    @classmethod
    def parse(cls, r):
        code = r.uint(2, "Code")
        last = r.uint(4, "Last Request ID")
        n = r.uint(2, "Message Length")
        m = cls(code, last, r.utf8(n, "Message"))
        r.end()
        return m

    def fields(self):
        return {"code": self.code, "last_request_id": self.last_request_id,
                "message": self.message}


_PARSERS = {HELLO: Hello, WELCOME: Welcome, NOTIFY: Notify, PING: Ping, PONG: Pong,
            GOODBYE: Goodbye}
_SCOPED_PARSERS = {REQUEST: Request, RESPONSE: Response, ERROR: Error, CANCEL: Cancel}


def parse(frame_type: int, request: int, payload):
    """Parses the payload (or reassembled message) of an assigned type into a message object.

    Raises :class:`~fiforpc.errors.MalformedPayload` (FR-TYPE-4).
    """
    r = _Reader(frame_type, payload)
    if frame_type in _SCOPED_PARSERS:
        return _SCOPED_PARSERS[frame_type].parse(r, request)
    return _PARSERS[frame_type].parse(r)


def encode(message, session: int, max_frame: int):
    """Encodes a message object into frames (fragmenting when needed); returns a list of bytes."""
    if hasattr(message, "encode_parts"):
        parts = message.encode_parts()
    else:
        parts = [message.encode_payload()]
    return encode_message(message.TYPE, session, message.request, parts, max_frame)


def to_vector(session: int, message) -> dict:
    """The §13.1 JSON form of a message: ``type``, ``session``, ``request`` and its fields."""
    out = {"type": TYPE_NAMES[message.TYPE], "session": session, "request": message.request}
    out.update(message.fields())
    return out
