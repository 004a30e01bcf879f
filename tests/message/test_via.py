"""Tests of sansip.message.via: the Via header."""

from __future__ import annotations

import pytest

from sansip.message import parse
from sansip.message.errors import ParseError
from sansip.message.via import BRANCH_MAGIC_COOKIE, Via, parse_via_list


def test_typical_via() -> None:
    via = Via.parse("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport")
    assert via.protocol == "SIP/2.0"
    assert via.transport == "UDP"
    assert via.host == "192.0.2.1"
    assert via.port == 5060
    assert via.sent_by == "192.0.2.1:5060"
    assert via.branch == "z9hG4bK776asdhds"
    assert via.is_rfc3261_branch
    assert via.rport_requested
    assert via.rport is None
    assert via.received is None
    assert via.maddr is None
    assert via.ttl is None
    assert str(via) == "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport"


def test_magic_cookie() -> None:
    assert BRANCH_MAGIC_COOKIE == "z9hG4bK"


@pytest.mark.parametrize(
    ("branch", "rfc3261"),
    [
        ("branch=z9hG4bK1", True),
        ("branch=z9hG4bK", False),  # the cookie alone is not enough
        ("branch=abc", False),
        ("branch=Z9HG4BK1", False),  # the cookie is case-sensitive
        ("branch", False),
        ("x=1", False),
    ],
)
def test_rfc3261_branch(branch: str, rfc3261: bool) -> None:
    assert Via.parse(f"SIP/2.0/UDP h;{branch}").is_rfc3261_branch is rfc3261


def test_param_names_are_lower_cased_values_kept() -> None:
    via = Via.parse("SIP/2.0/UDP h;BRANCH=z9hG4bKAbC;Received=1.2.3.4")
    assert via.branch == "z9hG4bKAbC"
    assert via.received == "1.2.3.4"
    assert list(via.params) == ["branch", "received"]


def test_valueless_branch_is_none() -> None:
    via = Via.parse("SIP/2.0/UDP h;branch")
    assert "branch" in via.params
    assert via.branch is None


def test_quoted_param_value_keeps_quotes() -> None:
    assert Via.parse('SIP/2.0/UDP h;branch="q"').branch == '"q"'


# ----------------------------------------------------------- received / rport


def test_received_bracketed_ipv6() -> None:
    via = Via.parse("SIP/2.0/UDP 192.0.2.1:5060;received=[2001:db8::9]")
    assert via.params["received"] == "[2001:db8::9]"
    assert via.received == "2001:db8::9"


def test_received_bare_ipv6_rfc5118() -> None:
    via = Via.parse("SIP/2.0/UDP [2001:db8::1]:5060;received=2001:db8::9;rport=5061")
    assert via.host == "2001:db8::1"
    assert via.port == 5060
    assert via.sent_by == "[2001:db8::1]:5060"
    assert via.received == "2001:db8::9"
    assert via.rport == 5061
    assert str(via) == "SIP/2.0/UDP [2001:db8::1]:5060;received=2001:db8::9;rport=5061"


def test_received_ipv4() -> None:
    assert Via.parse("SIP/2.0/TCP h;received=192.0.2.7").received == "192.0.2.7"


def test_received_with_unbalanced_bracket_is_kept() -> None:
    # Lenient: only a fully bracketed value has its brackets removed.
    assert Via.parse("SIP/2.0/UDP h;received=[::1").received == "[::1"


@pytest.mark.parametrize(
    ("param", "requested", "port"),
    [
        ("rport", True, None),
        ("rport=5061", True, 5061),
        ("RPORT=0", True, 0),
        ("rport=abc", True, None),
        ("x=1", False, None),
    ],
)
def test_rport(param: str, requested: bool, port: int | None) -> None:
    via = Via.parse(f"SIP/2.0/UDP h;{param}")
    assert via.rport_requested is requested
    assert via.rport == port


def test_rport_with_empty_value_is_malformed() -> None:
    with pytest.raises(ParseError):
        Via.parse("SIP/2.0/UDP h;rport=")


def test_fill_in_received_and_rport() -> None:
    via = Via.parse("SIP/2.0/UDP h:5060;branch=z9hG4bK1;rport")
    filled = via.with_params(received="2001:db8::2", rport="40000")
    assert filled.received == "2001:db8::2"
    assert filled.rport == 40000
    assert list(filled.params) == ["branch", "rport", "received"]
    assert str(filled) == "SIP/2.0/UDP h:5060;branch=z9hG4bK1;rport=40000;received=2001:db8::2"
    assert via.rport is None  # original unchanged


# --------------------------------------------------------------- maddr / ttl


def test_maddr_and_ttl() -> None:
    via = Via.parse("SIP/2.0/UDP h;maddr=224.2.0.1;ttl=16")
    assert via.maddr == "224.2.0.1"
    assert via.ttl == 16


