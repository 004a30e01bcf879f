"""The transaction-stateful part of the proxy (RFC 3261 §16): one server
transaction per request received, one client transaction per branch.

Targets are tried one after another (sequential forking, best q first):
a 2xx or 6xx ends the search, another final response moves on to the next
target, and when none is left the best response goes back (§16.7: the
lowest class, 6xx over the rest).  Provisional responses (not 100) and
every 2xx are relayed at once, minus the proxy's Via.  A timeout or a
transport failure of a branch counts as a 408 or 503 from it; a 503 is
never sent back (it would say this proxy cannot serve anyone): a 500 goes
instead (§16.7 step 6).

CANCEL (§16.10): the proxy answers it 200 itself, stops trying targets and
cancels the pending branch once that branch has answered provisionally;
the branch's 487 then goes back as the final response.  When the branch has
not answered at all yet the proxy answers 487 itself, and still cancels the
branch if it rings later.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from sansip.errors import LocalProtocolError
from sansip.message import Request, Response, make_response, parse
from sansip.message.ids import RandomSource, new_tag
from sansip.message.uri import URI
from sansip.server.events import RequestProxied, ResponseRelayed, ServerEvent
from sansip.server.routing import drop_first_value
from sansip.transaction import TransactionKey
from sansip.transaction.endpoint import Endpoint
from sansip.transport.types import Address

__all__ = ["Proxy", "Target"]

#: Where one branch goes: the Request-URI and the next-hop address.
Target = tuple[URI, Address]


@dataclass(eq=False, slots=True)
class _Forward:
    """A request being forwarded statefully, and its branches."""

    server_key: TransactionKey
    request: Request
    template: Request
    source: Address
    targets: deque[Target]
    branch: TransactionKey | None = None
    destination: Address = ("", 0)
    provisional: bool = False
    best: Response | None = None
    final_sent: bool = False
    cancelled: bool = False
    cancel_sent: bool = False


def _rank(status: int) -> tuple[int, int]:
    """Smaller is better when choosing the response to send back (§16.7 step 6)."""
    klass = status // 100
    return (0 if klass == 6 else klass, status)


class Proxy:
    """Forwards requests statefully over an :class:`Endpoint` it shares with
    its owner, which feeds it the transaction events of its branches."""

    def __init__(
        self, endpoint: Endpoint, events: deque[ServerEvent], *, rng: RandomSource
    ) -> None:
        self._endpoint = endpoint
        self._events = events
        self._rng = rng
        self._by_server: dict[TransactionKey, _Forward] = {}
        self._by_branch: dict[TransactionKey, _Forward] = {}
        self._cancels: set[TransactionKey] = set()  # the CANCELs the proxy sent

    def __len__(self) -> int:
        """How many requests are being forwarded."""
        return len(self._by_server)

    def forward(
        self,
        key: TransactionKey,
        request: Request,
        source: Address,
        targets: list[Target],
        now: float,
    ) -> None:
        """Forward ``request`` (received in server transaction ``key``, already
        given its Route, Max-Forwards and Record-Route changes) to ``targets``."""
        template = parse(bytes(request))
        assert isinstance(template, Request)
        fwd = _Forward(key, request, template, source, deque(targets))
        self._by_server[key] = fwd
        if request.method == "INVITE":
            self._endpoint.respond(key, make_response(request, 100), now)
        self._next_branch(fwd, now)

    def cancel(self, key: TransactionKey, cancel: Request, now: float) -> int:
        """Handle a CANCEL received in transaction ``key``; returns the status
        it was answered with (200, or 481 when nothing matches)."""
        target = self._endpoint.find_cancel_target(cancel)
        fwd = self._by_server.get(target) if target is not None else None
        status = 481 if fwd is None else 200
        self._endpoint.respond(key, make_response(cancel, status, to_tag=new_tag(self._rng)), now)
        if fwd is None or fwd.cancelled:
            return status
        fwd.cancelled = True
        fwd.targets.clear()
        if fwd.final_sent:
            return status
        if fwd.provisional:
            self._send_cancel(fwd, now)
        else:
            self._send_final(fwd, self._local(fwd, 487), now)
        return status

    # -- transaction events of the branches ---------------------------------------
    def on_response(self, key: TransactionKey, response: Response, now: float) -> bool:
        """A response on a branch; False if ``key`` is not a branch."""
        if key in self._cancels:
            return True
        fwd = self._by_branch.get(key)
        if fwd is None:
            return False
        if not drop_first_value(response.headers, "Via") or "via" not in response.headers:
            return True  # nothing left to route it back with
        status = response.status
        if status > 100 and "record-route" not in response.headers:
            # A UAS must copy Record-Route into 1xx/2xx (§12.1.1); put ours
            # back when it did not, so the caller's dialog still uses the proxy.
            for value in fwd.template.headers.get_all("Record-Route"):
                response.headers.add("Record-Route", value)
        if status < 200:
            if key == fwd.branch:
                fwd.provisional = True
                if fwd.cancelled and not fwd.cancel_sent:
                    self._send_cancel(fwd, now)
            if status > 100 and not fwd.final_sent:
                self._relay(fwd, response, now)
            return True
        if status < 300:
            first = not fwd.final_sent
            fwd.targets.clear()
            self._relay(fwd, response, now)
            if first:
                fwd.final_sent = True
                self._report(fwd, status)
            return True
        self._branch_failed(fwd, key, response, now)
        return True

    def on_failure(self, key: TransactionKey, status: int, now: float) -> bool:
        """A branch timed out (408) or could not be sent (503); False if not a branch."""
        if key in self._cancels:
            return True
        fwd = self._by_branch.get(key)
        if fwd is None:
            return False
        if key == fwd.branch:
            self._branch_failed(fwd, key, self._local(fwd, status), now)
        return True

    def on_terminated(self, key: TransactionKey) -> None:
        """Transaction ``key`` ended: forget what belongs to it (a branch may
        outlive its server transaction, to relay 2xx retransmissions)."""
        self._by_branch.pop(key, None)
        self._by_server.pop(key, None)
        self._cancels.discard(key)

    # -- internals ------------------------------------------------------------------
    def _next_branch(self, fwd: _Forward, now: float) -> None:
        """Send to the next target, or send the best response back."""
        if fwd.cancelled or not fwd.targets:
            best = fwd.best or self._local(fwd, 408)
            if best.status == 503:  # §16.7 step 6: it would say this proxy is down
                best = self._local(fwd, 500)
            self._send_final(fwd, best, now)
            return
        uri, destination = fwd.targets.popleft()
        request = parse(bytes(fwd.template))
        assert isinstance(request, Request)
        request.uri = uri
        try:
            key = self._endpoint.send_request(request, destination, now)
        except LocalProtocolError:
            self._branch_done(fwd, self._local(fwd, 500), now)
            return
        fwd.branch, fwd.destination, fwd.provisional, fwd.cancel_sent = (
            key,
            destination,
            False,
            False,
        )
        self._by_branch[key] = fwd
        self._report(fwd, None)

    def _branch_failed(
        self, fwd: _Forward, key: TransactionKey, response: Response, now: float
    ) -> None:
        if key != fwd.branch:
            return  # an old branch answering late
        fwd.branch = None
        self._branch_done(fwd, response, now)

    def _branch_done(self, fwd: _Forward, response: Response, now: float) -> None:
        if fwd.best is None or _rank(response.status) < _rank(fwd.best.status):
            fwd.best = response
        if response.status >= 600:
            fwd.targets.clear()
        if not fwd.final_sent:
            self._next_branch(fwd, now)

    def _send_cancel(self, fwd: _Forward, now: float) -> None:
        if fwd.branch is not None:
            cancel_key = self._endpoint.cancel(fwd.branch, now)
            if cancel_key is not None:
                self._cancels.add(cancel_key)
        fwd.cancel_sent = True

    def _send_final(self, fwd: _Forward, response: Response, now: float) -> None:
        if fwd.final_sent:
            return
        fwd.final_sent = True
        try:
            self._endpoint.respond(fwd.server_key, response, now)
        except LocalProtocolError:
            return  # the server transaction is gone
        self._report(fwd, response.status)

    def _relay(self, fwd: _Forward, response: Response, now: float) -> None:
        try:
            self._endpoint.respond(fwd.server_key, response, now)
        except LocalProtocolError:
            return
        request = fwd.request
        relayed = ResponseRelayed(
            request.method, request.call_id, response.status, fwd.destination, fwd.source
        )
        self._events.append(relayed)

    def _report(self, fwd: _Forward, status: int | None) -> None:
        request = fwd.request
        self._events.append(RequestProxied(request.method, request.call_id,
                                           str(request.from_.uri), str(request.to.uri),
                                           fwd.source, fwd.destination, status))  # fmt: skip

    def _local(self, fwd: _Forward, status: int) -> Response:
        """A response the proxy makes itself for the request of ``fwd``."""
        return make_response(fwd.request, status, to_tag=new_tag(self._rng))
