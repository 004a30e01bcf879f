"""Parsing, validation, serialization and response building of whole messages."""

from __future__ import annotations

import pytest

from sansip.message import (
    Headers,
    LocalProtocolError,
    ParseError,
    Request,
    Response,
    SipURI,
    make_response,
    parse,
)

INVITE = (
    b"INVITE sip:bob@127.0.0.1:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5062;rport;branch=z9hG4bK776asdhds\r\n"
    b"Max-Forwards: 70\r\n"
    b'From: "Alice" <sip:alice@127.0.0.1>;tag=1928301774\r\n'
    b"To: <sip:bob@127.0.0.1>\r\n"
    b"Call-ID: a84b4c76e66710@127.0.0.1\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@127.0.0.1:5062>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 4\r\n"
    b"\r\n"
    b"v=0\n"
)


def test_request_fields() -> None:
    msg = parse(INVITE)
    assert isinstance(msg, Request)
    assert msg.method == "INVITE"
    assert msg.uri == SipURI("127.0.0.1", "bob", port=5060)
    assert msg.top_via.branch == "z9hG4bK776asdhds"
    assert msg.top_via.rport_requested and msg.top_via.rport is None
    assert msg.from_.display_name == "Alice" and msg.from_.tag == "1928301774"
    assert msg.to.tag is None
    assert msg.call_id == "a84b4c76e66710@127.0.0.1"
    assert msg.cseq == (314159, "INVITE")
    assert msg.max_forwards == 70
    assert str(msg.contact.uri) == "sip:alice@127.0.0.1:5062"  # type: ignore[union-attr]
    assert msg.content_type is not None and msg.content_type.mime == "application/sdp"
    assert msg.body == b"v=0\n"


def test_unmodified_message_keeps_its_bytes() -> None:
    msg = parse(INVITE)
    assert bytes(msg) is INVITE


def test_modified_message_is_reserialized() -> None:
    msg = parse(INVITE)
    msg.headers.prepend("Via", "SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bKproxy")
    wire = bytes(msg)
    assert wire.startswith(b"INVITE sip:bob@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2")
    again = parse(wire)
    assert [v.branch for v in again.via] == ["z9hG4bKproxy", "z9hG4bK776asdhds"]
    assert again.body == b"v=0\n"


def test_body_change_updates_content_length() -> None:
    msg = parse(INVITE)
    msg.body = b"v=0\r\ns=-\r\n"
    again = parse(bytes(msg))
    assert again.headers.get("Content-Length") == "10"
    assert again.body == b"v=0\r\ns=-\r\n"


def test_built_request_is_canonical() -> None:
    req = Request(
        "OPTIONS",
        "sip:bob@127.0.0.1",
        [
            ("Via", "SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK1"),
            ("From", "<sip:alice@127.0.0.1>;tag=a"),
            ("To", "<sip:bob@127.0.0.1>"),
            ("Call-ID", "c1"),
            ("CSeq", "1 OPTIONS"),
        ],
    )
    assert bytes(req) == (
        b"OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK1\r\n"
        b"From: <sip:alice@127.0.0.1>;tag=a\r\n"
        b"To: <sip:bob@127.0.0.1>\r\n"
        b"Call-ID: c1\r\n"
        b"CSeq: 1 OPTIONS\r\n"
        b"Content-Length: 0\r\n"
        b"\r\n"
    )
    assert parse(bytes(req)) == req


def test_bad_method_and_status_are_local_errors() -> None:
    with pytest.raises(LocalProtocolError):
        Request("BAD METHOD", "sip:x@127.0.0.1")
    with pytest.raises(LocalProtocolError):
        Response(99)
    with pytest.raises(LocalProtocolError):
        Headers().add("X", "a\r\nInjected: yes")


