"""Events the transaction machines hand to their transaction user (TU).

Events are frozen, slotted dataclasses with past-tense names, pulled with
``next_event()``.  Each machine has a union of the events it can produce;
consumers ``match`` on it and end with ``assert_never``.

Order: the event that caused a move comes first (``ResponseReceived``,
``TimedOut``, ``TransportFailed``), then ``StateChanged``, then
``Terminated`` when the move ends the transaction.  Server transactions
absorb request retransmissions: the TU sees the creating request once
(``RequestReceived``) and, RFC 6026 §7.1, an ACK that reaches an INVITE
server transaction in the ACCEPTED state (``AckReceived``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from sansip.message import Request, Response
from sansip.transaction.states import TransactionState

__all__ = [
    "AckReceived",
    "IctEvent",
    "IstEvent",
    "NictEvent",
    "NistEvent",
    "RequestReceived",
    "ResponseReceived",
    "StateChanged",
    "Terminated",
    "TimedOut",
    "TransactionEvent",
    "TransportFailed",
]


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """The request that created a server transaction, for the TU to answer.

    At the :class:`~sansip.transaction.layer.TransactionLayer` it also
    reports an ACK that matched no transaction (an ACK for a 2xx).
    """

    request: Request


@dataclass(frozen=True, slots=True)
class AckReceived:
    """An ACK matched an INVITE server transaction in ACCEPTED (RFC 6026 §7.1):
    it acknowledges the TU's 2xx, so the TU (not the transaction) consumes it."""

    request: Request


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """A response for the TU: every provisional, the first final, and in
    ACCEPTED (RFC 6026) every 2xx, retransmissions and other forks included.

    At the :class:`~sansip.transaction.layer.TransactionLayer` it also
    reports a response that matched no transaction (a stray 2xx).
    """

    response: Response


@dataclass(frozen=True, slots=True)
class TimedOut:
    """Timer B or F (no final response: the TU acts as on a 408) or Timer H
    (no ACK for the non-2xx final response)."""


@dataclass(frozen=True, slots=True)
class TransportFailed:
    """The transport could not send a message of this transaction (§17.1.4, §17.2.4)."""


@dataclass(frozen=True, slots=True)
class StateChanged:
    """The machine moved from ``old`` to ``new``."""

    old: TransactionState
    new: TransactionState


@dataclass(frozen=True, slots=True)
class Terminated:
    """The transaction is over; it sends nothing more and may be dropped."""


#: What an INVITE client transaction reports.
IctEvent: TypeAlias = ResponseReceived | TimedOut | TransportFailed | StateChanged | Terminated
#: What a non-INVITE client transaction reports.
NictEvent: TypeAlias = ResponseReceived | TimedOut | TransportFailed | StateChanged | Terminated
#: What an INVITE server transaction reports.
IstEvent: TypeAlias = (
    RequestReceived | AckReceived | TimedOut | TransportFailed | StateChanged | Terminated
)
#: What a non-INVITE server transaction reports.
NistEvent: TypeAlias = RequestReceived | TransportFailed | StateChanged | Terminated
#: Any transaction event.
TransactionEvent: TypeAlias = (
    RequestReceived
    | AckReceived
    | ResponseReceived
    | TimedOut
    | TransportFailed
    | StateChanged
    | Terminated
)
