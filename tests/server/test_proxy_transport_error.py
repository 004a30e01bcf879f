"""The registrar/proxy told of a transport error (``transport_error``: an
ICMP unreachable for a branch): the branch fails at once, the next binding
is tried, and when none is left the caller gets a 500, never a 503 (RFC
3261 §16.7 step 6: a 503 would say the proxy itself is unavailable)."""

from __future__ import annotations

from sansip.dialog.call import CallState
from sansip.server import RequestProxied
from sansip.transport.types import Address
from tests.server.helpers import SERVER, Phone, Server, answer, connected, registered
from tests.server.test_proxy import BOB, setup


def _forwarded(server: Server) -> list[Address | None]:
    """Where the proxy sent the INVITEs (its branches), in order."""
    return [e.destination for e in server.of(RequestProxied) if e.status is None]


def test_the_only_binding_unreachable_fails_the_call_at_once_with_500() -> None:
    sim, server, alice, _bob = setup()
    sim.network.set_link(SERVER, BOB, loss=1.0)  # bob's phone is gone
    call = alice.call("bob", sim.now)
    assert sim.run_until(lambda: BOB in _forwarded(server), deadline=5)
    server.machine.transport_error(BOB, sim.now)  # the ICMP port unreachable
    assert sim.run_until(lambda: call.state is CallState.DISCONNECTED, deadline=sim.now + 1)
    assert call.status == 500
    assert server.machine.endpoint.stats.transport_errors == 1


def test_an_unreachable_binding_moves_on_to_the_next_at_once() -> None:
    sim, server, alice, bob = setup(answer)
    # A second phone of bob's, registered later and tried first, is gone.
    gone: Address = ("127.0.0.4", 5064)
    bob2 = Phone("bob", gone, seed=7, policy=answer)
    sim.attach(gone, bob2)
    assert registered(sim, bob2.register(sim.now))
    sim.network.set_link(SERVER, gone, loss=1.0)
    call = alice.call("bob", sim.now)
    assert sim.run_until(lambda: gone in _forwarded(server), deadline=5)
    server.machine.transport_error(gone, sim.now)
    assert connected(sim, call, deadline=1)
    assert _forwarded(server) == [gone, BOB] and bob.incoming
