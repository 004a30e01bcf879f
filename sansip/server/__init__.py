"""The embedded registrar and stateful proxy, sans-IO.

:class:`RegistrarProxy` is one machine of the usual shape
(``receive_datagram``/``receive_data``, ``connection_lost``,
``datagrams_to_send``, ``get_timer``, ``handle_timer``, ``next_event``) on
top of an :class:`~sansip.transaction.endpoint.Endpoint`: a registrar (RFC 3261
§10.3) with an in-memory location service and optional digest
authentication, and a transaction-stateful, record-routing proxy
(§16) to the registered contacts.

>>> import random
>>> from sansip.transaction.endpoint import EndpointConfig
>>> server = RegistrarProxy(EndpointConfig(("127.0.0.1", 5060)),
...                         ServerConfig(users={"alice": "secret"}), rng=random.Random(1))
>>> server.get_timer() is None
True
"""

from __future__ import annotations

from sansip.server.authentication import AuthOutcome, AuthResult, DigestAuthenticator
from sansip.server.config import SERVER_ALLOW, ServerConfig
from sansip.server.events import (
    AuthenticationFailed,
    BindingAdded,
    BindingExpired,
    BindingRefreshed,
    BindingRemoved,
    RequestAnswered,
    RequestProxied,
    ResponseRelayed,
    ServerEvent,
)
from sansip.server.location import Binding, LocationService, aor_key
from sansip.server.machine import RegistrarProxy
from sansip.server.proxy import Proxy
from sansip.server.registrar import Registrar

__all__ = [
    "SERVER_ALLOW",
    "AuthOutcome",
    "AuthResult",
    "AuthenticationFailed",
    "Binding",
    "BindingAdded",
    "BindingExpired",
    "BindingRefreshed",
    "BindingRemoved",
    "DigestAuthenticator",
    "LocationService",
    "Proxy",
    "Registrar",
    "RegistrarProxy",
    "RequestAnswered",
    "RequestProxied",
    "ResponseRelayed",
    "ServerConfig",
    "ServerEvent",
    "aor_key",
]
