"""What a phone reports, as one union of frozen dataclasses with the
reference client's vocabulary: call states ``setup``, ``ringing``,
``connected``, ``disconnected``; registration states ``registered``,
``unregistered``, ``failed``; directions 1 (outgoing) and 2 (incoming);
line numbers 1..N; disconnect reasons as ``"<code> <text>"``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, TypeAlias

from sansip.phone.history import CallRecord

__all__ = [
    "INCOMING",
    "OUTGOING",
    "BLFChanged",
    "CallEnded",
    "CallRecord",
    "CallStateChanged",
    "ChatComposing",
    "ChatReceived",
    "ChatReport",
    "DtmfReceived",
    "PhoneEvent",
    "PhoneWarning",
    "PresenceChanged",
    "RegStateChanged",
    "RegistrationUpdated",
    "TransferStatus",
    "VoicemailChanged",
]

#: Call directions.
OUTGOING: Final = 1
INCOMING: Final = 2
#: Who ended a call (``discparty``): unknown, us, the peer, a timeout.
DISC_UNKNOWN, DISC_LOCAL, DISC_REMOTE, DISC_TIMEOUT = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class CallStateChanged:
    """A call moved to ``state`` (``setup``, ``ringing``, ``connected``,
    ``disconnected``); emitted only when the state changes.  ``reason`` is
    the disconnect reason (``"486 Busy Here"``, ``"200 bye received"``)."""

    state: str
    direction: int
    peername: str
    peerdisplayname: str
    line: int
    callid: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RegStateChanged:
    """The account ``account`` is now ``registered``, ``unregistered`` or
    ``failed`` (``reason`` says why it failed)."""

    state: str
    account: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RegistrationUpdated:
    """A REGISTER of ``account`` was answered: ``state`` ``registered``
    (``expires`` seconds granted; a refresh too), ``failed`` (``status``,
    ``reason``) or ``unregistered`` (``status`` 408 when no answer came).
    Unlike :class:`RegStateChanged`, every answer is reported."""

    state: str
    account: str
    status: int
    reason: str = ""
    expires: int = 0


@dataclass(frozen=True, slots=True)
class DtmfReceived:
    """The peer of the call on ``line`` sent ``digit`` (RFC 4733)."""

    line: int
    callid: str
    digit: str


@dataclass(frozen=True, slots=True)
class PhoneWarning:
    """Something went wrong that ends no call by itself (a media stream
    failed, a recording stopped, ports could not be had)."""

    text: str
    line: int = -1


@dataclass(frozen=True, slots=True)
class ChatReceived:
    """A message (RFC 3428 MESSAGE) from ``peername``: ``text`` of
    ``content_type``, on ``line`` when it came in a call's dialog (else -1)."""

    peername: str
    text: str
    line: int = -1
    content_type: str = "text/plain"
    peerdisplayname: str = ""


@dataclass(frozen=True, slots=True)
class ChatComposing:
    """``peername`` started (``composing``) or stopped typing a message (RFC 3994)."""

    peername: str
    composing: bool
    line: int = -1


@dataclass(frozen=True, slots=True)
class ChatReport:
    """What became of a message we sent to ``peername``: ``status`` 1
    sending, 2 sent (delivered to the peer or its server), 3 failed;
    ``reason`` the final response (``"200 OK"``, ``"404 Not Found"``)."""

    peername: str
    status: int
    reason: str = ""
    line: int = -1


@dataclass(frozen=True, slots=True)
class TransferStatus:
    """How the transfer of the call on ``line`` goes: the ``status`` and
    ``reason`` of the transfer target's call (100 trying, 180 ringing, 200
    connected, 4xx-6xx failed) or of the REFER itself; ``final`` once the
    transfer is over."""

    line: int
    callid: str
    status: int
    reason: str
    final: bool


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    """``peername``'s presence (see ``checkpresence``): ``Available``,
    ``Away``, ``Busy``, ``DoNotDisturb``, ``Offline``, or ``Unknown`` once
    the subscription ended; ``note`` the peer's text, if any."""

    peername: str
    presence: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class BLFChanged:
    """``peername``'s busy lamp (see ``checkblf``): ``direction``
    (``initiator``, ``receiver``, ``undefined``) and ``state`` (``trying``,
    ``proceeding``, ``early``, ``confirmed``, ``terminated``, ``unknown``,
    ``failed``), with the Call-ID of that call when known."""

    peername: str
    direction: str
    state: str
    callid: str = ""


@dataclass(frozen=True, slots=True)
class VoicemailChanged:
    """Message waiting (RFC 3842): whether messages wait, and how many new
    and old voice messages the mailbox holds (-1 when not said)."""

    waiting: bool
    new: int = -1
    old: int = -1


@dataclass(frozen=True, slots=True)
class CallEnded:
    """A call ended; ``record`` is its CDR (emitted after its ``disconnected``)."""

    record: CallRecord


PhoneEvent: TypeAlias = (
    CallStateChanged | RegStateChanged | RegistrationUpdated | DtmfReceived | PhoneWarning
    | CallEnded | ChatReceived | ChatReport | ChatComposing | TransferStatus | PresenceChanged
    | BLFChanged | VoicemailChanged
)  # fmt: skip
