"""Transaction keys: §17.1.3, §17.2.3 (with the RFC 2543 fallback), §9.2 and §8.2.2.2."""

from __future__ import annotations

from sansip.transaction import (
    ClientKey,
    LegacyServerKey,
    MergeKey,
    ServerKey,
    cancel_target_key,
    client_key,
    merge_key,
    server_key,
)
from tests.transaction.helpers import ack_for, request, response


def test_client_key_matches_response_to_request() -> None:
    invite = request("INVITE")
    assert client_key(invite) == ClientKey("z9hG4bKabc1", "INVITE")
    assert client_key(response(invite, 180)) == client_key(invite)
    assert client_key(response(invite, 486)) == client_key(invite)


def test_client_key_cancel_is_its_own_transaction_and_ack_maps_to_invite() -> None:
    invite = request("INVITE")
    cancel = request("CANCEL")  # same branch, CSeq method CANCEL
    assert client_key(cancel) == ClientKey("z9hG4bKabc1", "CANCEL")
    assert client_key(response(cancel, 200)) == client_key(cancel) != client_key(invite)
    assert client_key(ack_for(invite)) == client_key(invite)


def test_client_key_differs_by_branch() -> None:
    assert client_key(request(branch="z9hG4bKx")) != client_key(request(branch="z9hG4bKy"))


def test_client_key_without_branch_matches_nothing_sent() -> None:
    assert client_key(response(request(branch=None), 200)) == ClientKey("", "INVITE")


def test_server_key_rfc3261() -> None:
    invite = request("INVITE")
    key = server_key(invite)
    assert key == ServerKey("z9hG4bKabc1", "127.0.0.1:5060", "INVITE")
    assert server_key(request("INVITE")) == key  # a retransmission
    assert server_key(ack_for(invite)) == key  # the ACK for a non-2xx
    assert server_key(request("CANCEL")) == ServerKey("z9hG4bKabc1", "127.0.0.1:5060", "CANCEL")
    # Same branch from another sent-by, or another method: another transaction.
    assert server_key(request("INVITE", via_port=5062)) != key
    assert server_key(request("BYE", to_tag="x")).method == "BYE"


def test_server_key_short_branch_uses_rfc2543_rules() -> None:
    key = server_key(request("INVITE", branch="z9hG4bK"))  # cookie only: not RFC 3261
    assert isinstance(key, LegacyServerKey)


def test_server_key_rfc2543_fallback() -> None:
    invite = request("INVITE", branch=None)
    key = server_key(invite)
    assert key == LegacyServerKey(
        request_uri="sip:bob@127.0.0.1:5070",
        to_tag=None,
        from_tag="ft1",
        call_id="call-1@127.0.0.1",
        cseq=1,
        method="INVITE",
        via="SIP/2.0/UDP 127.0.0.1:5060",
    )
    assert server_key(request("INVITE", branch=None)) == key
    # The ACK for the non-2xx carries the server's To tag and still matches.
    ack = request("ACK", branch=None, to_tag="tt1")
    assert server_key(ack) == key
    # Another Call-ID, CSeq, From tag, Request-URI or top Via: another transaction.
    for other in (
        request("INVITE", branch=None, call_id="call-2@127.0.0.1"),
        request("INVITE", branch=None, cseq=2),
        request("INVITE", branch=None, from_tag="other"),
        request("INVITE", branch=None, uri="sip:carol@127.0.0.1"),
        request("INVITE", branch=None, via_port=5064),
    ):
        assert server_key(other) != key


def test_server_key_rfc2543_non_invite_includes_to_tag() -> None:
    bye = server_key(request("BYE", branch=None, to_tag="a"))
    assert isinstance(bye, LegacyServerKey) and bye.to_tag == "a"
    assert server_key(request("BYE", branch=None, to_tag="b")) != bye


def test_cancel_target_key() -> None:
    invite = request("INVITE")
    cancel = request("CANCEL")
    assert cancel_target_key(cancel) == server_key(invite)
    legacy_invite = request("INVITE", branch=None)
    legacy_cancel = request("CANCEL", branch=None)
    assert cancel_target_key(legacy_cancel) == server_key(legacy_invite)
    assert cancel_target_key(request("CANCEL", branch="z9hG4bKzz")) != server_key(invite)


def test_merge_key() -> None:
    a = request("INVITE", branch="z9hG4bKpath-a")
    b = request("INVITE", branch="z9hG4bKpath-b", via_port=5062)
    assert merge_key(a) == merge_key(b) == MergeKey("ft1", "call-1@127.0.0.1", 1, "INVITE")
    assert server_key(a) != server_key(b)
    assert merge_key(request("INVITE", to_tag="in-dialog")) is None
    assert merge_key(ack_for(a)) is None
    assert merge_key(request("OPTIONS", cseq=1)) != merge_key(a)
