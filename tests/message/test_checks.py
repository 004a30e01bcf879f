"""UAS request checks (RFC 3261 §8.2.2, §8.2.3) and the responses they lead to."""

from __future__ import annotations

from pathlib import Path

import pytest

from sansip.message import Request, RequestRejected, check_request, make_response, parse

OPTIONS = (
    b"OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKchk\r\n"
    b"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:bob@127.0.0.1>\r\n"
    b"Call-ID: chk\r\nCSeq: 1 OPTIONS\r\n"
)


def _request(extra: bytes = b"", body: bytes = b"", method: bytes = b"OPTIONS") -> Request:
    data = OPTIONS.replace(b"OPTIONS", method) + extra
    msg = parse(data + b"Content-Length: %d\r\n\r\n" % len(body) + body)
    assert isinstance(msg, Request)
    return msg


def _status(req: Request, **kwargs: object) -> int | None:
    try:
        check_request(req, **kwargs)  # type: ignore[arg-type]
    except RequestRejected as exc:
        return exc.status
    return None


def test_a_plain_request_passes() -> None:
    assert _status(_request(), supported=["timer"], accepted_bodies=["application/sdp"]) is None


def test_require_unknown_option_gives_420_with_unsupported() -> None:
    req = _request(b"Require: timer, foo\r\n")
    with pytest.raises(RequestRejected) as caught:
        check_request(req, supported={"timer"})
    assert caught.value.status == 420
    resp = make_response(req, caught.value.status, headers=caught.value.response_headers)
    assert resp.headers.get("Unsupported") == "foo"
    assert bytes(resp).startswith(b"SIP/2.0 420 Bad Extension\r\n")


def test_require_is_ignored_on_ack_and_cancel() -> None:
    for method in (b"ACK", b"CANCEL"):
        assert _status(_request(b"Require: foo\r\n", method=method)) is None


def test_unknown_body_type_gives_415_with_accept() -> None:
    req = _request(b"Content-Type: application/unknown\r\n", b"x")
    with pytest.raises(RequestRejected) as caught:
        check_request(req, accepted_bodies=["application/sdp"])
    assert caught.value.status == 415
    assert caught.value.response_headers == [("Accept", "application/sdp")]


def test_accept_without_any_producible_type_gives_406() -> None:
    req = _request(b"Accept: text/nobody\r\n")
    assert _status(req, produced_bodies=["application/sdp"]) == 406
    assert (
        _status(_request(b"Accept: application/*\r\n"), produced_bodies=["application/sdp"]) is None
    )
    assert _status(_request(b"Accept: */*\r\n"), produced_bodies=["application/sdp"]) is None
    assert _status(_request(b"Accept:\r\n"), produced_bodies=["application/sdp"]) is None


# What a UAS supporting SIP/SIPS/tel, the timer extension and SDP bodies answers
# to each RFC 4475 request the RFC expects an application-level answer for.
EXPECTED = {
    "bext01": 420,  # §3.3.5
    "unkscm": 416,  # §3.3.2
    "novelsc": 416,  # §3.3.3 (soap.beep is never acceptable here)
    "invut": 415,  # §3.3.6
    "sdp01": 406,  # §3.3.15
    "zeromf": None,  # §3.3.11: an endpoint processes Max-Forwards 0 normally
    "inv2543": None,  # §3.4.1
}


@pytest.mark.parametrize(("name", "status"), sorted(EXPECTED.items()))
def test_rfc4475_application_level_answers(
    conformance_data: Path, name: str, status: int | None
) -> None:
    req = parse((conformance_data / "rfc4475" / f"{name}.dat").read_bytes())
    assert isinstance(req, Request)
    got = _status(
        req,
        supported={"timer"},
        accepted_bodies=["application/sdp"],
        produced_bodies=["application/sdp"],
    )
    assert got == status