def test_datagram_body_rules() -> None:
    # Extra octets after Content-Length are ignored (RFC 3261 §18.3) ...
    msg = parse(INVITE + b"garbage")
    assert msg.body == b"v=0\n"
    assert bytes(msg) == INVITE
    # ... a shorter body is an error ...
    with pytest.raises(ParseError) as caught:
        parse(INVITE[:-1])
    assert caught.value.status == 400
    # ... and without Content-Length the body is the rest of the datagram.
    no_length = INVITE.replace(b"Content-Length: 4\r\n", b"")
    assert parse(no_length).body == b"v=0\n"


def test_limits() -> None:
    with pytest.raises(ParseError) as caught:
        parse(INVITE, max_size=100)
    assert caught.value.status == 513
    with pytest.raises(ParseError) as caught:
        parse(INVITE, max_headers=5)
    assert caught.value.status == 400


def test_leading_crlf_is_ignored() -> None:
    msg = parse(b"\r\n\r\n" + INVITE)
    assert bytes(msg) == INVITE


def test_make_response_copies_per_rfc3261() -> None:
    req = parse(INVITE)
    assert isinstance(req, Request)
    resp = make_response(req, 180, to_tag="as83kd")
    assert resp.status == 180 and resp.reason == "Ringing"
    wire = parse(bytes(resp))
    assert [v.branch for v in wire.via] == ["z9hG4bK776asdhds"]
    assert wire.from_.tag == "1928301774"
    assert wire.to.tag == "as83kd"
    assert wire.call_id == req.call_id
    assert wire.cseq == req.cseq
    # 100 Trying gets no To tag; a To that has a tag keeps it.
    assert make_response(req, 100, to_tag="x").to.tag is None
    tagged = make_response(parse(bytes(resp)), 200, to_tag="other")  # type: ignore[arg-type]
    assert tagged.to.tag == "as83kd"


def test_make_response_to_a_request_that_failed_to_parse() -> None:
    bad = INVITE.replace(b"CSeq: 314159 INVITE", b"CSeq: 99999999999 INVITE")
    with pytest.raises(ParseError) as caught:
        parse(bad)
    resp = make_response(caught.value, caught.value.status, caught.value.reason)
    wire = bytes(resp)
    assert wire.startswith(b"SIP/2.0 400 CSeq number larger than 2**32-1\r\n")
    assert b"Via: SIP/2.0/UDP 127.0.0.1:5062;rport;branch=z9hG4bK776asdhds\r\n" in wire
    assert b"CSeq: 99999999999 INVITE\r\n" in wire


