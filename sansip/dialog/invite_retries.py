"""Where an INVITE goes next (RFC 3261 §8.1.3.4, §22; RFC 3263 §4.3), as a
mixin of :class:`~sansip.dialog.ua.UserAgent`: the ordered targets of a
call, failover to the next one after a timeout, transport error or 503,
and the new attempt after a challenge (401/407) or a redirect (3xx)."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from sansip.dialog.call import Call, CallState
from sansip.dialog.endpoint import Endpoint
from sansip.dialog.uac import Authenticator, next_attempt, redirect_targets
from sansip.dialog.uaconfig import UAConfig, address_of, proxy_route
from sansip.errors import LocalProtocolError
from sansip.message import Request, Response
from sansip.transaction import TransactionKey
from sansip.transport.resolve import Target
from sansip.transport.types import Address

__all__ = ["InviteRetries"]


class InviteRetries:
    """Failover, authentication and redirects of outgoing INVITEs."""

    config: UAConfig
    endpoint: Endpoint
    _auth: Authenticator
    _by_key: dict[TransactionKey, Call]
    _alternatives: dict[Call, deque[Address]]

    def _pin(self, call: Call, addr: Address | None) -> None:
        raise NotImplementedError

    def _targets(
        self, dest: Address | None, targets: Sequence[Address | Target] | None
    ) -> list[Address]:
        """The addresses to try in order (empty: the caller's default);
        resolved targets of another transport than the endpoint's are skipped."""
        if targets is None:
            return [dest] if dest is not None else []
        if dest is not None:
            raise LocalProtocolError("give dest or targets, not both")
        transport = self.endpoint.config.transport
        addresses = [
            t.address if isinstance(t, Target) else t
            for t in targets
            if not isinstance(t, Target) or t.transport is transport
        ]
        if not addresses:
            raise LocalProtocolError(f"no target reachable over {transport.value}")
        return addresses

    def _failover(self, call: Call, now: float) -> bool:
        """Send the INVITE of ``call`` to its next target (RFC 3263 §4.3); True if sent."""
        alternatives = self._alternatives.get(call)
        if not alternatives or call.cancel_pending or call.state is CallState.DISCONNECTED:
            return False
        dest = alternatives.popleft()
        retry = next_attempt(call.invite)
        if self.config.outbound_proxy is not None and call.invite.headers.get("Route") == (
            proxy_route(call.peer)
        ):
            retry.headers.set("Route", proxy_route(dest))  # the Route we pre-loaded
        call.invite = retry
        call.invite_key = self.endpoint.send_request(retry, dest, now)
        call.peer = dest
        call.dialog = None
        self._by_key[call.invite_key] = call
        self._pin(call, dest)
        return True

    def _retry_invite(self, call: Call, response: Response, now: float) -> bool:
        """Answer a challenge or follow a redirect with a new INVITE; True if sent."""
        status = response.status
        retry: Request | None = None
        dest = call.peer
        if status in (401, 407):
            retry = self._auth.retry(call.invite, response)
        elif status < 400 and self.config.follow_redirects:
            targets = redirect_targets(response)
            if targets and call.redirects < self.config.max_redirects:
                call.redirects += 1
                self._alternatives.pop(call, None)  # they were the old target's
                retry = next_attempt(call.invite)
                retry.uri = targets[0]
                if self.config.outbound_proxy is None:
                    try:
                        dest = address_of(targets[0])
                    except LocalProtocolError:
                        return False
        if retry is None or call.state is CallState.DISCONNECTED:
            return False
        if call.cancel_pending:
            return False  # the caller hung up: let the final response end the call
        call.invite = retry
        call.invite_key = self.endpoint.send_request(retry, dest, now)
        call.peer = dest
        call.dialog = None
        self._by_key[call.invite_key] = call
        self._pin(call, dest)
        return True
