"""multipart/* bodies (RFC 2046 §5.1), as carried in SIP (RFC 5621).

Parts are split on the boundary from the Content-Type; each part's bytes are
kept exactly, so binary parts (NUL, bare CR or LF) survive (RFC 4475 mpart01).
"""

from __future__ import annotations

from typing import NamedTuple

from sansip.message.errors import LocalProtocolError, ParseError
from sansip.message.fields import MediaType, parse_media_type
from sansip.message.headers import Headers

__all__ = ["BodyPart", "parse_multipart"]


class BodyPart(NamedTuple):
    """One part of a multipart body: its headers and its exact octets."""

    headers: Headers
    body: bytes

    @property
    def content_type(self) -> MediaType | None:
        """The part's Content-Type, or None (RFC 2046 default text/plain)."""
        value = self.headers.get("Content-Type")
        return None if value is None else parse_media_type(value)


def _part_headers(text: bytes) -> Headers:
    headers = Headers()
    if not text:
        return headers
    decoded = text.decode("utf-8", "surrogateescape").replace("\r\n ", " ").replace("\r\n\t", " ")
    for line in decoded.split("\r\n"):
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise ParseError("malformed header in body part")
        try:
            headers.add(name.strip(), value.strip(" \t"))
        except LocalProtocolError:
            raise ParseError("malformed header in body part") from None
    headers.modified = False
    return headers


def parse_multipart(body: bytes, content_type: MediaType) -> list[BodyPart]:
    """Split a multipart body into its parts.

    Raises :class:`ParseError` when the type is not multipart, the boundary
    parameter is missing or the body holds no closing delimiter.
    """
    if content_type.type.lower() != "multipart":
        raise ParseError("not a multipart body", 415)
    boundary = content_type.param("boundary")
    if not boundary:
        raise ParseError("multipart body without boundary")
    delimiter = b"--" + boundary.encode("utf-8", "surrogateescape")
    # The first delimiter may start the body; later ones follow a CRLF.
    if body.startswith(delimiter):
        pos = 0
    else:
        pos = body.find(b"\r\n" + delimiter)
        if pos < 0:
            raise ParseError("multipart body without its boundary")
        pos += 2
    parts: list[BodyPart] = []
    while True:
        after = pos + len(delimiter)
        if body[after : after + 2] == b"--":
            return parts
        line_end = body.find(b"\r\n", after)
        if line_end < 0:
            raise ParseError("multipart delimiter line not terminated")
        start = line_end + 2
        nxt = body.find(b"\r\n" + delimiter, start - 2 if start >= 2 else start)
        if nxt < 0:
            raise ParseError("multipart body without closing delimiter")
        chunk = body[start:nxt] if nxt >= start else b""
        head_end = chunk.find(b"\r\n\r\n")
        if chunk.startswith(b"\r\n"):
            head, content = b"", chunk[2:]
        elif head_end < 0:
            raise ParseError("body part without header/body separator")
        else:
            head, content = chunk[:head_end], chunk[head_end + 4 :]
        parts.append(BodyPart(_part_headers(head), content))
        pos = nxt + 2
