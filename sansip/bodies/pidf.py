"""Presence documents: PIDF (RFC 3863, application/pidf+xml) with the RPID
activities (RFC 4480) carried in a data-model person (RFC 4479).

The client's presence status strings map to documents like this:

============  =============  =========================
status        <basic>        RPID activities
============  =============  =========================
online        open           (none)
away          open           away
busy          open           busy
dnd           closed         busy
offline       closed         (none)
invisible     closed         (none): others see offline
============  =============  =========================

Reading a document (:func:`presence_status`) is more lenient: the
activities of RFC 4480 that mean "not at the desk" (vacation, meal, ...)
read as ``away``, those that mean "occupied" (on-the-phone, meeting, ...)
as ``busy``, and a closed status with such an activity as ``dnd``.  A
document never reads as ``invisible``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from sansip.bodies.errors import BodyError
from sansip.bodies.xml import (
    children,
    first_child,
    local_name,
    namespace,
    parse_xml,
    serialize_xml,
    text_of,
)
from sansip.errors import LocalProtocolError

__all__ = [
    "DM_NS",
    "PIDF_NS",
    "RPID_NS",
    "STATUSES",
    "Presence",
    "Tuple",
    "build_pidf",
    "build_presence",
    "parse_pidf",
    "presence_for_status",
    "presence_status",
]

PIDF_NS = "urn:ietf:params:xml:ns:pidf"
RPID_NS = "urn:ietf:params:xml:ns:pidf:rpid"
DM_NS = "urn:ietf:params:xml:ns:pidf:data-model"

#: The status strings :func:`build_pidf` takes.
STATUSES = ("online", "away", "busy", "dnd", "offline", "invisible")

_STATUS_DOCUMENT: dict[str, tuple[str, tuple[str, ...]]] = {
    "online": ("open", ()),
    "away": ("open", ("away",)),
    "busy": ("open", ("busy",)),
    "dnd": ("closed", ("busy",)),
    "offline": ("closed", ()),
    "invisible": ("closed", ()),
}

_AWAY = {"away", "vacation", "holiday", "permanent-absence", "meal", "breakfast", "dinner",
         "travel", "in-transit", "sleeping", "shopping", "looking-for-work"}  # fmt: skip
_BUSY = {"busy", "on-the-phone", "meeting", "appointment", "presentation", "performance",
         "steering", "worship", "working"}  # fmt: skip

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9._-]*\Z")


@dataclass(frozen=True)
class Tuple:
    """One PIDF ``<tuple>``: a way to reach the presentity.

    ``basic`` is ``"open"``, ``"closed"`` or None when the tuple has no
    basic status; ``note`` is ``""`` when there is none.
    """

    id: str
    basic: str | None = None
    contact: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Presence:
    """A parsed PIDF document.

    ``note`` is the document's first ``<note>`` (or the person's, when the
    document has none); ``activities`` are the local names of the RPID
    activity elements, in document order (``"away"``, ``"on-the-phone"``).
    """

    entity: str
    tuples: tuple[Tuple, ...] = ()
    note: str = ""
    activities: tuple[str, ...] = ()

    @property
    def basic(self) -> str | None:
        """``"open"`` if any tuple is open, else ``"closed"`` if any is
        closed, else None."""
        states = {t.basic for t in self.tuples}
        if "open" in states:
            return "open"
        return "closed" if "closed" in states else None


def _tuple(element: ET.Element) -> Tuple:
    tuple_id = element.get("id")
    if tuple_id is None:
        raise BodyError("PIDF tuple without id")
    basic = None
    status = first_child(element, f"{{{PIDF_NS}}}status")
    if status is not None:
        basic = text_of(first_child(status, f"{{{PIDF_NS}}}basic"))
        if basic is not None:
            basic = basic.lower()
            if basic not in ("open", "closed"):
                raise BodyError("PIDF basic status is neither open nor closed")
    note = text_of(first_child(element, f"{{{PIDF_NS}}}note")) or ""
    return Tuple(tuple_id, basic, text_of(first_child(element, f"{{{PIDF_NS}}}contact")), note)


def _activities(root: ET.Element) -> tuple[str, ...]:
    found: list[str] = []
    for element in root.iter():
        # RFC 4480's namespace, or the older rpid-person one some PBXs still send.
        if local_name(element.tag) == "activities" and "rpid" in namespace(element.tag):
            found += [local_name(child.tag) for child in element]
    return tuple(dict.fromkeys(found))


def _person_note(root: ET.Element) -> str:
    for person in root:
        if local_name(person.tag) == "person":
            for child in person:
                if local_name(child.tag) == "note":
                    return text_of(child) or ""
    return ""


def parse_pidf(data: bytes) -> Presence:
    """Parse an application/pidf+xml body; raises :class:`BodyError`."""
    root = parse_xml(data)
    if root.tag != f"{{{PIDF_NS}}}presence":
        raise BodyError("not a PIDF presence document")
    entity = root.get("entity")
    if entity is None:
        raise BodyError("PIDF presence without entity")
    tuples = tuple(_tuple(element) for element in children(root, f"{{{PIDF_NS}}}tuple"))
    note = text_of(first_child(root, f"{{{PIDF_NS}}}note"))
    if not note:
        note = _person_note(root)
    return Presence(entity, tuples, note, _activities(root))


def presence_status(doc: Presence) -> str:
    """The client status string a document reads as (see the module table):
    one of ``online``, ``away``, ``busy``, ``dnd`` and ``offline``."""
    activities = set(doc.activities)
    busy, away = bool(activities & _BUSY), bool(activities & _AWAY)
    if doc.basic == "closed":
        return "dnd" if busy else "offline"
    if busy:
        return "busy"
    if away:
        return "away"
    return "online" if doc.basic == "open" else "offline"


def presence_for_status(
    entity: str, status: str, note: str = "", *, contact: str | None = None
) -> Presence:
    """The :class:`Presence` that publishes ``status`` (one of
    :data:`STATUSES`); raises :class:`LocalProtocolError` for another."""
    if status not in _STATUS_DOCUMENT:
        raise LocalProtocolError(f"unknown presence status {status!r}")
    basic, activities = _STATUS_DOCUMENT[status]
    return Presence(entity, (Tuple("t1", basic, contact),), note, activities)


def _text_element(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = text


def build_presence(doc: Presence) -> bytes:
    """The application/pidf+xml body of ``doc``: tuples, the note, then a
    data-model person with the RPID activities when there are any.

    Raises :class:`LocalProtocolError` for a value XML cannot carry or an
    activity that is not an XML name.
    """
    root = ET.Element("presence", {"xmlns": PIDF_NS, "entity": doc.entity})
    if doc.activities:
        root.set("xmlns:dm", DM_NS)
        root.set("xmlns:rpid", RPID_NS)
    for item in doc.tuples:
        element = ET.SubElement(root, "tuple", {"id": item.id})
        status = ET.SubElement(element, "status")
        if item.basic is not None:
            if item.basic not in ("open", "closed"):
                raise LocalProtocolError(f"basic status {item.basic!r} is not open or closed")
            _text_element(status, "basic", item.basic)
        if item.contact is not None:
            _text_element(element, "contact", item.contact)
        if item.note:
            _text_element(element, "note", item.note)
    if doc.note:
        _text_element(root, "note", doc.note)
    if doc.activities:
        person = ET.SubElement(root, "dm:person", {"id": "p1"})
        activities = ET.SubElement(person, "rpid:activities")
        for activity in doc.activities:
            if not _NAME.match(activity):
                raise LocalProtocolError(f"activity {activity!r} is not an XML name")
            ET.SubElement(activities, f"rpid:{activity}")
    return serialize_xml(root)


def build_pidf(entity: str, status: str, note: str = "", *, contact: str | None = None) -> bytes:
    """The application/pidf+xml body publishing ``status`` for ``entity``
    (see the module table), with an optional note and contact URI."""
    return build_presence(presence_for_status(entity, status, note, contact=contact))