@pytest.mark.parametrize(
    ("ttl", "value"),
    [("0", 0), ("255", 255), ("256", None), ("abc", None), ("0016", 16)],
)
def test_ttl_range(ttl: str, value: int | None) -> None:
    assert Via.parse(f"SIP/2.0/UDP h;ttl={ttl}").ttl == value


def test_maddr_ipv6() -> None:
    assert Via.parse("SIP/2.0/UDP h;maddr=[ff02::1]").maddr == "[ff02::1]"


# ----------------------------------------------------------------- LWS forms


@pytest.mark.parametrize(
    "text",
    [
        "SIP/2.0/UDP host.example.com:5060;branch=z9hG4bK1;rport",
        "SIP  /   2.0  /  UDP    host.example.com  :  5060 ; branch = z9hG4bK1 ; rport",
        "SIP\t/\t2.0\t/\tUDP\thost.example.com:5060;branch=z9hG4bK1;rport",
        "sip/2.0/udp host.example.com:5060;branch=z9hG4bK1;rport",
        "SIP/2.0/UDP host.example.com:5060;branch=z9hG4bK1;rport  ",
    ],
)
def test_lws_forms(text: str) -> None:
    via = Via.parse(text)
    assert via == Via("UDP", "host.example.com", 5060, {"branch": "z9hG4bK1", "rport": None})
    assert str(via) == "SIP/2.0/UDP host.example.com:5060;branch=z9hG4bK1;rport"


def test_rfc4475_wsinv_values_after_unfolding() -> None:
    # wsinv: "Via  : SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw", unfolded
    assert parse_via_list("SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw") == [
        Via("UDP", "192.0.2.2", None, {"branch": "390skdjuw"})
    ]
    # wsinv: the compact "v:" field with two values separated by a comma
    vias = parse_via_list(
        "SIP  / 2.0  / TCP     spindle.example.com   ; branch  =   z9hG4bK9ikj8  ,"
        " SIP  /    2.0   / UDP  192.168.255.111   ; branch= z9hG4bK30239"
    )
    assert vias == [
        Via("TCP", "spindle.example.com", None, {"branch": "z9hG4bK9ikj8"}),
        Via("UDP", "192.168.255.111", None, {"branch": "z9hG4bK30239"}),
    ]


def test_rfc4475_wsinv_message() -> None:
    body = (
        b"v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.3\r\ns=-\r\nc=IN IP4 192.0.2.4\r\n"
        b"t=0 0\r\nm=audio 49217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n"
    )
    head = (
        b"INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\r\n"
        b"TO :\r\n sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\r\n"
        b'from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>\r\n'
        b"  ;\r\n  tag = 98asjd8\r\n"
        b"MaX-fOrWaRdS: 0068\r\n"
        b"Call-ID: wsinv.ndaksdj@192.0.2.1\r\n"
        b"Content-Length   : 150\r\n"
        b"cseq: 0009\r\n  INVITE\r\n"
        b"Via  : SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw\r\n"
        b"s :\r\n"
        b"NewFangledHeader:   newfangled value\r\n continued newfangled value\r\n"
        b"UnknownHeaderWithUnusualValue: ;;,,;;,;\r\n"
        b"Content-Type: application/sdp\r\n"
        b"Route:\r\n <sip:services.example.com;lr;unknownwith=value;unknown-no-value>\r\n"
        b"v:  SIP  / 2.0  / TCP     spindle.example.com   ;\r\n"
        b"  branch  =   z9hG4bK9ikj8  ,\r\n"
        b" SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n"
        b" z9hG4bK30239\r\n"
        b'm:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =\r\n'
        b"      newvalue ;\r\n  secondparam ; q = 0.33\r\n\r\n"
    )
    assert len(body) == 150
    msg = parse(head + body)
    assert [(v.transport, v.host, v.branch) for v in msg.via] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    assert msg.top_via.branch == "390skdjuw"
    assert msg.max_forwards == 68
    assert (msg.cseq.seq, msg.cseq.method) == (9, "INVITE")
    assert msg.to.tag == "1918181833n"
    assert msg.from_.tag == "98asjd8"
    assert msg.from_.display_name == 'J Rosenberg \\"'
    [contact] = msg.contacts
    assert contact.display_name == 'Quoted string ""'
    assert dict(contact.params) == {"newparam": "newvalue", "secondparam": None, "q": "0.33"}
    assert msg.headers.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert msg.headers.get("subject") == ""
    assert msg.body == body
    assert bytes(msg) == head + body


# ---------------------------------------------------------------- sent-by


@pytest.mark.parametrize(
    ("text", "host", "port", "sent_by"),
    [
        ("SIP/2.0/UDP h", "h", None, "h"),
        ("SIP/2.0/UDP h:0", "h", 0, "h:0"),
        ("SIP/2.0/UDP h:65535", "h", 65535, "h:65535"),
        ("SIP/2.0/UDP [::1]", "::1", None, "[::1]"),
        ("SIP/2.0/UDP [::1]:5060", "::1", 5060, "[::1]:5060"),
        ("SIP/2.0/TLS Example.COM:5061", "Example.COM", 5061, "Example.COM:5061"),
    ],
)
def test_sent_by(text: str, host: str, port: int | None, sent_by: str) -> None:
    via = Via.parse(text)
    assert (via.host, via.port, via.sent_by) == (host, port, sent_by)


