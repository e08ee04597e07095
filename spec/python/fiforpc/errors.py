"""Errors of FIFO-RPC/1.

Receiver errors (spec §11.3) are values, not exceptions: a receiver reports them as events and
carries on (FR-ERR-1). :class:`ProtocolError` is still an ``Exception`` subclass so that the parsing
helpers can raise it and the session code can raise it to a caller.
"""

# Receiver error names, spec §11.3.
BAD_MAGIC = "BAD_MAGIC"
FRAME_TOO_SHORT = "FRAME_TOO_SHORT"
FRAME_TOO_LARGE = "FRAME_TOO_LARGE"
BAD_CHECKSUM = "BAD_CHECKSUM"
UNSUPPORTED_VERSION = "UNSUPPORTED_VERSION"
BAD_HEADER_LENGTH = "BAD_HEADER_LENGTH"
BAD_EXTENSION = "BAD_EXTENSION"
UNKNOWN_CRITICAL_EXTENSION = "UNKNOWN_CRITICAL_EXTENSION"
UNKNOWN_CRITICAL_TYPE = "UNKNOWN_CRITICAL_TYPE"
ZERO_SESSION = "ZERO_SESSION"
TRUNCATED_FRAME = "TRUNCATED_FRAME"
BAD_REQUEST_ID = "BAD_REQUEST_ID"
MALFORMED_PAYLOAD = "MALFORMED_PAYLOAD"
UNEXPECTED_FRAGMENT = "UNEXPECTED_FRAGMENT"
MESSAGE_TOO_LARGE = "MESSAGE_TOO_LARGE"
TRUNCATED_MESSAGE = "TRUNCATED_MESSAGE"

#: Not a §11.3 name: this implementation's answer to FR-FRAG-7 (too many messages being
#: reassembled at once). The spec leaves the reaction to the receiver.
TOO_MANY_PARTIAL_MESSAGES = "TOO_MANY_PARTIAL_MESSAGES"


class ProtocolError(Exception):
    """A receiver error: ``name`` is the §11.3 name, ``detail`` says what was wrong.

    ``session``, ``request`` and ``frame_type`` are filled in when they are known (reassembly
    errors carry the key of the message they concern).
    """

    def __init__(self, name, detail="", session=None, request=None, frame_type=None):
        self.name = name
        self.detail = detail
        self.session = session
        self.request = request
        self.frame_type = frame_type
        super().__init__("%s: %s" % (name, detail) if detail else name)


class EncodeError(ValueError):
    """A local misuse on the sending side: a frame or message that may not be sent."""


class MalformedPayload(ProtocolError):
    """A payload that does not match its type's layout (FR-TYPE-4)."""

    def __init__(self, frame_type, detail):
        super().__init__(MALFORMED_PAYLOAD, detail, frame_type=frame_type)
