"""Typing indications: RFC 3994 isComposing (application/im-iscomposing+xml).

An ``active`` indication says the peer is composing a message (of
``contenttype``) and promises a refresh within ``refresh`` seconds; an
``idle`` one that it stopped, last active at ``lastactive``.  No clock is
read here: the caller supplies any time stamp.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime

from sansip.bodies.errors import BodyError
from sansip.bodies.xml import first_child, parse_xml, serialize_xml, text_of
from sansip.errors import LocalProtocolError

__all__ = ["ISCOMPOSING_NS", "IsComposing", "build_iscomposing", "parse_iscomposing"]

ISCOMPOSING_NS = "urn:ietf:params:xml:ns:im-iscomposing"
_NS = f"{{{ISCOMPOSING_NS}}}"
_MAX_REFRESH = 2**31 - 1


@dataclass(frozen=True)
class IsComposing:
    """A composing indication: ``state`` is ``"active"`` or ``"idle"``;
    ``refresh`` is in seconds; ``lastactive`` may be naive or aware."""

    state: str
    lastactive: datetime | None = None
    contenttype: str | None = None
    refresh: int | None = None

    @property
    def active(self) -> bool:
        """Whether the peer is composing."""
        return self.state == "active"


def parse_iscomposing(data: bytes) -> IsComposing:
    """Parse an application/im-iscomposing+xml body; raises
    :class:`BodyError` for a missing or unknown state, a refresh that is not
    a positive number of seconds or a lastactive that is not a date-time."""
    root = parse_xml(data)
    if root.tag != f"{_NS}isComposing":
        raise BodyError("not an isComposing document")
    state = (text_of(first_child(root, f"{_NS}state")) or "").lower()
    if state not in ("active", "idle"):
        raise BodyError("isComposing state is neither active nor idle")
    lastactive = None
    text = text_of(first_child(root, f"{_NS}lastactive"))
    if text is not None:
        try:
            lastactive = datetime.fromisoformat(text)
        except ValueError:
            raise BodyError("isComposing lastactive is not a date-time") from None
    refresh = text_of(first_child(root, f"{_NS}refresh"))
    seconds = None
    if refresh is not None:
        if not refresh.isascii() or not refresh.isdigit() or len(refresh) > 10:
            raise BodyError("isComposing refresh is not a number")
        seconds = int(refresh)
        if not 0 < seconds <= _MAX_REFRESH:
            raise BodyError("isComposing refresh out of range")
    contenttype = text_of(first_child(root, f"{_NS}contenttype"))
    return IsComposing(state, lastactive, contenttype, seconds)


def build_iscomposing(indication: IsComposing) -> bytes:
    """The application/im-iscomposing+xml body of ``indication``.

    Raises :class:`LocalProtocolError` for a state other than active or
    idle, a refresh that is not a positive number of seconds, or text XML
    cannot carry.
    """
    if indication.state not in ("active", "idle"):
        raise LocalProtocolError(f"isComposing state {indication.state!r} is not active or idle")
    root = ET.Element("isComposing", {"xmlns": ISCOMPOSING_NS})
    ET.SubElement(root, "state").text = indication.state
    if indication.lastactive is not None:
        ET.SubElement(root, "lastactive").text = indication.lastactive.isoformat()
    if indication.contenttype is not None:
        ET.SubElement(root, "contenttype").text = indication.contenttype
    if indication.refresh is not None:
        if not 0 < indication.refresh <= _MAX_REFRESH:
            raise LocalProtocolError(f"isComposing refresh {indication.refresh} out of range")
        ET.SubElement(root, "refresh").text = str(indication.refresh)
    return serialize_xml(root)
