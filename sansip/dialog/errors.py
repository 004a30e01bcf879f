"""Errors a dialog raises for requests the peer sent.

Both are :class:`ParseError` subclasses (so :class:`RemoteProtocolError`
too) whose ``status`` is the response the UAS core should send.
"""

from __future__ import annotations

from sansip.message.errors import ParseError

__all__ = ["DialogGone", "RequestOutOfOrder"]


class RequestOutOfOrder(ParseError):
    """A request whose CSeq is lower than the last one seen in the dialog:
    answer 500 (RFC 3261 §12.2.2)."""

    def __init__(self, reason: str = "CSeq out of order") -> None:
        super().__init__(reason, 500)


class DialogGone(ParseError):
    """A request for a dialog that has terminated: answer 481 (RFC 3261 §12.2.2)."""

    def __init__(self, reason: str = "Call/Transaction Does Not Exist") -> None:
        super().__init__(reason, 481)
