"""Dialog creation, request building and state (RFC 3261 §12)."""

from __future__ import annotations

import pytest

from sansip.dialog import (
    Dialog,
    DialogGone,
    DialogId,
    DialogState,
    RequestOutOfOrder,
    dialog_id_of,
)
from sansip.message import LocalProtocolError, ParseError, SipURI, make_response, parse_uri
from tests.dialog.flows import (
    ALICE_TAG,
    BOB_TAG,
    CALL_ID,
    in_dialog_request,
    invite,
    response,
    with_via,
)


def uac_dialog() -> Dialog:
    return Dialog.from_uac(invite(), response(200, "OK"))


def uas_dialog(status: int = 180) -> Dialog:
    req = invite()
    resp = make_response(
        req, status, to_tag=BOB_TAG, headers=[("Contact", "<sip:bob@127.0.0.2:5062>")]
    )
    return Dialog.from_uas(req, resp)


def state_of(dialog: Dialog) -> DialogState:
    """The state, read through a call so that mypy does not narrow it."""
    return dialog.state


def uris(values: list[object]) -> list[str]:
    return [str(v) for v in values]


# -- creation -------------------------------------------------------------------


def test_uac_early_dialog_from_180_then_confirmed_by_200() -> None:
    ringing = response(180, "Ringing", contact="<sip:bob@127.0.0.2:5070>")
    dialog = Dialog.from_uac(invite(), ringing)
    assert state_of(dialog) is DialogState.EARLY
    assert dialog.id == DialogId(CALL_ID, ALICE_TAG, BOB_TAG)
    assert dialog.is_uac
    assert str(dialog.remote_target) == "sip:bob@127.0.0.2:5070"
    # The route set is the Record-Route reversed: the proxy nearest to Alice first.
    assert uris(list(dialog.route_set)) == ["sip:p1.example.com;lr", "sip:p2.example.com;lr"]
    assert dialog.local_cseq == 1
    assert dialog.remote_cseq is None
    assert str(dialog.local_uri) == "sip:alice@example.com"
    assert str(dialog.remote_uri) == "sip:bob@example.com"
    assert str(dialog.local_target) == "<sip:alice@127.0.0.1:5060>"
    assert not dialog.secure

    dialog.update_from_response(response(200, "OK"))
    assert state_of(dialog) is DialogState.CONFIRMED
    assert str(dialog.remote_target) == "sip:bob@127.0.0.2:5062"


def test_2xx_recomputes_the_route_set_of_an_early_dialog() -> None:
    dialog = Dialog.from_uac(invite(), response(183, "Session Progress", record_route=None))
    assert dialog.route_set == ()
    dialog.update_from_response(response(200, "OK"))
    assert uris(list(dialog.route_set)) == ["sip:p1.example.com;lr", "sip:p2.example.com;lr"]


def test_uac_confirmed_dialog_from_200() -> None:
    dialog = uac_dialog()
    assert state_of(dialog) is DialogState.CONFIRMED
    assert dialog.remote_tag == BOB_TAG


def test_uac_without_contact_falls_back_to_the_request_uri() -> None:
    dialog = Dialog.from_uac(invite(), response(180, "Ringing", contact=None))
    assert str(dialog.remote_target) == "sip:bob@example.com"
    dialog.update_from_response(response(183, "Session Progress"))
    assert str(dialog.remote_target) == "sip:bob@127.0.0.2:5062"


def test_uac_2xx_without_to_tag_has_a_null_remote_tag() -> None:
    dialog = Dialog.from_uac(invite(), response(200, "OK", to_tag=None))
    assert dialog.remote_tag == ""
    bye = dialog.create_request("BYE")
    assert bye.to.tag is None


@pytest.mark.parametrize(
    ("resp", "message"),
    [
        (response(100, "Trying", to_tag=None), "101-299"),
        (response(486, "Busy Here"), "101-299"),
        (response(180, "Ringing", to_tag=None), "without To tag"),
        (response(200, "OK", cseq="2 INVITE"), "does not answer"),
        (response(200, "OK", from_tag="other"), "From tag"),
    ],
)
def test_uac_creation_rejects_responses_that_create_no_dialog(resp: object, message: str) -> None:
    with pytest.raises(LocalProtocolError, match=message):
        Dialog.from_uac(invite(), resp)  # type: ignore[arg-type]


