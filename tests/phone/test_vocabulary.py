"""The reference client's functions on a phone: lines and Call-IDs, line
details, state queries, mute and hold, the raw INVITEs, ignore, the call
history rows and the last call's report (asyncio phones, embedded registrar)."""

from __future__ import annotations

import asyncio
import ssl
import struct
from pathlib import Path

import pytest

from sansip.phone.aio import AsyncPhone
from sansip.phone.events import RegStateChanged
from tests.certs import make_pki
from tests.io.test_dns_resolution import FakeDns
from tests.io.test_dns_resolution import _name as dns_name
from tests.phone.conftest import registrar_thread


async def _scenario(server: str) -> dict[str, object]:
    r: dict[str, object] = {}
    async with (
        AsyncPhone(serveraddress=server, username="alice", password="alice-secret") as alice,
        AsyncPhone(serveraddress=server, username="bob", password="bob-secret",
                   ringtimeout=2000) as bob,
    ):  # fmt: skip
        await alice.register()
        await bob.register()
        r["registered"] = alice.isregistered()
        r["idle"] = (alice.isincall(), alice.getline(), alice.getlinedetails())
        # An ignored call rings on until the ring timeout ends it.
        ignored = await alice.call("bob")
        ringing = await bob.incoming(timeout=5)
        bob.ignore()
        r["ignored"] = ((await ignored.ended(timeout=10)).reason,
                        (await ringing.ended(timeout=10)).reason)
        # A call answered, queried, muted and held, with a header of ours.
        alice.setsipheader("X-Campaign: spring; X-Gone: 1")
        alice.setsipheader("X-Gone:")
        outgoing = await alice.call("sip:bob@" + server)
        incoming = await bob.incoming(timeout=5)
        r["rec_invite"] = bob.getlastrecinvite()
        r["from"] = bob.getsipheader("From")
        r["headers"] = (bob.getsipheader("X-Campaign"), bob.getsipheader("X-Gone"))
        r["display"] = bob.getcallerdisplayfull()
        bob.accept()
        await outgoing.connected(timeout=5)
        line = alice.getline()
        r["line"] = line
        callid = outgoing.callid
        r["callid"] = (alice.linetocallid(line), callid, alice.callidtoline(callid))
        r["details"] = alice.getlinedetails(line)
        r["sent_invite"] = alice.getlastsentinvite()
        alice.mute(True, 2)
        r["muted"] = alice.ismuted()
        alice.mute(False)
        alice.hold(True)
        await asyncio.sleep(0.3)
        r["held"] = alice.isonhold()
        alice.hold(False)
        await asyncio.sleep(0.3)
        r["resumed"] = not alice.isonhold()
        r["in_call"] = alice.isincall()
        alice.hangup()
        await outgoing.ended(timeout=5)
        await incoming.ended(timeout=5)
        r["history"] = alice.listcallhistory()
        r["last"] = alice.getlastcalldetails()
        r["setline"] = alice.setline(5)
        alice.setline(-1)
        r["param"] = (alice.getparameter("username"), alice.getparameter("nosuchthing"))
        r["engine"] = (alice.getenginename(), alice.getregfailreason())
    return r


@pytest.mark.timeout(60)
def test_the_reference_functions(registrar: str) -> None:
    r = asyncio.run(_scenario(registrar))
    assert r["registered"] is True
    assert r["idle"] == (False, 0, "")
    assert r["ignored"] == ("480 Temporarily Unavailable", "480 ignored")
    assert str(r["rec_invite"]).startswith("INVITE sip:bob@")
    assert "alice" in str(r["from"])
    assert r["headers"] == ("spring", "")
    assert str(r["display"]).split("\n")[0] == "alice"
    assert r["line"] == 1
    callid, expected, back = r["callid"]  # type: ignore[misc]
    assert callid == expected and back == 1
    details = str(r["details"]).split(",")
    assert details[:3] == ["LINEDETAILS", "1", "connected"] and details[4] == "bob"
    assert details[6] == "out"
    assert str(r["sent_invite"]).startswith("INVITE sip:bob@")
    assert r["muted"] is True and r["held"] is True and r["resumed"] is True
    assert r["in_call"] is True
    rows = str(r["history"]).split("\r\n")
    assert len(rows) == 2 and rows[0].split("\t")[0] == "outgoing"  # newest first
    assert rows[0].split("\t")[2] == "bob" and int(rows[0].split("\t")[4]) > 500
    assert "duration:" in str(r["last"]) and "User Hung Up" in str(r["last"])
    assert r["setline"] == 5
    assert r["param"] == ("alice", "")
    assert r["engine"] == ("sansip", "")


async def _with_history(server: str, path: str) -> tuple[str, str, str, str]:
    async with (
        AsyncPhone(serveraddress=server, username="alice", password="alice-secret",
                   history=path) as alice,
        AsyncPhone(serveraddress=server, username="bob", password="bob-secret",
                   autoaccept=1) as bob,
    ):  # fmt: skip
        await alice.register()
        await bob.register()
        call = await alice.call("bob")
        await call.connected(timeout=5)
        call.hangup()
        await call.ended(timeout=5)
        alice.addcontact("Bob Builder", "bob", email="bob@example.com", favorite=True)
        alice.setparameter("jittersize", 5)
        return alice.listcallhistory(), alice.getcontact(name="Bob"), alice.listcontacts(), ""