def test_make_response_needs_a_via() -> None:
    with pytest.raises(ParseError) as caught:
        parse(b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nCall-ID: 1\r\n\r\n")
    with pytest.raises(LocalProtocolError):
        make_response(caught.value, 400)


@pytest.mark.parametrize(
    ("mutation", "status"),
    [
        ((b"SIP/2.0\r\n", b"SIP/3.0\r\n"), 505),
        ((b"INVITE sip", b"INVITE  sip"), 400),
        ((b"Call-ID: a84b4c76e66710@127.0.0.1\r\n", b""), 400),
        ((b"CSeq: 314159 INVITE", b"CSeq: 314159 BYE"), 400),
        ((b"Max-Forwards: 70", b"Max-Forwards: 256"), 400),
        ((b"Content-Length: 4", b"Content-Length: x"), 400),
        ((b"To: <sip:bob@127.0.0.1>\r\n", b"To: <sip:bob@127.0.0.1>\r\nTo: <sip:c@h>\r\n"), 400),
        ((b"Max-Forwards: 70\r\n", b"Max-Forwards: 70\r\nBad Name: x\r\n"), 400),
        ((b"Max-Forwards: 70\r\n", b"Max-Forwards: 70\r\nno colon here\r\n"), 400),
    ],
)
def test_malformed_requests(mutation: tuple[bytes, bytes], status: int) -> None:
    old, new = mutation
    with pytest.raises(ParseError) as caught:
        parse(INVITE.replace(old, new))
    assert caught.value.status == status


def test_folded_and_compact_headers() -> None:
    data = (
        b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n"
        b"v: SIP/2.0/UDP 127.0.0.1\r\n ;branch=z9hG4bK2\r\n"
        b"f: <sip:a@127.0.0.1>;tag=1\r\nt: <sip:x@127.0.0.1>\r\ni: c2\r\n"
        b"CSeq : 2\r\n\tOPTIONS\r\nl: 0\r\n\r\n"
    )
    msg = parse(data)
    assert msg.top_via.branch == "z9hG4bK2"
    assert msg.cseq == (2, "OPTIONS")
    assert msg.headers.get("Content-Length") == "0"
    assert msg.headers.get("Via") == "SIP/2.0/UDP 127.0.0.1 ;branch=z9hG4bK2"
    assert bytes(msg) == data


def test_response_parse() -> None:
    data = (
        b"SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK3\r\n"
        b"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>;tag=2\r\n"
        b"Call-ID: c3\r\nCSeq: 5 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
    msg = parse(data)
    assert isinstance(msg, Response)
    assert (msg.status, msg.reason) == (486, "Busy Here")
    msg.reason = "Busy"
    assert bytes(msg).startswith(b"SIP/2.0 486 Busy\r\n")


def test_changing_one_field_keeps_the_others_byte_exact() -> None:
    data = (
        b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n"
        b"Via:   SIP/2.0/UDP 127.0.0.1\r\n ;branch=z9hG4bK2\r\n"
        b"f: <sip:a@127.0.0.1>;tag=1\r\nTO : <sip:x@127.0.0.1>\r\ni: c2\r\n"
        b"CSeq: 2 OPTIONS\r\nX-Odd:  spaced   \r\nl: 0\r\n\r\n"
    )
    msg = parse(data)
    msg.headers.set("Call-ID", "new-id")
    msg.headers.add("Subject", "hi")
    assert bytes(msg) == (
        b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n"
        b"Via:   SIP/2.0/UDP 127.0.0.1\r\n ;branch=z9hG4bK2\r\n"
        b"f: <sip:a@127.0.0.1>;tag=1\r\nTO : <sip:x@127.0.0.1>\r\ni: new-id\r\n"
        b"CSeq: 2 OPTIONS\r\nX-Odd:  spaced   \r\nl: 0\r\nSubject: hi\r\n\r\n"
    )
    msg.body = b"abc"
    assert b"\r\nl: 3\r\n" in bytes(msg)
    assert parse(bytes(msg)).body == b"abc"


def test_setting_the_version_reserializes() -> None:
    msg = parse(INVITE)
    msg.version = "SIP/2.0"
    assert bytes(msg) == INVITE  # same text, but now built from the fields
    assert bytes(msg) is not INVITE


def test_top_via_of_several_via_lines_follows_changes() -> None:
    data = INVITE.replace(
        b"Max-Forwards: 70\r\n",
        b"Via: SIP/2.0/UDP 127.0.0.3;branch=z9hG4bKsecond\r\nMax-Forwards: 70\r\n",
    )
    msg = parse(data)
    assert msg.top_via.branch == "z9hG4bK776asdhds"
    assert [v.branch for v in msg.via] == ["z9hG4bK776asdhds", "z9hG4bKsecond"]
    msg.headers.prepend("Via", "SIP/2.0/TCP 127.0.0.4;branch=z9hG4bKnew")
    assert msg.top_via.branch == "z9hG4bKnew"
    msg.headers.remove_first("Via")
    msg.headers.remove_first("Via")
    assert msg.top_via.branch == "z9hG4bKsecond"


def test_a_malformed_lower_via_line_fails_when_read() -> None:
    data = INVITE.replace(b"Max-Forwards: 70\r\n", b"Via: bogus\r\nMax-Forwards: 70\r\n")
    msg = parse(data)  # only the top Via is needed to answer or match the message
    assert msg.top_via.branch == "z9hG4bK776asdhds"
    with pytest.raises(ParseError):
        _ = msg.via