def test_uas_dialog_keeps_record_route_order() -> None:
    dialog = uas_dialog()
    assert state_of(dialog) is DialogState.EARLY
    assert not dialog.is_uac
    assert dialog.id == DialogId(CALL_ID, BOB_TAG, ALICE_TAG)
    assert uris(list(dialog.route_set)) == ["sip:p2.example.com;lr", "sip:p1.example.com;lr"]
    assert str(dialog.remote_target) == "sip:alice@127.0.0.1:5060"
    assert dialog.remote_cseq == 1
    assert dialog.local_cseq is None
    assert str(dialog.local_uri) == "sip:bob@example.com"
    assert dialog.remote_party.display_name == "Alice"


def test_uas_early_dialog_is_confirmed_by_the_2xx_it_sends() -> None:
    dialog = uas_dialog()
    with pytest.raises(LocalProtocolError, match="callee"):
        dialog.create_request("BYE")
    dialog.update_from_sent_response(make_response(invite(), 200, to_tag=BOB_TAG))
    assert state_of(dialog) is DialogState.CONFIRMED
    bye = dialog.create_request("BYE")
    assert str(bye.cseq) == "1 BYE"
    assert str(bye.uri) == "sip:alice@127.0.0.1:5060"
    assert bye.headers.get_all("Route") == ["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"]
    assert bye.from_.tag == BOB_TAG
    assert bye.to.tag == ALICE_TAG
    assert str(bye.to.uri) == "sip:alice@example.com"


def test_uas_early_dialog_ends_with_the_error_it_sends() -> None:
    dialog = uas_dialog()
    dialog.update_from_sent_response(make_response(invite(), 183, to_tag=BOB_TAG))
    assert state_of(dialog) is DialogState.EARLY
    dialog.update_from_sent_response(make_response(invite(), 486, to_tag=BOB_TAG))
    assert state_of(dialog) is DialogState.TERMINATED


def test_uas_creation_needs_a_contact_and_a_to_tag() -> None:
    req = invite(contact=None)
    with pytest.raises(ParseError) as info:
        Dialog.from_uas(req, make_response(req, 180, to_tag=BOB_TAG))
    assert info.value.status == 400
    with pytest.raises(LocalProtocolError, match="no To tag"):
        Dialog.from_uas(invite(), make_response(invite(), 180))


def test_secure_flag_follows_a_sips_request_uri() -> None:
    req = invite(uri="sips:bob@example.com")
    assert Dialog.from_uac(req, response(200, "OK")).secure
    assert not Dialog.from_uac(req, response(200, "OK"), secure=False).secure


# -- building requests ----------------------------------------------------------


def test_loose_routing_request() -> None:
    dialog = uac_dialog()
    info = dialog.create_request(
        "INFO", headers=[("Content-Type", "application/dtmf-relay")], body=b"Signal=5\r\n"
    )
    assert str(info.uri) == "sip:bob@127.0.0.2:5062"
    assert info.headers.get_all("Route") == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    assert info.max_forwards == 70
    assert info.call_id == CALL_ID
    assert str(info.cseq) == "2 INFO"
    assert info.from_.tag == ALICE_TAG
    assert info.from_.display_name == "Alice"
    assert info.to.tag == BOB_TAG
    assert "Via" not in info.headers
    assert "Contact" not in info.headers
    sent = with_via(info)
    assert sent.body == b"Signal=5\r\n"
    assert sent.content_type is not None


def test_no_route_set_means_no_route_header() -> None:
    dialog = Dialog.from_uac(invite(record_route=None), response(200, "OK", record_route=None))
    bye = dialog.create_request("BYE")
    assert "Route" not in bye.headers
    assert str(bye.uri) == "sip:bob@127.0.0.2:5062"


def test_strict_routing_puts_the_remote_target_last() -> None:
    rr = "<sip:p2.example.com;lr>, <sip:p1.example.com;method=INVITE;transport=udp>"
    dialog = Dialog.from_uac(invite(record_route=rr), response(200, "OK", record_route=rr))
    bye = dialog.create_request("BYE")
    # The first route has no lr: it becomes the Request-URI, minus what a
    # Request-URI may not carry.
    assert bye.uri == parse_uri("sip:p1.example.com;transport=udp")
    assert bye.headers.get_all("Route") == ["<sip:p2.example.com;lr>", "<sip:bob@127.0.0.2:5062>"]
    assert with_via(bye).routes[-1].uri == SipURI("127.0.0.2", "bob", port=5062)


def test_only_the_first_route_decides_loose_routing() -> None:
    rr = "<sip:p2.example.com>, <sip:p1.example.com;lr>"
    dialog = Dialog.from_uac(invite(record_route=rr), response(200, "OK", record_route=rr))
    uri, routes = dialog.request_target()
    assert str(uri) == "sip:bob@127.0.0.2:5062"
    assert uris(list(routes)) == ["sip:p1.example.com;lr", "sip:p2.example.com"]


