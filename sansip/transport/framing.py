"""Framing SIP messages on a byte stream (TCP, TLS): RFC 3261 §18.3, RFC 5626 §4.4.1.

On a stream, Content-Length is the only thing that says where a message
ends, so it is mandatory; a stream whose framing cannot be trusted any more
is broken for good.  Between messages, CRLFs are keep-alives (RFC 5626
§3.5.1): a double CRLF is a ping, which the framer answers with a single
CRLF (the pong) in :meth:`StreamFramer.data_to_send`; a single CRLF is a pong.

>>> framer = StreamFramer()
>>> framer.receive_data(b"\\r\\n\\r\\n", now=0.0)
>>> framer.next_event(), framer.data_to_send()
(KeepAlivePing(), b'\\r\\n')
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum, auto
from typing import Final, TypeAlias

from sansip.message import Headers, ParseError, Request, Response, parse

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "KeepAlivePing",
    "KeepAlivePong",
    "MessageReceived",
    "MessageRejected",
    "StreamBroken",
    "StreamEvent",
    "StreamFramer",
]

#: The default limit on one message (header section plus body), in octets.
DEFAULT_MAX_MESSAGE_SIZE: Final = 65535

_CRLF: Final = b"\r\n"
_END_OF_HEADERS: Final = b"\r\n\r\n"
_LENGTH_NAMES: Final = frozenset((b"content-length", b"l"))
# Content-Length values longer than this cannot fit any limit worth having
# (and int() refuses very long digit strings).
_MAX_LENGTH_DIGITS: Final = 12


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A complete message arrived and parsed."""

    message: Request | Response


@dataclass(frozen=True, slots=True)
class MessageRejected:
    """A complete, correctly framed message arrived but does not parse.

    ``error`` carries the status a UAS answers (400, 505, ...); ``start_line``
    and ``headers`` are what the parser could split (None when it could not),
    enough for ``make_response(error, error.status)`` when a Via is there.
    The stream goes on with the next message.
    """

    error: ParseError
    start_line: str | None
    headers: Headers | None


@dataclass(frozen=True, slots=True)
class KeepAlivePing:
    """A double CRLF between messages (RFC 5626 §4.4.1); the pong is queued."""


@dataclass(frozen=True, slots=True)
class KeepAlivePong:
    """A single CRLF between messages: the answer to a ping we sent."""


@dataclass(frozen=True, slots=True)
class StreamBroken:
    """The framing is lost (bad or missing Content-Length, message too large).

    Nothing more is parsed from this stream; the connection should be closed.
    """

    reason: str


StreamEvent: TypeAlias = (
    MessageReceived | MessageRejected | KeepAlivePing | KeepAlivePong | StreamBroken
)


class _State(Enum):
    IDLE = auto()  # between messages: CRLF keep-alives or a start line
    HEADERS = auto()  # inside a header section, looking for CRLFCRLF
    BODY = auto()  # header section complete, waiting for the body octets
    BROKEN = auto()  # framing lost; everything is ignored


