"""What the stream-driver tests share: a TU that answers every request 200
and records what its transactions report, an OPTIONS request, a TLS server."""

from __future__ import annotations

import ssl
from pathlib import Path

from sansip.message import Request, Response, make_response
from sansip.transaction import RequestReceived, ResponseReceived, TransportFailed
from sansip.transaction.endpoint import Endpoint, TransactionUpdate
from sansip.transport.types import Address
from tests.certs import make_pki


class AnsweringTU:
    """Answers every request on ``endpoint`` 200; keeps requests, responses
    and the count of transactions that failed on the transport."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.requests: list[Request] = []
        self.responses: list[Response] = []
        self.failures = 0

    def handle_events(self, now: float) -> None:
        """Drain the endpoint's events."""
        while (event := self.endpoint.next_event()) is not None:
            if not isinstance(event, TransactionUpdate):
                continue
            inner = event.event
            if isinstance(inner, RequestReceived):
                self.requests.append(inner.request)
                self.endpoint.respond(event.key, make_response(inner.request, 200, to_tag="t"), now)
            elif isinstance(inner, ResponseReceived):
                self.responses.append(inner.response)
            elif isinstance(inner, TransportFailed):
                self.failures += 1


def options_request(dest: Address, n: int = 1) -> Request:
    """OPTIONS number ``n`` to ``dest``."""
    return Request(
        "OPTIONS",
        f"sip:bob@{dest[0]}:{dest[1]}",
        [
            ("From", "<sip:alice@127.0.0.1>;tag=a1"),
            ("To", "<sip:bob@127.0.0.1>"),
            ("Call-ID", f"opt{n}@127.0.0.1"),
            ("CSeq", f"{n} OPTIONS"),
        ],
    )


def server_context(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A TLS server context with a fresh certificate, and the CA to trust it."""
    pki = make_pki(directory)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.cert, pki.key)
    return context, pki.ca
