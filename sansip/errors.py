"""The two error kinds shared by every sansip layer.

This module is a leaf: it imports nothing from sansip, so every layer
(``message`` included, which otherwise imports nothing of sansip) may use it.
"""

from __future__ import annotations

__all__ = ["LocalProtocolError", "RemoteProtocolError", "SansipError"]


class SansipError(Exception):
    """Base class of every error sansip raises on purpose."""


class LocalProtocolError(SansipError):
    """The caller misused the API: a command that is illegal in this state,
    a value that cannot be encoded, a message that cannot be sent."""


class RemoteProtocolError(SansipError):
    """The peer sent something that breaks the protocol.

    ``status`` is the SIP status a UAS should answer with (400 unless a
    more precise code applies) and ``reason`` the matching reason phrase.
    """

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason!r}, status={self.status})"
