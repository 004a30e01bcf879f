"""Tags and Call-IDs (RFC 3261 §19.3, §8.1.1.4), drawn from an injected
random source.

Randomness comes only from a source with ``getrandbits(k)``
(``secrets.SystemRandom()`` in production, a seeded ``random.Random`` in
tests and simulation), so equal seeds give equal tags and Call-IDs.
"""

from __future__ import annotations

from typing import Final, Protocol

from sansip.message.errors import LocalProtocolError, ParseError
from sansip.message.fields import parse_call_id

__all__ = ["CALL_ID_BITS", "TAG_BITS", "RandomSource", "new_call_id", "new_tag"]

#: Random bits in a tag: RFC 3261 §19.3 asks for at least 32.
TAG_BITS: Final = 64
#: Random bits in the local part of a Call-ID (§8.1.1.4: globally unique).
CALL_ID_BITS: Final = 128


class RandomSource(Protocol):
    """Where tags and Call-IDs get their randomness (``random.Random`` fits)."""

    def getrandbits(self, k: int, /) -> int:
        """A non-negative integer of ``k`` random bits."""
        ...


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
