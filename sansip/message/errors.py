"""Errors raised by the SIP message layer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sansip.errors import LocalProtocolError, RemoteProtocolError

if TYPE_CHECKING:
    from sansip.message.headers import Headers

__all__ = ["LocalProtocolError", "ParseError", "RemoteProtocolError"]


class ParseError(RemoteProtocolError):
    """A message, header or URI that does not follow the SIP grammar.

    ``status`` is what a UAS answers: 400 for most syntax errors, 505 for an
    unsupported SIP version, 513 for a message that is too large, 416 for a
    Request-URI scheme it cannot handle.  ``reason`` says what was wrong and
    is safe to put in a reason phrase (ASCII, no CR/LF).
    """

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason, status)
        #: The start line and header fields of the message, when the parser
        #: got far enough to split them: enough for ``make_response``.
        self.start_line: str | None = None
        self.headers: Headers | None = None
