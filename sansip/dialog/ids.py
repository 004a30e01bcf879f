"""Dialog identifiers (RFC 3261 §12): which dialog a message belongs to.

The tags and Call-IDs themselves are drawn by :mod:`sansip.message.ids`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sansip.message.message import Request, Response

__all__ = ["DialogId", "dialog_id_of"]


@dataclass(frozen=True, slots=True)
class DialogId:
    """The identity of a dialog as seen from one side (RFC 3261 §12).

    ``remote_tag`` is ``""`` when the peer sent no tag (an RFC 2543 peer:
    the tag is then "null", §12.1.2).
    """

    call_id: str
    local_tag: str
    remote_tag: str


def dialog_id_of(msg: Request | Response, *, uas: bool) -> DialogId | None:
    """The id of the dialog ``msg`` belongs to, from the side of this UA.

    ``uas`` says which side of ``msg``'s transaction this UA is: ``True``
    for a request it received (or a response it sends), where the local tag
    is the To tag; ``False`` for a request it sends (or a response it
    received), where the local tag is the From tag (§12.2.2, §12.2.1.2).
    Returns None when the local tag is missing: a request without a To tag
    is outside any dialog.  Raises :class:`ParseError` for a malformed
    From, To or Call-ID.
    """
    local, remote = (msg.to, msg.from_) if uas else (msg.from_, msg.to)
    local_tag = local.tag
    if not local_tag:
        return None
    return DialogId(msg.call_id, local_tag, remote.tag or "")
