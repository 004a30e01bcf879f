"""Presence (RFC 3856, PIDF) and busy lamps (RFC 4235, dialog-info) of a
phone, sans-IO, on the UA's subscriptions:

- ``setpresencestatus(status)`` (``Online``, ``Away``, ``DND``,
  ``Invisible``, ``Offline``) offers our presence to watchers and notifies
  them of each change (a watcher subscribing to this phone), and with a
  ``serveraddress`` publishes it there too (RFC 3903, see
  :mod:`sansip.phone.publish`);
- ``checkpresence("alice,bob")`` subscribes to their presence; each NOTIFY
  becomes a :class:`~sansip.phone.events.PresenceChanged` with the
  reference's strings (``Available``, ``Away``, ``Busy``,
  ``DoNotDisturb``, ``Offline``; ``Unknown`` when the subscription ends);
- ``checkblf("alice,bob")`` subscribes to their dialog state; each NOTIFY
  becomes a :class:`~sansip.phone.events.BLFChanged` (direction
  ``initiator``/``receiver``/``undefined``; state ``trying``,
  ``proceeding``, ``early``, ``confirmed``, ``terminated``; ``failed``
  when the subscription is refused or ends);
- our own calls are offered as dialog state to watchers (their lamps), a
  NOTIFY to each on every change of a call's state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from sansip.bodies import (
    BodyError,
    DialogInfo,
    blf_state,
    build_dialog_info,
    build_pidf,
    parse_dialog_info,
    parse_message_summary,
    parse_pidf,
    presence_status,
)
from sansip.bodies import Dialog as DialogEntry
from sansip.dialog.call import NotificationReceived, SubscriptionEnded
from sansip.dialog.subscription import Subscriber
from sansip.errors import LocalProtocolError
from sansip.phone.events import OUTGOING, BLFChanged, PresenceChanged, VoicemailChanged
from sansip.phone.line import PhoneCall
from sansip.phone.publish import PresencePublisher

if TYPE_CHECKING:
    from sansip.phone.core import PhoneCore

__all__ = ["PhonePresence"]

PIDF: Final = "application/pidf+xml"
DIALOG_INFO: Final = "application/dialog-info+xml"
#: ``setpresencestatus`` values and the status they publish.
SET_STATUS: Final = {"Online": "online", "Away": "away", "DND": "dnd", "Invisible": "invisible",
                     "Offline": "offline"}  # fmt: skip
#: What a peer's document reads as, in the reference's words.
REPORTED: Final = {"online": "Available", "away": "Away", "busy": "Busy", "dnd": "DoNotDisturb",
                   "offline": "Offline"}  # fmt: skip
#: Our call states as RFC 4235 dialog states.
_DIALOG_STATE: Final = {"setup": "trying", "ringing": "early", "connected": "confirmed",
                        "disconnected": "terminated"}  # fmt: skip


class PhonePresence:
    """Presence and lamps of ``core`` (see the module docstring)."""

    def __init__(self, core: PhoneCore) -> None:
        self.core = core
        self._watched: dict[Subscriber, tuple[str, str]] = {}  # -> (user, package)
        self._status: str | None = None
        self._version = 0  # of our dialog-info documents
        #: Our presence published to the server (when there is one).
        self.publisher = PresencePublisher(core)

    @property
    def _entity(self) -> str:
        config = self.core.config
        host = config.domain or (config.serveraddress[0] if config.serveraddress else
                                 self.core.ua.endpoint.config.sent_by[0])  # fmt: skip
        return f"sip:{config.username}@{host}"

    # -- ours ---------------------------------------------------------------------------
    def set_status(self, status: str, now: float, note: str = "") -> None:
        """Publish our presence ``status`` to the watchers (see the module docstring)."""
        mapped = SET_STATUS.get(status)
        if mapped is None:
            raise LocalProtocolError(f"presence status {status!r}: one of {', '.join(SET_STATUS)}")
        body = build_pidf(self._entity, mapped, note)
        ua = self.core.ua
        if self._status is None:
            ua.offer_events("presence", PIDF, body)
        else:
            ua.publish_events("presence", body, now)
        self._status = mapped
        if self.core.config.serveraddress is not None:
            self.publisher.publish(body, now)

    def offer_dialogs(self) -> None:
        """Let watchers subscribe to our calls' state (their busy lamps)."""
        self.core.ua.offer_events("dialog", DIALOG_INFO, self._dialog_document)

    def call_changed(self, call: PhoneCall, now: float) -> None:
        """A call changed state: the watchers of our dialogs, if any, see it."""
        if self.core.ua.watched("dialog"):
            self.core.ua.publish_events("dialog", self._dialog_document(), now)

    def _dialog_document(self) -> bytes:
        self._version += 1
        entries = []
        for call in self.core.calls:
            direction = "initiator" if call.direction == OUTGOING else "recipient"
            state = _DIALOG_STATE.get(call.state, "trying")
            entries.append(
                DialogEntry(
                    id=call.callid or f"line{call.line}",
                    state=state,
                    call_id=call.callid or None,
                    direction=direction,
                )
            )
        return build_dialog_info(DialogInfo(self._entity, self._version, "full", tuple(entries)))

    # -- message waiting ----------------------------------------------------------------
    def watch_voicemail(self, now: float) -> None:
        """Subscribe to our own mailbox's message summary (RFC 3842) at the server."""
        core = self.core
        if core.config.serveraddress is None:
            raise LocalProtocolError("message waiting needs serveraddress")
        self.check(core.config.username, "message-summary", now)

    def summary(self, body: bytes) -> VoicemailChanged | None:
        """The message waiting a message-summary body says (None if unusable)."""
        try:
            summary = parse_message_summary(body)
        except BodyError:
            return None
        voice = summary.count()
        new, old = (voice.new, voice.old) if voice is not None else (-1, -1)
        return VoicemailChanged(summary.waiting, new, old)

    # -- theirs -------------------------------------------------------------------------
    def check(self, users: str, package: str, now: float) -> None:
        """Subscribe to ``package`` (``presence`` or ``dialog``) of each user
        in the comma-separated ``users``."""
        core = self.core
        for user in (u.strip() for u in users.split(",")):
            if not user:
                continue
            uri, dest = core.destination(user, now)
            subscriber = core.ua.subscribe(uri, package, now, dest=dest)
            self._watched[subscriber] = (uri.user or user, package)

    def on_event(self, event: NotificationReceived | SubscriptionEnded) -> None:
        """A NOTIFY or the end of one of our subscriptions."""
        watched = self._watched.get(event.subscription)
        if watched is None:
            return
        user, package = watched
        core = self.core
        if isinstance(event, SubscriptionEnded):
            del self._watched[event.subscription]
            if package == "presence":
                core._emit(PresenceChanged(user, "Unknown", event.reason))
            elif package == "dialog":
                core._emit(BLFChanged(user, "undefined", "failed", ""))
            return
        if not event.body:
            return
        try:
            if package == "message-summary":
                changed = self.summary(event.body)
                if changed is not None:
                    core._emit(changed)
            elif package == "presence":
                document = parse_pidf(event.body)
                note = document.note or ""
                core._emit(PresenceChanged(user, REPORTED[presence_status(document)], note))
            else:
                info = parse_dialog_info(event.body)
                direction, state = blf_state(info)
                callid = next((d.call_id or "" for d in info.dialogs), "")
                core._emit(BLFChanged(user, direction, state, callid))
        except (BodyError, KeyError):
            return
