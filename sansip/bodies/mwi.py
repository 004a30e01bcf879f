"""Message waiting summaries: RFC 3842 application/simple-message-summary,
the body of message-summary NOTIFYs (MWI)::

    Messages-Waiting: yes
    Message-Account: sip:alice@vmail.example.com
    Voice-Message: 2/8 (0/2)

Each summary line gives new/old counts of one message class (RFC 3458:
voice-message, fax-message, ...) and, in parentheses, the urgent new/old
counts.  Header lines after the empty line (and unknown lines before it)
are kept as ``headers``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sansip.bodies.errors import BodyError
from sansip.errors import LocalProtocolError

__all__ = [
    "MAX_COUNT",
    "MAX_SIZE",
    "MESSAGE_CLASSES",
    "MessageCount",
    "MessageSummary",
    "build_message_summary",
    "parse_message_summary",
]

#: Largest body accepted.
MAX_SIZE = 65536
#: Largest message count written or read (nine digits).
MAX_COUNT = 999_999_999

#: The message context classes of RFC 3458.
MESSAGE_CLASSES = (
    "voice-message", "fax-message", "pager-message", "multimedia-message", "text-message", "none",
)  # fmt: skip

_COUNTS = re.compile(
    r"([0-9]{1,9})[ \t]*/[ \t]*([0-9]{1,9})"
    r"(?:[ \t]*\([ \t]*([0-9]{1,9})[ \t]*/[ \t]*([0-9]{1,9})[ \t]*\))?"
)
_TOKEN = re.compile(r"[A-Za-z0-9.!%*_+`'~-]+\Z")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


@dataclass(frozen=True)
class MessageCount:
    """The counts of one message class: new and old, urgent new and old."""

    new: int = 0
    old: int = 0
    urgent_new: int = 0
    urgent_old: int = 0


@dataclass(frozen=True)
class MessageSummary:
    """A parsed message summary.

    ``counts`` pairs a lower-case message class (``"voice-message"``) with
    its :class:`MessageCount`, in body order; ``headers`` are the other
    lines as (name, value) pairs.
    """

    waiting: bool
    account: str | None = None
    counts: tuple[tuple[str, MessageCount], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()

    def count(self, kind: str = "voice-message") -> MessageCount | None:
        """The counts of message class ``kind``, or None when not given."""
        return next((c for k, c in self.counts if k == kind.lower()), None)


def _lines(data: bytes) -> list[str]:
    if len(data) > MAX_SIZE:
        raise BodyError(f"message summary larger than {MAX_SIZE} bytes", 413)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError("message summary is not UTF-8") from None
    lines: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line[:1] in (" ", "\t") and lines and lines[-1]:
            lines[-1] += " " + line.strip(" \t")  # a folded line
        else:
            lines.append(line.rstrip(" \t"))
    while lines and not lines[0]:
        del lines[0]
    return lines


def parse_message_summary(data: bytes) -> MessageSummary:
    """Parse an application/simple-message-summary body; raises
    :class:`BodyError` when Messages-Waiting is missing or not yes/no, a
    summary line's counts are malformed, or a line is not a header."""
    waiting: bool | None = None
    account: str | None = None
    counts: list[tuple[str, MessageCount]] = []
    headers: list[tuple[str, str]] = []
    in_summary = True
    for line in _lines(data):
        if not line:
            in_summary = False
            continue
        name, colon, value = line.partition(":")
        name, value = name.strip(" \t"), value.strip(" \t")
        if not colon or not _TOKEN.match(name) or _CONTROL.search(value):
            raise BodyError("malformed line in message summary")
        key = name.lower()
        if in_summary and key == "messages-waiting":
            if value.lower() not in ("yes", "no"):
                raise BodyError("Messages-Waiting is neither yes nor no")
            waiting = value.lower() == "yes"
        elif in_summary and key == "message-account":
            account = value
        elif in_summary and (key in MESSAGE_CLASSES or key.endswith("-message")):
            match = _COUNTS.fullmatch(value)
            if match is None:
                raise BodyError(f"malformed {name} counts in message summary")
            numbers = [int(n) if n else 0 for n in match.groups()]
            counts.append((key, MessageCount(*numbers)))
        else:
            headers.append((name, value))
    if waiting is None:
        raise BodyError("message summary without Messages-Waiting")
    return MessageSummary(waiting, account, tuple(counts), tuple(headers))


def _header_line(name: str, value: str) -> str:
    if not _TOKEN.match(name) or _CONTROL.search(value) or value != value.strip(" \t"):
        raise LocalProtocolError(f"cannot write header {name!r} in a message summary")
    return f"{name}: {value}\r\n"


def build_message_summary(summary: MessageSummary) -> bytes:
    """The application/simple-message-summary body of ``summary``.

    Summary lines always carry the urgent counts; headers follow an empty
    line.  Raises :class:`LocalProtocolError` for a count outside
    0..:data:`MAX_COUNT`, a class that is not a message class token, or a name or value
    that cannot be written on one line.
    """
    out = ["Messages-Waiting: yes\r\n" if summary.waiting else "Messages-Waiting: no\r\n"]
    if summary.account is not None:
        out.append(_header_line("Message-Account", summary.account))
    for kind, count in summary.counts:
        kind = kind.lower()
        if kind not in MESSAGE_CLASSES and not kind.endswith("-message"):
            raise LocalProtocolError(f"{kind!r} is not a message class")
        numbers = (count.new, count.old, count.urgent_new, count.urgent_old)
        if not all(0 <= n <= MAX_COUNT for n in numbers):
            raise LocalProtocolError(f"message count out of range in {numbers}")
        name = "-".join(part.capitalize() for part in kind.split("-"))
        out.append(_header_line(name, "{}/{} ({}/{})".format(*numbers)))
    if summary.headers:
        out.append("\r\n")
        out += [_header_line(name, value) for name, value in summary.headers]
    return "".join(out).encode("utf-8")
