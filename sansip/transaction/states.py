"""Transaction states, named as in RFC 3261 §17 and RFC 6026, and the
transitions each machine may make.

The tables are the single source of truth for "which state may follow
which": the machines check every move against them and the tests check
the machines against them.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Final, TypeAlias

__all__ = [
    "ICT_TRANSITIONS",
    "IST_TRANSITIONS",
    "NICT_TRANSITIONS",
    "NIST_TRANSITIONS",
    "IctState",
    "IstState",
    "NictState",
    "NistState",
    "TransactionState",
]


class IctState(Enum):
    """INVITE client transaction (§17.1.1, Figure 5 as amended by RFC 6026)."""

    CALLING = "Calling"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


class NictState(Enum):
    """Non-INVITE client transaction (§17.1.2, Figure 6)."""

    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    TERMINATED = "Terminated"


class IstState(Enum):
    """INVITE server transaction (§17.2.1, Figure 7 as amended by RFC 6026)."""

    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


class NistState(Enum):
    """Non-INVITE server transaction (§17.2.2, Figure 8)."""

    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    TERMINATED = "Terminated"


#: Any transaction state.
TransactionState: TypeAlias = IctState | NictState | IstState | NistState

_C, _NC, _S, _NS = IctState, NictState, IstState, NistState

#: Allowed moves of the INVITE client transaction.
ICT_TRANSITIONS: Final[Mapping[IctState, frozenset[IctState]]] = {
    _C.CALLING: frozenset({_C.PROCEEDING, _C.COMPLETED, _C.ACCEPTED, _C.TERMINATED}),
    _C.PROCEEDING: frozenset({_C.COMPLETED, _C.ACCEPTED, _C.TERMINATED}),
    _C.COMPLETED: frozenset({_C.TERMINATED}),
    _C.ACCEPTED: frozenset({_C.TERMINATED}),
    _C.TERMINATED: frozenset(),
}
#: Allowed moves of the non-INVITE client transaction.
NICT_TRANSITIONS: Final[Mapping[NictState, frozenset[NictState]]] = {
    _NC.TRYING: frozenset({_NC.PROCEEDING, _NC.COMPLETED, _NC.TERMINATED}),
    _NC.PROCEEDING: frozenset({_NC.COMPLETED, _NC.TERMINATED}),
    _NC.COMPLETED: frozenset({_NC.TERMINATED}),
    _NC.TERMINATED: frozenset(),
}
#: Allowed moves of the INVITE server transaction.
IST_TRANSITIONS: Final[Mapping[IstState, frozenset[IstState]]] = {
    _S.PROCEEDING: frozenset({_S.COMPLETED, _S.ACCEPTED, _S.TERMINATED}),
    _S.COMPLETED: frozenset({_S.CONFIRMED, _S.TERMINATED}),
    _S.CONFIRMED: frozenset({_S.TERMINATED}),
    _S.ACCEPTED: frozenset({_S.TERMINATED}),
    _S.TERMINATED: frozenset(),
}
#: Allowed moves of the non-INVITE server transaction.
NIST_TRANSITIONS: Final[Mapping[NistState, frozenset[NistState]]] = {
    _NS.TRYING: frozenset({_NS.PROCEEDING, _NS.COMPLETED, _NS.TERMINATED}),
    _NS.PROCEEDING: frozenset({_NS.COMPLETED, _NS.TERMINATED}),
    _NS.COMPLETED: frozenset({_NS.TERMINATED}),
    _NS.TERMINATED: frozenset(),
}
