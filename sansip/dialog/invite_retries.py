"""Where an INVITE goes next (RFC 3261 §8.1.3.4, §22; RFC 3263 §4.3): the
ordered targets of a call, failover to the next one after a timeout,
transport error or 503, and the new attempt after a challenge (401/407) or
a redirect (3xx)."""

from __future__ import annotations

from collections.abc import Sequence

from sansip.dialog.call import Call, CallState
from sansip.dialog.calls import CallTable
from sansip.dialog.uac import Authenticator, next_attempt, redirect_targets
from sansip.dialog.uaconfig import proxy_route
from sansip.errors import LocalProtocolError
from sansip.message import Request, Response
from sansip.transport.resolve import Target
from sansip.transport.routing import address_of
from sansip.transport.types import Address, Transport

__all__ = ["InviteRetries", "target_addresses"]


def target_addresses(
    transport: Transport, dest: Address | None, targets: Sequence[Address | Target] | None
) -> list[Address]:
    """The addresses to try in order (empty: the caller's default);
    resolved targets of another transport than ``transport`` are skipped."""
    if targets is None:
        return [dest] if dest is not None else []
    if dest is not None:
        raise LocalProtocolError("give dest or targets, not both")
    addresses = [
        t.address if isinstance(t, Target) else t
        for t in targets
        if not isinstance(t, Target) or t.transport is transport
    ]
    if not addresses:
        raise LocalProtocolError(f"no target reachable over {transport.value}")
    return addresses


class InviteRetries:
    """Failover, authentication and redirects of outgoing INVITEs."""

    def __init__(self, calls: CallTable, auth: Authenticator) -> None:
        self._calls = calls
        self._auth = auth

    def failover(self, call: Call, now: float) -> bool:
        """Send the INVITE of ``call`` to its next target (RFC 3263 §4.3); True if sent."""
        alternatives = call.alternatives
        if not alternatives or call.cancel_pending or call.state is CallState.DISCONNECTED:
            return False
        dest = alternatives.popleft()
        retry = next_attempt(call.invite)
        if self._calls.config.outbound_proxy is not None and call.invite.headers.get("Route") == (
            proxy_route(call.peer)
        ):
            retry.headers.set("Route", proxy_route(dest))  # the Route we pre-loaded
        self._send(call, retry, dest, now)
        return True

    def retry(self, call: Call, response: Response, now: float) -> bool:
        """Answer a challenge or follow a redirect with a new INVITE; True if sent."""
        status = response.status
        retry: Request | None = None
        dest = call.peer
        if status in (401, 407):
            retry = self._auth.retry(call.invite, response)
        elif status < 400 and self._calls.config.follow_redirects:
            targets = redirect_targets(response)
            if targets and call.redirects < self._calls.config.max_redirects:
                call.redirects += 1
                call.alternatives.clear()  # they were the old target's
                retry = next_attempt(call.invite)
                retry.uri = targets[0]
                if self._calls.config.outbound_proxy is None:
                    try:
                        dest = address_of(targets[0])
                    except LocalProtocolError:
                        return False
        if retry is None or call.state is CallState.DISCONNECTED:
            return False
        if call.cancel_pending:
            return False  # the caller hung up: let the final response end the call
        self._send(call, retry, dest, now)
        return True

    def resend(self, call: Call, invite: Request, now: float) -> None:
        """Send ``invite``, a new attempt of the INVITE of ``call``, where the last one went."""
        self._send(call, invite, call.peer, now)

    def _send(self, call: Call, invite: Request, dest: Address, now: float) -> None:
        """Send the next attempt ``invite`` of ``call`` to ``dest``."""
        calls = self._calls
        call.invite = invite
        call.invite_key = calls.endpoint.send_request(invite, dest, now)
        call.peer = dest
        call.dialog = None
        calls.by_key[call.invite_key] = call
        calls.pin(call, dest)