class StreamFramer:
    """Splits one byte stream into SIP messages and keep-alives (sans-IO).

    Feed the received octets with :meth:`receive_data`, pull events with
    :meth:`next_event` until it returns None, and write :meth:`data_to_send`
    back on the same connection.  Work per octet is constant however the
    stream is split: the search for the end of a header section resumes
    where it stopped.

    ``max_message_size`` bounds one message (header section and body); a
    bigger one breaks the stream, since its octets could only be skipped by
    trusting a Content-Length nobody checked.  ``answer_pings=False`` leaves
    the pongs to the caller.
    """

    def __init__(
        self, *, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE, answer_pings: bool = True
    ) -> None:
        if max_message_size < 1:
            raise ValueError("max_message_size must be positive")
        self._max = max_message_size
        self._answer_pings = answer_pings
        self._buf = bytearray()
        self._pos = 0  # first octet not consumed yet
        self._state = _State.IDLE
        self._search = 0  # where the next CRLFCRLF search starts
        self._body_start = 0
        self._body_end = 0
        # A lone CRLF was reported as a pong at the very end of the data; a
        # CRLF arriving right after it means the two were a ping split in two.
        self._pong_at_end = False
        self._events: deque[StreamEvent] = deque()
        self._outbox = bytearray()

    @property
    def broken(self) -> bool:
        """Whether the framing was lost (a :class:`StreamBroken` was queued)."""
        return self._state is _State.BROKEN

    @property
    def buffered(self) -> int:
        """How many received octets wait for the rest of their message."""
        return len(self._buf) - self._pos

    def receive_data(self, data: bytes, now: float) -> None:
        """Feed octets received on the stream; never raises on bad input.

        ``now`` is accepted for the common machine shape and not used.
        """
        if self._state is _State.BROKEN or not data:
            return
        self._buf += data
        self._process()
        self._compact()

    def receive_eof(self, now: float) -> None:
        """The peer closed its side; a message cut short breaks the stream."""
        if self._state is _State.BROKEN:
            return
        if self._state is not _State.IDLE or self._buf[self._pos :].strip(b"\r\n"):
            self._break("connection closed inside a message")

    def next_event(self) -> StreamEvent | None:
        """The next event, or None when there is nothing more to report yet."""
        return self._events.popleft() if self._events else None

    def data_to_send(self) -> bytes:
        """The octets owed to the peer (pongs); drains them."""
        out = bytes(self._outbox)
        self._outbox.clear()
        return out

    # -- internals -----------------------------------------------------------
    def _break(self, reason: str) -> None:
        self._state = _State.BROKEN
        self._events.append(StreamBroken(reason))
        self._buf.clear()
        self._pos = 0

    def _compact(self) -> None:
        pos = self._pos
        if pos and (pos >= len(self._buf) or pos > 4096):
            del self._buf[:pos]
            self._search = max(self._search - pos, 0)
            self._body_start -= pos
            self._body_end -= pos
            self._pos = 0

    def _process(self) -> None:
        while True:
            state = self._state
            if state is _State.IDLE:
                if not self._idle():
                    return
            elif state is _State.HEADERS:
                if not self._headers():
                    return
            elif state is _State.BODY:
                if not self._body():
                    return
            else:
                return

    def _idle(self) -> bool:
        """Consume keep-alives; return False when more data is needed."""
        buf, pos = self._buf, self._pos
        available = len(buf) - pos
        if available == 0:
            return False
        if buf[pos] != 13:  # not CR: a start line begins here
            self._pong_at_end = False
            self._state = _State.HEADERS
            self._search = pos
            return True
        if available < 2:
            return False
        if buf[pos + 1] != 10:  # CR without LF: let the message parser judge it
            self._pong_at_end = False
            self._state = _State.HEADERS
            self._search = pos
            return True
        if self._pong_at_end:  # the second half of a ping split across reads
            self._pong_at_end = False
            self._ping(pos + 2)
            return True
        if available >= 4 and buf[pos + 2 : pos + 4] == _CRLF:
            self._ping(pos + 4)
            return True
        if available == 3 and buf[pos + 2] == 13:
            return False  # CRLF CR: wait for the octet that decides ping or pong
        self._pos = pos + 2
        self._pong_at_end = available == 2
        self._events.append(KeepAlivePong())
        return True

    def _ping(self, end: int) -> None:
        self._pos = end
        self._events.append(KeepAlivePing())
        if self._answer_pings:
            self._outbox += _CRLF

    def _headers(self) -> bool:
        buf, start = self._buf, self._pos
        end = buf.find(_END_OF_HEADERS, self._search)
        if end < 0:
            self._search = max(len(buf) - 3, start)
            if len(buf) - start > self._max:
                self._break("header section larger than the message size limit")
            return False
        body_start = end + 4
        if body_start - start > self._max:
            self._break("header section larger than the message size limit")
            return False
        length = _content_length(bytes(buf[start:end]))
        if isinstance(length, str):
            self._break(length)
            return False
        if body_start + length - start > self._max:
            self._break("message larger than the message size limit")
            return False
        self._body_start = body_start
        self._body_end = body_start + length
        self._state = _State.BODY
        return True

    def _body(self) -> bool:
        end = self._body_end
        if len(self._buf) < end:
            return False
        data = bytes(self._buf[self._pos : end])
        self._pos = end
        self._state = _State.IDLE
        try:
            message = parse(data, max_size=max(self._max, len(data)))
        except ParseError as exc:
            self._events.append(MessageRejected(exc, exc.start_line, exc.headers))
        else:
            self._events.append(MessageReceived(message))
        return True


def _content_length(head: bytes) -> int | str:
    """The Content-Length of a header section, or why the framing is lost.

    Only what framing needs is read: folded lines are joined, every
    Content-Length (or ``l``) field must hold the same non-negative number.
    The full parser judges everything else later.
    """
    values: list[bytes] = []
    current: bytearray | None = None  # the Content-Length value being unfolded
    for line in head.split(_CRLF)[1:]:
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                current += b" " + line
            continue
        if current is not None:
            values.append(bytes(current))
            current = None
        name, colon, value = line.partition(b":")
        if colon and name.rstrip(b" \t").lower() in _LENGTH_NAMES:
            current = bytearray(value)
    if current is not None:
        values.append(bytes(current))
    if not values:
        return "missing Content-Length on a stream"
    numbers = set()
    for value in values:
        text = value.strip(b" \t")
        if not text.isdigit():
            return "malformed Content-Length"
        text = text.lstrip(b"0") or b"0"
        if len(text) > _MAX_LENGTH_DIGITS:
            return "Content-Length too large"
        numbers.add(int(text))
    if len(numbers) > 1:
        return "conflicting Content-Length values"
    return numbers.pop()
