"""The reference client's callbacks, with exactly their arguments, and its
notification strings (``STATUS``, ``REGISTER``, ``DTMF``, ``CDR``,
``EVENT``, ``START``) for ``on_event(type, message)``.

Every callback list accumulates; a callback that raises is logged and the
others still run.  The front ends call :meth:`ReferenceCallbacks.fire`
for each phone event, never while holding a lock."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sansip.phone.events import (
    INCOMING,
    BLFChanged,
    CallEnded,
    CallStateChanged,
    ChatComposing,
    ChatReceived,
    ChatReport,
    DtmfReceived,
    PhoneEvent,
    PhoneWarning,
    PresenceChanged,
    RegStateChanged,
    VoicemailChanged,
)

__all__ = ["STATUS_TEXT", "ReferenceCallbacks"]

log = logging.getLogger("sansip.phone")

#: A line's STATUS text for each call state.
STATUS_TEXT = {"setup": "Setup", "ringing": "Ringing", "connected": "InCall",
               "disconnected": "Finished"}  # fmt: skip
#: The callback lists each kind of event may go to (besides ``phone``).
_EVENT_LISTS = {
    "RegStateChanged": ("reg", "event"), "CallStateChanged": ("call", "event"),
    "DtmfReceived": ("dtmf", "event"), "CallEnded": ("cdr", "event"),
    "PhoneWarning": ("event",), "ChatReceived": ("chat", "event"), "ChatReport": ("event",),
    "ChatComposing": ("event",), "PresenceChanged": ("presence", "event"),
    "BLFChanged": ("blf", "event"), "VoicemailChanged": ("event",),
    "RegistrationUpdated": (), "TransferStatus": (),
}  # fmt: skip
#: REGISTER notification states.
_REGISTER = {"registered": 1, "failed": 2, "unregistered": 3}


class ReferenceCallbacks:
    """The callback lists of a phone and their dispatch (see the module docstring)."""

    def __init__(self) -> None:
        self.lists: dict[str, list[Callable[..., object]]] = {
            name: []
            for name in (
                "app",
                "reg",
                "call",
                "dtmf",
                "cdr",
                "event",
                "phone",
                "chat",
                "presence",
                "blf",
            )
        }

    def add(self, kind: str, callback: Callable[..., object] | None) -> None:
        """Add ``callback`` to the ``kind`` list (None clears the list, as the reference does)."""
        if callback is None:
            self.lists[kind].clear()
        else:
            self.lists[kind].append(callback)

    def _call(self, kind: str, *args: object) -> None:
        for callback in list(self.lists[kind]):
            try:
                callback(*args)
            except Exception:
                log.exception("a %s callback raised", kind)

    def app_state(self, state: str) -> None:
        """``loaded``, ``started`` or ``stopped``."""
        self._call("app", state)
        if state == "started":
            self._call("event", "event", "START,sip")

    def fire(self, event: PhoneEvent, account: str) -> None:
        """Hand ``event`` to every list it concerns, as the reference would."""
        lists = self.lists
        if lists["phone"]:
            self._call("phone", event)
        if not any(lists[kind] for kind in _EVENT_LISTS.get(type(event).__name__, ("event",))):
            return  # nobody listens: no notification string is built
        if isinstance(event, RegStateChanged):
            self._call("reg", event.state, event.reason)
            self._call("event", "event", f"REGISTER,0,{_REGISTER[event.state]},{event.state},"
                                         f"true,,{account},{event.reason}")  # fmt: skip
        elif isinstance(event, CallStateChanged):
            self._call("call", event.state, event.direction, event.peername,
                       event.peerdisplayname, event.line, event.callid)  # fmt: skip
            endpoint = 2 if event.direction == INCOMING else 1
            self._call("event", "event", f"STATUS,{event.line},{STATUS_TEXT[event.state]},"
                                         f"{event.peername},{account},{endpoint},"
                                         f"{event.peerdisplayname},{event.callid}")  # fmt: skip
        elif isinstance(event, DtmfReceived):
            self._call("dtmf", event.digit, event.line)
            self._call("event", "event", f"DTMF,{event.line},,0,{event.digit}")
        elif isinstance(event, CallEnded):
            r = event.record
            connect = 0 if r.connected is None else round((r.connected - r.started) * 1000)
            duration = round(r.duration * 1000)
            self._call("cdr", r.caller, r.called, connect, duration, r.direction,
                       r.peerdisplayname, r.reason, r.line, r.callid)  # fmt: skip
            cdr = (f"CDR,{r.line},{r.peer},{r.caller},{r.called},,{connect},{duration},"
                   f"{r.discparty},{r.reason}")  # fmt: skip
            self._call("event", "event", cdr)
        elif isinstance(event, PhoneWarning):
            self._call("event", "event", f"EVENT,WARNING,{event.text}")
        elif isinstance(event, ChatReceived):
            self._call("chat", event.peername, event.text, event.line, "")
            self._call("event", "event", f"CHAT,{event.line},{event.peername},{event.text}")
        elif isinstance(event, PresenceChanged):
            self._call("presence", event.peername, event.presence, "", "")
            self._call("event", "event", f"PRESENCE,{event.peername},{event.presence},"
                                         f"{event.note},,")  # fmt: skip
        elif isinstance(event, BLFChanged):
            self._call("blf", event.peername, event.direction, event.state, event.callid)
            self._call("event", "event", f"BLF,{event.peername},{event.direction},"
                                         f"{event.state},{event.callid}")  # fmt: skip
        elif isinstance(event, VoicemailChanged):
            waiting = 1 if event.waiting else 0
            self._call("event", "event", f"MWI,{waiting},{event.new},{event.old}")
        elif isinstance(event, ChatComposing):
            composing = 1 if event.composing else 0
            self._call("event", "event",
                       f"CHATCOMPOSING,{event.line},{event.peername},{composing}")  # fmt: skip
        elif isinstance(event, ChatReport):
            self._call("event", "event", f"CHATREPORT,{event.line},{event.peername},"
                                         f"{event.status},{event.reason}")  # fmt: skip
