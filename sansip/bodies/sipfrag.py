"""message/sipfrag (RFC 3420) as REFER's NOTIFYs carry it (RFC 3515): the
status line of the referred request's latest response, e.g.
``SIP/2.0 180 Ringing``, possibly followed by header fields.

Only status-line fragments are read here (what a REFER subscription
reports); a fragment's own body, after an empty line, is ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sansip.bodies.errors import BodyError
from sansip.errors import LocalProtocolError

__all__ = ["MAX_SIZE", "SipFrag", "build_sipfrag", "parse_sipfrag"]

#: Largest fragment accepted.
MAX_SIZE = 65536

_STATUS_LINE = re.compile(r"SIP/2\.0[ \t]+([1-6][0-9][0-9])(?:[ \t]+(.*))?", re.IGNORECASE)
_TOKEN = re.compile(r"[A-Za-z0-9.!%*_+`'~-]+\Z")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


@dataclass(frozen=True)
class SipFrag:
    """A status-line fragment: the status code, the reason phrase and the
    header fields that followed it as (name, value) pairs."""

    status: int
    reason: str = ""
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def final(self) -> bool:
        """Whether the status is final (200 or above): the REFER
        subscription ends with this report."""
        return self.status >= 200

    @property
    def success(self) -> bool:
        """Whether the referred request succeeded (2xx)."""
        return 200 <= self.status < 300


def parse_sipfrag(data: bytes) -> SipFrag:
    """Parse a message/sipfrag body holding a status line; raises
    :class:`BodyError` for anything else (a request line, a status outside
    100-699, a malformed header field)."""
    if len(data) > MAX_SIZE:
        raise BodyError(f"sipfrag larger than {MAX_SIZE} bytes", 413)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError("sipfrag is not UTF-8") from None
    lines = text.replace("\r\n", "\n").split("\n")
    match = _STATUS_LINE.fullmatch(lines[0].strip(" \t"))
    if match is None:
        raise BodyError("sipfrag does not start with a SIP/2.0 status line")
    reason = match.group(2) or ""
    if _CONTROL.search(reason):
        raise BodyError("control character in sipfrag reason phrase")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line.strip(" \t"):
            break
        if _CONTROL.search(line):
            raise BodyError("control character in sipfrag header")
        if line[0] in " \t" and headers:
            name, value = headers[-1]
            headers[-1] = (name, (value + " " + line.strip(" \t")).strip(" \t"))
            continue
        name, colon, value = line.partition(":")
        name = name.strip(" \t")
        if not colon or not _TOKEN.match(name):
            raise BodyError("malformed header in sipfrag")
        headers.append((name, value.strip(" \t")))
    return SipFrag(int(match.group(1)), reason.strip(" \t"), tuple(headers))


def build_sipfrag(status: int, reason: str, headers: tuple[tuple[str, str], ...] = ()) -> bytes:
    """The message/sipfrag body ``SIP/2.0 <status> <reason>`` (CRLF ended),
    with ``headers`` after it.

    Raises :class:`LocalProtocolError` for a status outside 100-699, or a
    reason or header that cannot be written on one line.
    """
    if not 100 <= status <= 699:
        raise LocalProtocolError(f"status {status} out of range 100-699")
    if _CONTROL.search(reason) or reason != reason.strip(" \t"):
        raise LocalProtocolError(f"cannot write reason phrase {reason!r}")
    out = [f"SIP/2.0 {status} {reason}\r\n"]
    for name, value in headers:
        if not _TOKEN.match(name) or _CONTROL.search(value) or value != value.strip(" \t"):
            raise LocalProtocolError(f"cannot write header {name!r} in a sipfrag")
        out.append(f"{name}: {value}\r\n")
    return "".join(out).encode("utf-8")
