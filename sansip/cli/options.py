"""Command-line values shared by the ``sansip`` commands."""

from __future__ import annotations

import random
import uuid

from sansip.message import is_token
from sansip.transport.types import parse_hostport

__all__ = ["instance_id", "parse_custom_headers", "parse_hostport", "parse_params"]

# Fields the stack writes itself: a custom header must not replace them.
_MANAGED = frozenset(
    {"via", "v", "from", "f", "to", "t", "call-id", "i", "cseq", "content-length", "l",
     "contact", "m", "max-forwards", "route", "record-route"}
)  # fmt: skip


def parse_params(pairs: list[str]) -> dict[str, str]:
    """``-p name=value`` arguments as a dict (names lower-cased)."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"sansip: -p wants name=value, got {pair!r}")
        out[name.strip().lower()] = value.strip()
    return out


def parse_custom_headers(text: str) -> tuple[tuple[str, str], ...]:
    """The ``customsipheader`` parameter: ``Name: value`` fields separated by
    ``;``, or by line breaks when a value itself holds ``;``."""
    if not text.strip():
        return ()
    parts = text.splitlines() if ("\n" in text or "\r" in text) else text.split(";")
    out: list[tuple[str, str]] = []
    for part in parts:
        if not part.strip():
            continue
        name, colon, value = part.partition(":")
        name = name.strip()
        if not colon or not is_token(name) or name.lower() in _MANAGED:
            raise SystemExit(f"sansip: bad customsipheader field {part.strip()!r}")
        out.append((name, value.strip()))
    return tuple(out)


def instance_id(params: dict[str, str], rng: random.Random) -> str | None:
    """The RFC 5626 instance id: ``-p instanceid=UUID``, or a fresh one with
    ``-p outbound=1``; None when outbound is off."""
    given = params.get("instanceid")
    if given:
        try:
            return str(uuid.UUID(given.removeprefix("urn:uuid:")))
        except ValueError:
            raise SystemExit(f"sansip: instanceid {given!r} is not a UUID") from None
    if params.get("outbound", "0").lower() in ("1", "true", "yes", "on"):
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return None
