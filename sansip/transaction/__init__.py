"""SIP transactions (RFC 3261 §17, RFC 6026), sans-IO.

Four machines, one shape: commands and inputs take ``now``; outputs are
pulled with ``datagrams_to_send(now)``, ``next_event()`` and
``get_timer()``; ``handle_timer(now)`` fires what is due.

* :class:`InviteClientTransaction`, :class:`NonInviteClientTransaction`
  (created with the request they send; fed with ``receive_response``);
* :class:`InviteServerTransaction`, :class:`NonInviteServerTransaction`
  (created with the request received; answered with ``respond``; fed with
  retransmissions and ACKs through ``receive_request``);
* :mod:`~sansip.transaction.matching` keys and
  :class:`TransactionLayer`, which holds many transactions at once;
* :class:`~sansip.transaction.endpoint.Endpoint`: parsing, Via and the
  transaction layer glued together on one socket or listening address,
  with :mod:`~sansip.transaction.drops` counting what it dropped.
"""

from __future__ import annotations

from sansip.transaction.client import InviteClientTransaction, NonInviteClientTransaction
from sansip.transaction.events import (
    AckReceived,
    IctEvent,
    IstEvent,
    NictEvent,
    NistEvent,
    RequestReceived,
    ResponseReceived,
    StateChanged,
    Terminated,
    TimedOut,
    TransactionEvent,
    TransportFailed,
)
from sansip.transaction.layer import LayerEvent, Transaction, TransactionLayer
from sansip.transaction.matching import (
    ClientKey,
    LegacyServerKey,
    MergeKey,
    ServerKey,
    TransactionKey,
    cancel_target_key,
    client_key,
    merge_key,
    server_key,
)
from sansip.transaction.server import InviteServerTransaction, NonInviteServerTransaction
from sansip.transaction.states import (
    ICT_TRANSITIONS,
    IST_TRANSITIONS,
    NICT_TRANSITIONS,
    NIST_TRANSITIONS,
    IctState,
    IstState,
    NictState,
    NistState,
    TransactionState,
)
from sansip.transaction.timers import TimerConfig

__all__ = [
    "ICT_TRANSITIONS",
    "IST_TRANSITIONS",
    "NICT_TRANSITIONS",
    "NIST_TRANSITIONS",
    "AckReceived",
    "ClientKey",
    "IctEvent",
    "IctState",
    "InviteClientTransaction",
    "InviteServerTransaction",
    "IstEvent",
    "IstState",
    "LayerEvent",
    "LegacyServerKey",
    "MergeKey",
    "NictEvent",
    "NictState",
    "NistEvent",
    "NistState",
    "NonInviteClientTransaction",
    "NonInviteServerTransaction",
    "RequestReceived",
    "ResponseReceived",
    "ServerKey",
    "StateChanged",
    "Terminated",
    "TimedOut",
    "TimerConfig",
    "Transaction",
    "TransactionEvent",
    "TransactionKey",
    "TransactionLayer",
    "TransactionState",
    "TransportFailed",
    "cancel_target_key",
    "client_key",
    "merge_key",
    "server_key",
]
