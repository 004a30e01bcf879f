"""What the registrar and proxy report to the application.

Events are frozen, slotted dataclasses with past-tense names, pulled with
:meth:`~sansip.server.machine.RegistrarProxy.next_event`.  They carry what a
call-flow ladder or a log line needs: the method, the status, where a
message came from and went to, and the Call-ID.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from sansip.transport.types import Address, Transport

__all__ = [
    "AuthenticationFailed",
    "BindingAdded",
    "BindingExpired",
    "BindingRefreshed",
    "BindingRemoved",
    "RequestAnswered",
    "RequestProxied",
    "ResponseRelayed",
    "ServerEvent",
]


@dataclass(frozen=True, slots=True)
class BindingAdded:
    """A REGISTER created the binding of ``contact`` to ``aor`` for ``expires`` seconds."""

    aor: str
    contact: str
    expires: int
    source: Address
    transport: Transport
    call_id: str


@dataclass(frozen=True, slots=True)
class BindingRefreshed:
    """A REGISTER renewed an existing binding for ``expires`` seconds."""

    aor: str
    contact: str
    expires: int
    source: Address
    transport: Transport
    call_id: str


@dataclass(frozen=True, slots=True)
class BindingRemoved:
    """A REGISTER removed a binding (``expires=0``, or ``Contact: *``)."""

    aor: str
    contact: str
    source: Address
    call_id: str


@dataclass(frozen=True, slots=True)
class BindingExpired:
    """A binding reached its expiry time without a refresh."""

    aor: str
    contact: str


@dataclass(frozen=True, slots=True)
class AuthenticationFailed:
    """Credentials were presented and rejected: a wrong password or unknown
    user (``status`` 401/407) or a user other than the one the request is
    for (403)."""

    method: str
    username: str
    status: int
    reason: str
    source: Address
    call_id: str


@dataclass(frozen=True, slots=True)
class RequestAnswered:
    """The server answered a request itself (``REGISTER``, ``OPTIONS`` to
    the server, 404/480/483/407 and the like) with ``status``."""

    method: str
    call_id: str
    from_uri: str
    to_uri: str
    status: int
    source: Address


@dataclass(frozen=True, slots=True)
class RequestProxied:
    """A request went through the proxy.

    Sent once when a branch is forwarded (``status`` None, ``destination``
    where it went) and, for requests forwarded statefully, once more when the
    final ``status`` went back to ``source`` (``destination`` the last branch).
    ``ACK`` for a 2xx is forwarded statelessly and only reported the first way.
    """

    method: str
    call_id: str
    from_uri: str
    to_uri: str
    source: Address
    destination: Address
    status: int | None = None


@dataclass(frozen=True, slots=True)
class ResponseRelayed:
    """A response of a forwarded request went back: ``status`` from
    ``source`` (the next hop) to ``destination`` (the previous hop)."""

    method: str
    call_id: str
    status: int
    source: Address
    destination: Address


#: Anything :class:`~sansip.server.machine.RegistrarProxy` reports.
ServerEvent: TypeAlias = (
    BindingAdded
    | BindingRefreshed
    | BindingRemoved
    | BindingExpired
    | AuthenticationFailed
    | RequestAnswered
    | RequestProxied
    | ResponseRelayed
)