@pytest.mark.timeout(60)
def test_history_contacts_and_parameters_persist(registrar: str, tmp_path: Path) -> None:
    path = str(tmp_path / "history.sqlite3")
    rows, contact, contacts, _ = asyncio.run(_with_history(registrar, path))
    assert rows.split("\t")[0] == "outgoing" and rows.split("\t")[2] == "bob"
    assert contact.split("\t")[:3] == ["Bob Builder", "bob", "1"] and contacts == contact
    # A new phone on the same file: the calls, contacts and parameters are there.
    again = AsyncPhone(history=path)
    assert again.getparameter("jittersize") == "5"
    assert again.listcallhistory() == rows
    assert again.delcontact(number="bob") and again.listcontacts() == ""
    again._close_history()


@pytest.mark.timeout(60)
def test_a_server_name_is_resolved_and_kept_in_the_uris(registrar: str) -> None:
    """``serveraddress=pbx.test``: SRV then A on a DNS server on loopback;
    REGISTER and calls go to the address found, the AOR says pbx.test."""
    host, port = registrar.rsplit(":", 1)
    zone = {
        ("_sip._udp.pbx.test", 33): [(33, struct.pack("!HHH", 0, 0, int(port))
                                      + dns_name("sip1.pbx.test"))],
        ("sip1.pbx.test", 1): [(1, bytes(int(b) for b in host.split(".")))],
    }  # fmt: skip

    async def scenario() -> tuple[str, str, tuple[str, int] | None]:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: FakeDns(zone),
                                                           local_addr=("127.0.0.1", 0))  # fmt: skip
        servers = [("127.0.0.1", int(transport.get_extra_info("sockname")[1]))]
        try:
            async with AsyncPhone(serveraddress="pbx.test", username="alice",
                                  password="alice-secret", nameservers=servers) as alice:
                await alice.register()
                assert alice.core.registration is not None
                aor = str(alice.core.registration.aor)
                return alice.getregfailreason(), aor, alice.core.config.serveraddress
        finally:
            transport.close()

    reason, aor, address = asyncio.run(scenario())
    assert reason == "" and aor == "sip:alice@pbx.test"
    assert address == (host, int(port))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("how", ["registerex", "extraregisteraccounts"])
def test_extra_accounts_register_and_ring_the_same_phone(how: str) -> None:
    """registerex (or the extraregisteraccounts parameter): alice's phone also
    registers carol; a call to carol rings it; carol's registration state
    comes under carol's AOR."""
    users = {"alice": "alice-secret", "bob": "bob-secret", "carol": "carol-secret"}
    with registrar_thread(users) as server:
        extra = f"{server},carol,carol-secret,300"

        async def scenario() -> tuple[list[tuple[str, str]], str, str]:
            regs: list[tuple[str, str]] = []
            async with (
                AsyncPhone(serveraddress=server, username="alice", password="alice-secret",
                           autoaccept=1, extraregisteraccounts=extra if how != "registerex"
                           else "") as alice,
                AsyncPhone(serveraddress=server, username="bob", password="bob-secret") as bob,
            ):  # fmt: skip
                alice.on_phone_event(lambda e: regs.append((e.state, e.account))
                                     if isinstance(e, RegStateChanged) else None)  # fmt: skip
                await alice.register()
                await bob.register()
                if how == "registerex":
                    alice.registerex(extra)
                for _ in range(200):
                    if ("registered", f"sip:carol@{server.split(':')[0]}") in regs:
                        break
                    await asyncio.sleep(0.02)
                call = await bob.call("carol")
                ringing = await alice.incoming(timeout=5)
                await call.connected(timeout=5)
                call.hangup()
                await call.ended(timeout=5)
                return regs, ringing.peername, alice.getregfailreason()

        regs, caller, reason = asyncio.run(scenario())
    host = server.split(":")[0]
    assert ("registered", "alice") in regs and ("registered", f"sip:carol@{host}") in regs
    assert caller == "bob" and reason == ""


@pytest.mark.timeout(60)
def test_two_phones_call_each_other_over_tls(tmp_path: Path) -> None:
    """transport=tls: bob listens with a certificate, alice checks it against
    its CA and calls bob directly; the call connects and carries RTP."""
    pki = make_pki(tmp_path)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(pki.cert, pki.key)
    client = ssl.create_default_context(cafile=str(pki.ca))

    async def scenario() -> tuple[int, str, str]:
        async with (
            AsyncPhone(username="bob", transport="tls", autoaccept=1, tls_server=server,
                       tls_client=client) as bob,
            AsyncPhone(username="alice", transport="tls", tls_client=client) as alice,
            AsyncPhone(username="eve", transport="tls") as eve,  # the system's trust store
        ):  # fmt: skip
            host, port = bob.core.ua.endpoint.config.local
            call = await alice.call(f"sip:bob@{host}:{port};transport=tls")
            await call.connected(timeout=10)
            await asyncio.sleep(0.5)
            call.hangup()
            record = await call.ended(timeout=10)
            # bob's certificate is not trusted by eve: her call fails at once.
            refused = await eve.call(f"sip:bob@{host}:{port};transport=tls")
            failed = await refused.ended(timeout=15)
            return record.rtp_received, record.reason, failed.reason

    received, reason, failed = asyncio.run(scenario())
    assert received > 10 and reason.endswith("User Hung Up")
    assert failed.startswith("503")
