"""Dialog state documents: RFC 4235 dialog-info (application/dialog-info+xml),
what busy lamp fields (BLF) subscribe to.

:func:`parse_dialog_info` reads full and partial documents,
:func:`merge_dialog_info` keeps a subscriber's view up to date from them
(RFC 4235 §4.1: versions, partial updates keyed by dialog id),
:func:`build_dialog_info` writes a document for our own calls and
:func:`blf_state` reduces a document to the lamp's (direction, state).

The parser is lenient where a lamp can still work: a dialog's direction and
state are kept as sent (:func:`blf_state` maps what it does not know to
``undefined`` and ``unknown``).  The document's version and its state
(``full`` or ``partial``) must be right, since merging depends on them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace

from sansip.bodies.errors import BodyError
from sansip.bodies.xml import XML_SPACE, children, first_child, parse_xml, serialize_xml, text_of
from sansip.errors import LocalProtocolError

__all__ = [
    "BLF_STATES",
    "DIALOG_INFO_NS",
    "Dialog",
    "DialogInfo",
    "MergeResult",
    "Participant",
    "blf_state",
    "build_dialog_info",
    "merge_dialog_info",
    "parse_dialog_info",
]

DIALOG_INFO_NS = "urn:ietf:params:xml:ns:dialog-info"
_NS = f"{{{DIALOG_INFO_NS}}}"

#: The dialog states of RFC 4235, from least to most engaged (lamp priority).
BLF_STATES = ("terminated", "trying", "proceeding", "early", "confirmed")

_MAX_DIGITS = 20  # an xs:unsignedLong has at most 20 digits


@dataclass(frozen=True)
class Participant:
    """The ``<local>`` or ``<remote>`` side of a dialog: the identity URI
    with its display name, and the target URI."""

    identity: str | None = None
    display: str | None = None
    target: str | None = None


@dataclass(frozen=True)
class Dialog:
    """One ``<dialog>``: its id and SIP identifiers, the direction
    (``initiator`` or ``recipient``), the state (``trying``, ``proceeding``,
    ``early``, ``confirmed``, ``terminated``) with the event and response
    code that led to it, the duration in seconds and both participants."""

    id: str
    state: str
    call_id: str | None = None
    local_tag: str | None = None
    remote_tag: str | None = None
    direction: str | None = None
    event: str | None = None
    code: int | None = None
    duration: int | None = None
    local: Participant | None = None
    remote: Participant | None = None


@dataclass(frozen=True)
class DialogInfo:
    """A dialog-info document: ``state`` is ``full`` or ``partial``."""

    entity: str
    version: int
    state: str = "full"
    dialogs: tuple[Dialog, ...] = ()

    def dialog(self, dialog_id: str) -> Dialog | None:
        """The dialog with id ``dialog_id``, or None."""
        return next((d for d in self.dialogs if d.id == dialog_id), None)


def _number(text: str | None, what: str, low: int = 0, high: int | None = None) -> int | None:
    if text is None:
        return None
    text = text.strip(XML_SPACE)
    if not text.isascii() or not text.isdigit() or len(text) > _MAX_DIGITS:
        raise BodyError(f"dialog-info {what} is not a number")
    value = int(text)
    if value < low or (high is not None and value > high):
        raise BodyError(f"dialog-info {what} out of range")
    return value


def _participant(element: ET.Element | None) -> Participant | None:
    if element is None:
        return None
    identity = first_child(element, f"{_NS}identity")
    target = first_child(element, f"{_NS}target")
    return Participant(
        text_of(identity),
        None if identity is None else identity.get("display"),
        None if target is None else target.get("uri"),
    )


def _dialog(element: ET.Element) -> Dialog:
    dialog_id = element.get("id")
    if dialog_id is None:
        raise BodyError("dialog-info dialog without id")
    state = first_child(element, f"{_NS}state")
    state_text = text_of(state)
    if state is None or not state_text:
        raise BodyError("dialog-info dialog without state")
    return Dialog(
        dialog_id,
        state_text,
        call_id=element.get("call-id"),
        local_tag=element.get("local-tag"),
        remote_tag=element.get("remote-tag"),
        direction=element.get("direction"),
        event=state.get("event"),
        code=_number(state.get("code"), "response code", 100, 699),
        duration=_number(text_of(first_child(element, f"{_NS}duration")), "duration"),
        local=_participant(first_child(element, f"{_NS}local")),
        remote=_participant(first_child(element, f"{_NS}remote")),
    )


def parse_dialog_info(data: bytes) -> DialogInfo:
    """Parse an application/dialog-info+xml body; raises :class:`BodyError`."""
    root = parse_xml(data)
    if root.tag != f"{_NS}dialog-info":
        raise BodyError("not a dialog-info document")
    entity = root.get("entity")
    if entity is None:
        raise BodyError("dialog-info without entity")
    version = _number(root.get("version"), "version", 0, 2**64 - 1)
    if version is None:
        raise BodyError("dialog-info without version")
    state = root.get("state")
    if state not in ("full", "partial"):
        raise BodyError("dialog-info state is neither full nor partial")
    return DialogInfo(entity, version, state, tuple(map(_dialog, children(root, f"{_NS}dialog"))))


@dataclass(frozen=True)
class MergeResult:
    """What :func:`merge_dialog_info` made of an update.

    ``info`` is the view to keep (a full document), ``applied`` says whether
    the update changed it, and ``refresh`` that versions were missed: the
    subscriber should refresh its subscription to get full state.
    """

    info: DialogInfo | None
    applied: bool
    refresh: bool = False


def merge_dialog_info(current: DialogInfo | None, update: DialogInfo) -> MergeResult:
    """Apply a received document to the subscriber's view ``current``
    (None before the first one; reset it to None on a new subscription,
    since versions count per subscription).

    An update whose version is not newer than the view's is ignored.  A full
    document replaces the view.  A partial one replaces the dialogs it names
    and adds new ones; dialogs the view already held as terminated are
    dropped (they have been reported once).  A partial document that skips
    versions, or comes first, is applied as best it can be and asks for a
    refresh.
    """
    if current is not None and update.version <= current.version:
        return MergeResult(current, applied=False)
    if update.state == "full":
        return MergeResult(update, applied=True)
    named = {d.id: d for d in update.dialogs}
    dialogs: list[Dialog] = []
    if current is not None:
        dialogs = [
            named.pop(d.id, d)
            for d in current.dialogs
            if d.id in named or d.state.lower() != "terminated"
        ]
    dialogs += named.values()
    gap = current is None or update.version > current.version + 1
    return MergeResult(replace(update, state="full", dialogs=tuple(dialogs)), True, gap)


def blf_state(doc: DialogInfo) -> tuple[str, str]:
    """The lamp's (direction, state) for a document.

    The most engaged dialog counts (confirmed, then early, proceeding,
    trying, terminated; the first in the document on a tie).  Direction is
    ``initiator``, ``receiver`` (RFC 4235's recipient) or ``undefined``;
    state one of :data:`BLF_STATES` or ``unknown``.  A document without
    dialogs reads as ``("undefined", "terminated")``: the line is idle.
    """
    if not doc.dialogs:
        return "undefined", "terminated"

    def rank(dialog: Dialog) -> int:
        state = dialog.state.lower()
        return BLF_STATES.index(state) + 1 if state in BLF_STATES else 0

    chosen = max(doc.dialogs, key=rank)
    state = chosen.state.lower()
    direction = (chosen.direction or "").lower()
    direction = {"initiator": "initiator", "recipient": "receiver"}.get(direction, "undefined")
    return direction, state if state in BLF_STATES else "unknown"


def _side(parent: ET.Element, tag: str, side: Participant | None) -> None:
    if side is None:
        return
    element = ET.SubElement(parent, tag)
    if side.identity is not None:
        identity = ET.SubElement(element, "identity")
        if side.display is not None:
            identity.set("display", side.display)
        identity.text = side.identity
    if side.target is not None:
        ET.SubElement(element, "target", {"uri": side.target})


def build_dialog_info(doc: DialogInfo) -> bytes:
    """The application/dialog-info+xml body of ``doc``.

    Raises :class:`LocalProtocolError` for a version outside 0..2**64-1, a document
    state other than full or partial, an empty dialog state, a response code
    outside 100-699 or a value XML cannot carry.
    """
    if not 0 <= doc.version < 2**64 or doc.state not in ("full", "partial"):
        raise LocalProtocolError("dialog-info needs a version 0..2**64-1 and state full or partial")
    root = ET.Element("dialog-info", {"xmlns": DIALOG_INFO_NS, "version": str(doc.version),
                                      "state": doc.state, "entity": doc.entity})  # fmt: skip
    for dialog in doc.dialogs:
        if not dialog.state.strip(XML_SPACE):
            raise LocalProtocolError("a dialog needs a state")
        optional = {
            "call-id": dialog.call_id,
            "local-tag": dialog.local_tag,
            "remote-tag": dialog.remote_tag,
            "direction": dialog.direction,
        }
        attributes = {"id": dialog.id} | {k: v for k, v in optional.items() if v is not None}
        element = ET.SubElement(root, "dialog", attributes)
        state = ET.SubElement(element, "state")
        state.text = dialog.state
        if dialog.event is not None:
            state.set("event", dialog.event)
        if dialog.code is not None:
            if not 100 <= dialog.code <= 699:
                raise LocalProtocolError(f"response code {dialog.code} out of range")
            state.set("code", str(dialog.code))
        if dialog.duration is not None:
            if dialog.duration < 0:
                raise LocalProtocolError("a dialog duration cannot be negative")
            ET.SubElement(element, "duration").text = str(dialog.duration)
        _side(element, "local", dialog.local)
        _side(element, "remote", dialog.remote)
    return serialize_xml(root)
