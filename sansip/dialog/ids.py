"""Dialog identifiers, tags and Call-IDs (RFC 3261 §12, §19.3).

Randomness comes only from an injected source with ``getrandbits(k)``
(``secrets.SystemRandom()`` in production, a seeded ``random.Random`` in
tests and simulation), so equal seeds give equal tags and Call-IDs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

from sansip.message.errors import LocalProtocolError, ParseError
from sansip.message.fields import parse_call_id
from sansip.message.message import Request, Response

__all__ = ["CALL_ID_BITS", "TAG_BITS", "DialogId", "RandomSource", "dialog_id_of", "new_call_id",
           "new_tag"]  # fmt: skip

#: Random bits in a tag: RFC 3261 §19.3 asks for at least 32.
TAG_BITS: Final = 64
#: Random bits in the local part of a Call-ID (§8.1.1.4: globally unique).
CALL_ID_BITS: Final = 128


class RandomSource(Protocol):
    """Where tags and Call-IDs get their randomness (``random.Random`` fits)."""

    def getrandbits(self, k: int, /) -> int:
        """A non-negative integer of ``k`` random bits."""
        ...


@dataclass(frozen=True, slots=True)
class DialogId:
    """The identity of a dialog as seen from one side (RFC 3261 §12).

    ``remote_tag`` is ``""`` when the peer sent no tag (an RFC 2543 peer:
    the tag is then "null", §12.1.2).
    """

    call_id: str
    local_tag: str
    remote_tag: str


def new_tag(rng: RandomSource) -> str:
    """A fresh From/To tag: :data:`TAG_BITS` random bits as lower-case hex."""
    return f"{rng.getrandbits(TAG_BITS):0{TAG_BITS // 4}x}"


def new_call_id(rng: RandomSource, host: str = "") -> str:
    """A fresh Call-ID: :data:`CALL_ID_BITS` random bits in hex, then ``@host``
    when ``host`` is given (RFC 3261 §8.1.1.4).

    Raises :class:`LocalProtocolError` if ``host`` cannot appear in a Call-ID.
    """
    local = f"{rng.getrandbits(CALL_ID_BITS):0{CALL_ID_BITS // 4}x}"
    call_id = f"{local}@{host}" if host else local
    try:
        return parse_call_id(call_id)
    except ParseError:
        raise LocalProtocolError(f"{host!r} cannot appear in a Call-ID") from None


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