@pytest.mark.parametrize("method", ["INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY"])
def test_target_refresh_requests_carry_the_contact(method: str) -> None:
    request = uac_dialog().create_request(method)
    assert request.headers.get("Contact") == "<sip:alice@127.0.0.1:5060>"


def test_caller_headers_override_contact_and_max_forwards() -> None:
    dialog = uac_dialog()
    request = dialog.create_request(
        "INVITE", headers=[("Contact", "<sip:alice@127.0.0.1:5090>"), ("Max-Forwards", "10")]
    )
    assert request.headers.get_all("Contact") == ["<sip:alice@127.0.0.1:5090>"]
    assert request.max_forwards == 10


@pytest.mark.parametrize("name", ["Via", "from", "To", "Call-ID", "i", "CSeq", "Route"])
def test_managed_headers_are_refused(name: str) -> None:
    dialog = uac_dialog()
    with pytest.raises(LocalProtocolError):
        dialog.create_request("INFO", headers=[(name, "x")])
    assert dialog.local_cseq == 1  # nothing was used up


def test_target_refresh_without_local_target_is_refused() -> None:
    dialog = uac_dialog()
    dialog.local_target = None
    with pytest.raises(LocalProtocolError, match="Contact"):
        dialog.create_request("UPDATE")
    assert dialog.create_request("BYE").cseq.seq == 2


@pytest.mark.parametrize("method", ["ACK", "CANCEL"])
def test_ack_and_cancel_are_not_built_by_create_request(method: str) -> None:
    with pytest.raises(LocalProtocolError):
        uac_dialog().create_request(method)


# -- CSeq -----------------------------------------------------------------------


def test_local_cseq_increments_and_ack_reuses_the_invite_number() -> None:
    dialog = uac_dialog()
    ack = dialog.create_ack(1)
    assert str(ack.cseq) == "1 ACK"
    assert ack.method == "ACK"
    assert "Contact" not in ack.headers
    assert ack.headers.get_all("Route") == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    assert dialog.local_cseq == 1
    reinvite = dialog.create_request("INVITE")
    assert reinvite.cseq.seq == 2
    assert dialog.create_ack(2).cseq.seq == 2
    assert dialog.create_request("BYE").cseq.seq == 3


def test_ack_needs_a_used_cseq_and_a_confirmed_dialog() -> None:
    with pytest.raises(LocalProtocolError):
        uac_dialog().create_ack(2)
    with pytest.raises(LocalProtocolError):
        uas_dialog(200).create_ack(1)  # the UAS has sent no request yet
    early = Dialog.from_uac(invite(), response(180, "Ringing"))
    with pytest.raises(LocalProtocolError, match="early"):
        early.create_ack(1)


def test_uas_local_cseq_starts_empty() -> None:
    dialog = uas_dialog(200)
    assert dialog.next_local_cseq == 1
    assert dialog.create_request("INFO").cseq.seq == 1
    assert dialog.create_request("INFO").cseq.seq == 2


def test_lower_remote_cseq_is_rejected_with_500() -> None:
    dialog = uas_dialog(200)
    dialog.receive_request(in_dialog_request("INFO", 5))
    assert dialog.remote_cseq == 5
    dialog.receive_request(in_dialog_request("INFO", 5))  # equal is not out of order
    with pytest.raises(RequestOutOfOrder) as info:
        dialog.receive_request(in_dialog_request("INFO", 4, contact="<sip:x@127.0.0.9>"))
    assert info.value.status == 500
    assert isinstance(info.value, ParseError)
    assert dialog.remote_cseq == 5
    assert str(dialog.remote_target) == "sip:alice@127.0.0.1:5060"
    # The ACK of the INVITE repeats the INVITE's (lower) number.
    dialog.receive_request(in_dialog_request("ACK", 1))
    assert dialog.remote_cseq == 5


def test_uac_remote_cseq_is_set_by_the_first_request() -> None:
    dialog = uac_dialog()
    dialog.receive_request(in_dialog_request("INFO", 7001, from_uac=False))
    assert dialog.remote_cseq == 7001


# -- target refresh -------------------------------------------------------------


@pytest.mark.parametrize("method", ["INVITE", "UPDATE"])
def test_received_target_refresh_replaces_the_remote_target(method: str) -> None:
    dialog = uas_dialog(200)
    dialog.receive_request(in_dialog_request(method, 2, contact="<sip:alice@127.0.0.1:6000>"))
    assert str(dialog.remote_target) == "sip:alice@127.0.0.1:6000"
    assert str(dialog.create_request("BYE").uri) == "sip:alice@127.0.0.1:6000"


