"""The one error the body parsers raise."""

from __future__ import annotations

from sansip.errors import RemoteProtocolError

__all__ = ["BodyError"]


def _phrase(text: str) -> str:
    """``text`` as a safe reason phrase: printable ASCII only, bounded."""
    cleaned = "".join(c if " " <= c <= "~" else "?" for c in text)
    return cleaned[:200]


class BodyError(RemoteProtocolError):
    """A message body that cannot be understood.

    ``status`` is what a UAS answers with: 400 (Bad Request) for a malformed
    body, 413 (Request Entity Too Large) for one over the size limit and 415
    (Unsupported Media Type) for a content type no parser handles.
    ``reason`` is printable ASCII, safe to put in a reason phrase.
    """

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(_phrase(reason), status)
