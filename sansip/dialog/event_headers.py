"""The headers of SIP-specific event notification (RFC 6665, RFC 4488),
sans-IO: Event, Subscription-State, Allow-Events and Refer-Sub values, read
from messages and written back; a malformed value raises
:class:`~sansip.message.ParseError` (status 400), a value that cannot be
written :class:`~sansip.errors.LocalProtocolError`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, TypeAlias

from sansip.errors import LocalProtocolError
from sansip.message import ParseError
from sansip.message.message import Message

__all__ = [
    "EventHeader",
    "SubState",
    "SubscriptionStateHeader",
    "TerminationReason",
    "event_of",
    "format_allow_events",
    "parse_allow_events",
    "refer_sub_of",
    "subscription_state_of",
]

_MAX_DELTA: Final = 2**32 - 1

# -- header values ------------------------------------------------------------
_TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
_NODOT = r"[A-Za-z0-9\-!%*_+`'~]+"  # token-nodot (§8.4)
# gen-value = token / host / quoted-string
_VALUE = r"[A-Za-z0-9\-.!%*_+`'~:\[\]]+|\"(?:[^\"\\\r\n]|\\[^\r\n])*\""
_TOKEN_RE: Final = re.compile(_TOKEN)
_VALUE_RE: Final = re.compile(_VALUE)
_EVENT_TYPE_RE: Final = re.compile(rf"{_NODOT}(?:\.{_NODOT})*")
_HEAD_RE: Final = re.compile(rf"[ \t]*({_TOKEN})")
_PARAM_RE: Final = re.compile(rf"[ \t]*;[ \t]*({_TOKEN})(?:[ \t]*=[ \t]*({_VALUE}))?")
_DIGITS_RE: Final = re.compile(r"[0-9]+")
_RETRY_AFTER_RE: Final = re.compile(r"[ \t]*([0-9]{1,10})")

Params: TypeAlias = tuple[tuple[str, str | None], ...]


class SubState(StrEnum):
    """The values of Subscription-State that RFC 6665 defines."""

    ACTIVE = "active"
    PENDING = "pending"
    TERMINATED = "terminated"


class TerminationReason(StrEnum):
    """The ``reason`` values of a terminated subscription (§4.1.3)."""

    DEACTIVATED = "deactivated"
    PROBATION = "probation"
    REJECTED = "rejected"
    TIMEOUT = "timeout"
    GIVEUP = "giveup"
    NORESOURCE = "noresource"
    INVARIANT = "invariant"


def _head_and_params(value: str, what: str) -> tuple[str, Params]:
    """``token *(SEMI generic-param)``; names lower-cased, the first of a name wins."""
    match = _HEAD_RE.match(value)
    if match is None:
        raise ParseError(f"malformed {what}")
    params: dict[str, str | None] = {}
    pos = match.end()
    while (param := _PARAM_RE.match(value, pos)) is not None:
        params.setdefault(param[1].lower(), param[2])
        pos = param.end()
    if value[pos:].strip(" \t"):
        raise ParseError(f"malformed {what}")
    return match[1], tuple(params.items())


def _check_params(params: Params, reserved: Iterable[str]) -> Params:
    """Validate parameters of a value built in code; names come out lower-case."""
    out = tuple((name.lower(), value) for name, value in params)
    names = [name for name, _ in out]
    if len(set(names)) != len(names) or set(names) & set(reserved):
        raise LocalProtocolError(f"repeated or reserved parameter in {names}")
    for name, value in out:
        if _TOKEN_RE.fullmatch(name) is None:
            raise LocalProtocolError(f"parameter name {name!r} is not a token")
        if value is not None and _VALUE_RE.fullmatch(value) is None:
            raise LocalProtocolError(f"parameter value {value!r} is not a token or quoted string")
    return out


def _format_params(params: Params) -> str:
    return "".join(f";{name}" if value is None else f";{name}={value}" for name, value in params)


def _delta(value: str | None, what: str) -> int:
    if value is None or _DIGITS_RE.fullmatch(value) is None:
        raise ParseError(f"{what} is not a number of seconds")
    digits = value.lstrip("0") or "0"
    return _MAX_DELTA if len(digits) > 10 else min(int(digits), _MAX_DELTA)


@dataclass(frozen=True, slots=True)
class EventHeader:
    """An Event value (§8.4): ``package`` is the whole event-type
    (``presence``, ``presence.winfo``), ``id`` the id parameter, ``params``
    the other parameters (lower-case names, values as written)."""

    package: str
    id: str | None = None
    params: Params = ()

    def __post_init__(self) -> None:
        if _EVENT_TYPE_RE.fullmatch(self.package) is None:
            raise LocalProtocolError(f"event type {self.package!r} is malformed")
        if self.id is not None and _TOKEN_RE.fullmatch(self.id) is None:
            raise LocalProtocolError(f"event id {self.id!r} is not a token")
        object.__setattr__(self, "params", _check_params(self.params, ("id",)))

    @classmethod
    def parse(cls, value: str) -> EventHeader:
        """Parse ``event-type *(SEMI event-param)``; raises :class:`ParseError` (400)."""
        package, params = _head_and_params(value, "Event")
        if _EVENT_TYPE_RE.fullmatch(package) is None:
            raise ParseError("malformed event type")
        found = dict(params)
        event_id = found.get("id")
        if "id" in found and (event_id is None or _TOKEN_RE.fullmatch(event_id) is None):
            raise ParseError("the Event id is not a token")
        return cls(package, event_id, tuple(p for p in params if p[0] != "id"))

    def matches(self, other: EventHeader) -> bool:
        """Whether two Event values name one subscription (§8.2.1): the
        event-types and ids equal byte for byte, other parameters ignored."""
        return self.package == other.package and self.id == other.id

    def __str__(self) -> str:
        event_id = "" if self.id is None else f";id={self.id}"
        return f"{self.package}{event_id}{_format_params(self.params)}"


@dataclass(frozen=True, slots=True)
class SubscriptionStateHeader:
    """A Subscription-State value (§8.4): ``state`` (``active``, ``pending``,
    ``terminated`` or an extension, lower-case), ``expires`` and
    ``retry_after`` in seconds, ``reason`` (lower-case) and the other
    parameters."""

    state: str
    expires: int | None = None
    reason: str | None = None
    retry_after: int | None = None
    params: Params = ()

    def __post_init__(self) -> None:
        for token in (self.state, self.reason):
            if token is not None and _TOKEN_RE.fullmatch(token) is None:
                raise LocalProtocolError(f"{token!r} is not a token")
        for delta in (self.expires, self.retry_after):
            if delta is not None and not 0 <= delta <= _MAX_DELTA:
                raise LocalProtocolError(f"{delta} is not 0 to 2**32-1 seconds")
        object.__setattr__(self, "state", self.state.lower())
        if self.reason is not None:
            object.__setattr__(self, "reason", self.reason.lower())
        reserved = ("expires", "reason", "retry-after")
        object.__setattr__(self, "params", _check_params(self.params, reserved))

    @classmethod
    def parse(cls, value: str) -> SubscriptionStateHeader:
        """Parse ``substate-value *(SEMI subexp-params)``; a malformed
        ``expires``, ``retry-after`` or ``reason`` raises :class:`ParseError` (400)."""
        state, params = _head_and_params(value, "Subscription-State")
        found = dict(params)
        expires = _delta(found["expires"], "expires") if "expires" in found else None
        retry = _delta(found["retry-after"], "retry-after") if "retry-after" in found else None
        reason = found.get("reason")
        if "reason" in found and (reason is None or _TOKEN_RE.fullmatch(reason) is None):
            raise ParseError("the Subscription-State reason is not a token")
        rest = tuple(p for p in params if p[0] not in ("expires", "reason", "retry-after"))
        return cls(state, expires, reason, retry, rest)

    def __str__(self) -> str:
        out = [self.state]
        if self.reason is not None:
            out.append(f";reason={self.reason}")
        if self.expires is not None:
            out.append(f";expires={self.expires}")
        if self.retry_after is not None:
            out.append(f";retry-after={self.retry_after}")
        return "".join(out) + _format_params(self.params)


def parse_allow_events(value: str) -> list[str]:
    """Parse an Allow-Events value: ``event-type *(COMMA event-type)``."""
    items = [item.strip(" \t") for item in value.split(",")]
    if any(_EVENT_TYPE_RE.fullmatch(item) is None for item in items):
        raise ParseError("malformed Allow-Events")
    return items


def format_allow_events(packages: Iterable[str]) -> str:
    """An Allow-Events value listing ``packages``."""
    items = list(packages)
    if not items or any(_EVENT_TYPE_RE.fullmatch(item) is None for item in items):
        raise LocalProtocolError(f"cannot list {items!r} in Allow-Events")
    return ", ".join(items)


def event_of(message: Message) -> EventHeader | None:
    """The Event of ``message`` (``o`` included), or None; :class:`ParseError` if malformed."""
    value = message.headers.get("Event")
    return None if value is None else EventHeader.parse(value)


def subscription_state_of(message: Message) -> SubscriptionStateHeader | None:
    """The Subscription-State of ``message``, or None; :class:`ParseError` if malformed."""
    value = message.headers.get("Subscription-State")
    return None if value is None else SubscriptionStateHeader.parse(value)


def refer_sub_of(message: Message) -> bool | None:
    """The Refer-Sub value (RFC 4488) of ``message``: True, False or None when absent."""
    value = message.headers.get("Refer-Sub")
    if value is None:
        return None
    flag, _ = _head_and_params(value, "Refer-Sub")
    if flag.lower() not in ("true", "false"):
        raise ParseError("Refer-Sub is neither true nor false")
    return flag.lower() == "true"