@pytest.mark.parametrize("transport", ["UDP", "TCP", "TLS", "SCTP", "WS", "WSS", "X-FOO"])
def test_transports_are_upper_cased(transport: str) -> None:
    assert Via.parse(f"SIP/2.0/{transport.lower()} h").transport == transport


def test_other_protocol_name_and_version() -> None:
    via = Via.parse("foo/1.0/udp h")
    assert via.protocol == "FOO/1.0"
    assert str(via) == "FOO/1.0/UDP h"
    assert Via.parse("SIP/3.0/TCP h").protocol == "SIP/3.0"


def test_constructed_via_serialization() -> None:
    via = Via("UDP", "::1", 5060, {"branch": "z9hG4bKx", "rport": None})
    assert str(via) == "SIP/2.0/UDP [::1]:5060;branch=z9hG4bKx;rport"
    assert Via.parse(str(via)) == via
    assert str(Via("TCP", "h")) == "SIP/2.0/TCP h"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "SIP/2.0/UDP",
        "SIP/2.0/UDP ",
        "SIP/2.0 h",
        "SIP/UDP h",
        "SIP/2.0/UDP h:99999",
        "SIP/2.0/UDP h:123456",
        "SIP/2.0/UDP h:",
        "SIP/2.0/UDP h junk",
        "SIP/2.0/UDP h;",
        "SIP/2.0/UDP h;=x",
        "SIP/2.0/UDP [::1",
        "SIP/2.0/UDP [::1;x",
        "SIP/2.0/UDP 2001:db8::1",  # IPv6 sent-by needs brackets
        "SIP/2.0/UDPh",
        'SIP/2.0/UDP h;branch="unterminated',
    ],
)
def test_malformed_via(text: str) -> None:
    with pytest.raises(ParseError):
        Via.parse(text)


# ------------------------------------------------------------------- lists


def test_via_list() -> None:
    vias = parse_via_list("SIP/2.0/UDP a;branch=1, SIP/2.0/TCP b:5;branch=2")
    assert [(v.transport, v.host, v.port, v.branch) for v in vias] == [
        ("UDP", "a", None, "1"),
        ("TCP", "b", 5, "2"),
    ]


def test_via_list_comma_inside_quotes() -> None:
    vias = parse_via_list('SIP/2.0/UDP a;x="1,2", SIP/2.0/UDP b')
    assert [v.host for v in vias] == ["a", "b"]
    assert vias[0].params["x"] == '"1,2"'


@pytest.mark.parametrize(
    "text", ["SIP/2.0/UDP a,,SIP/2.0/UDP b", "SIP/2.0/UDP a,", ",SIP/2.0/UDP a"]
)
def test_via_list_empty_elements(text: str) -> None:
    with pytest.raises(ParseError):
        parse_via_list(text)


# ------------------------------------------------------- lazy parameters


@pytest.mark.parametrize(
    "text",
    [
        "SIP/2.0/UDP h;branch=z9hG4bK1",
        "SIP/2.0/UDP h;BRANCH=z9hG4bK1",
        "SIP/2.0/UDP h;rport;Branch=z9hG4bK1;x",
        "SIP/2.0/UDP h;branch",
        "SIP/2.0/UDP h;xbranch=1",
    ],
)
def test_lazy_branch_agrees_with_params(text: str) -> None:
    fresh = Via.parse(text).branch  # read before the parameters are decoded
    decoded = Via.parse(text)
    assert fresh == decoded.params.get("branch") == decoded.branch


def test_via_equality_ignores_parse_path() -> None:
    fast = Via.parse("SIP/2.0/UDP h:5060;branch=z9hG4bK1;rport")
    slow = Via.parse("SIP/2.0/UDP h : 5060 ; branch=z9hG4bK1 ; rport")
    assert fast == slow
    assert fast == Via("UDP", "h", 5060, {"branch": "z9hG4bK1", "rport": None})
    assert fast != Via("TCP", "h", 5060, {"branch": "z9hG4bK1", "rport": None})
    assert fast != "SIP/2.0/UDP h:5060;branch=z9hG4bK1;rport"


@pytest.mark.parametrize(
    "text",
    ["SIP/2.0/UDP h;branch=z9hG4bK1;branch=z9hG4bK2", "SIP/2.0/UDP h;branch=z9hG4bK1;BRANCH=x"],
)
def test_duplicated_branch_reads_consistently(text: str) -> None:
    via = Via.parse(text)
    first_read = via.branch
    assert first_read == via.params.get("branch")
    assert via.branch == first_read