def test_other_requests_do_not_refresh_the_target() -> None:
    dialog = uas_dialog(200)
    dialog.receive_request(in_dialog_request("INFO", 2, contact="<sip:alice@127.0.0.1:6000>"))
    assert str(dialog.remote_target) == "sip:alice@127.0.0.1:5060"


@pytest.mark.parametrize(
    ("method", "refreshed"), [("INVITE", True), ("UPDATE", True), ("INFO", False)]
)
def test_2xx_to_target_refresh_replaces_the_remote_target(method: str, refreshed: bool) -> None:
    dialog = uac_dialog()
    request = dialog.create_request(method)
    ok = make_response(request, 200, headers=[("Contact", "<sip:bob@127.0.0.2:7000>")])
    dialog.update_from_response(ok)
    expected = "sip:bob@127.0.0.2:7000" if refreshed else "sip:bob@127.0.0.2:5062"
    assert str(dialog.remote_target) == expected
    assert state_of(dialog) is DialogState.CONFIRMED


def test_error_to_reinvite_keeps_the_target() -> None:
    dialog = uac_dialog()
    request = dialog.create_request("INVITE")
    dialog.update_from_response(
        make_response(request, 491, headers=[("Contact", "<sip:bob@127.0.0.2:7000>")])
    )
    assert str(dialog.remote_target) == "sip:bob@127.0.0.2:5062"
    assert state_of(dialog) is DialogState.CONFIRMED


# -- termination ----------------------------------------------------------------


def test_non_2xx_final_to_the_invite_ends_every_early_dialog() -> None:
    dialog = Dialog.from_uac(invite(), response(180, "Ringing"))
    dialog.update_from_response(response(100, "Trying", to_tag=None))
    assert state_of(dialog) is DialogState.EARLY
    dialog.update_from_response(response(486, "Busy Here", to_tag="fork2"))
    assert state_of(dialog) is DialogState.TERMINATED
    with pytest.raises(LocalProtocolError):
        dialog.create_request("INFO")
    dialog.update_from_response(response(200, "OK"))  # ignored once terminated
    assert state_of(dialog) is DialogState.TERMINATED


def test_response_of_another_fork_is_refused() -> None:
    dialog = Dialog.from_uac(invite(), response(180, "Ringing"))
    with pytest.raises(LocalProtocolError, match="another dialog"):
        dialog.update_from_response(response(180, "Ringing", to_tag="fork2"))
    assert state_of(dialog) is DialogState.EARLY


@pytest.mark.parametrize("status", [408, 481])
def test_408_and_481_within_the_dialog_terminate_it(status: int) -> None:
    dialog = uac_dialog()
    dialog.update_from_response(make_response(dialog.create_request("INFO"), status))
    assert state_of(dialog) is DialogState.TERMINATED


def test_bye_lifecycle_uac_side() -> None:
    dialog = Dialog.from_uac(invite(), response(180, "Ringing"))
    dialog.update_from_response(response(200, "OK"))
    assert state_of(dialog) is DialogState.CONFIRMED
    bye = dialog.create_request("BYE")
    assert state_of(dialog) is DialogState.CONFIRMED
    dialog.update_from_response(make_response(bye, 200))
    assert state_of(dialog) is DialogState.TERMINATED


def test_received_bye_terminates_and_later_requests_get_481() -> None:
    dialog = uas_dialog(200)
    dialog.receive_request(in_dialog_request("BYE", 2))
    assert state_of(dialog) is DialogState.TERMINATED
    with pytest.raises(DialogGone) as info:
        dialog.receive_request(in_dialog_request("INFO", 3))
    assert info.value.status == 481


def test_requests_of_another_dialog_are_refused() -> None:
    dialog = uac_dialog()  # Alice's side: Alice's own request is not hers to receive
    with pytest.raises(LocalProtocolError):
        dialog.receive_request(in_dialog_request("INFO", 2))
    assert dialog.remote_cseq is None


# -- ids ------------------------------------------------------------------------


def test_dialog_id_of_finds_the_dialog_from_both_sides() -> None:
    alice, bob = uac_dialog(), uas_dialog(200)
    assert dialog_id_of(in_dialog_request("INFO", 2), uas=True) == bob.id
    assert dialog_id_of(in_dialog_request("INFO", 2, from_uac=False), uas=True) == alice.id
    assert dialog_id_of(response(200, "OK"), uas=False) == alice.id
    assert dialog_id_of(alice.create_request("INFO"), uas=False) == alice.id
    assert dialog_id_of(invite(), uas=True) is None
    assert repr(alice).startswith("<Dialog CONFIRMED")
