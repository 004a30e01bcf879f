"""Where an outgoing call of a phone goes: the URI a number or a ``sip:``
URI stands for, and the address or addresses its INVITE is sent to (the
outbound proxy's, the server's resolved ones for a number, the URI's own
resolved ones); and the SDP of a call without media."""

from __future__ import annotations

from sansip.errors import LocalProtocolError
from sansip.message import ParseError, SipURI, parse_uri
from sansip.phone.coreconfig import PhoneConfig
from sansip.phone.line import PhoneCall
from sansip.transport.types import Address, Transport

__all__ = ["no_media_sdp", "route_of", "target_uri"]

#: The SDP of a call without media (``signalingonly``): PCMU offered on port 0.
_NO_MEDIA_SDP = ("v=0\r\no=sansip {0} {0} IN {1} {2}\r\ns=sansip\r\nc=IN {1} {2}\r\n"
                 "t=0 0\r\nm=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")  # fmt: skip


def target_uri(config: PhoneConfig, number: str) -> SipURI:
    """The URI a call to ``number`` goes to: a ``sip:``/``sips:`` URI as
    given, else the user ``number`` at the account's domain or server;
    :class:`~sansip.errors.LocalProtocolError` for a bad URI or a number
    with no server."""
    if number.lower().startswith(("sip:", "sips:")):
        try:
            uri = parse_uri(number)
        except ParseError as exc:
            raise LocalProtocolError(f"bad target {number!r}: {exc.reason}") from None
        if not isinstance(uri, SipURI):
            raise LocalProtocolError(f"not a SIP URI: {number}")
        if uri.scheme == "sips" and config.transport is not Transport.TLS:
            # RFC 3261 §26.2.2: a SIPS request goes over TLS on every hop.
            raise LocalProtocolError(f"calling {number!r} needs transport=tls (a sips: URI)")
        return uri
    server = config.serveraddress
    if server is None:
        raise LocalProtocolError(f"calling {number!r} needs serveraddress (or a sip: URI)")
    if config.domain:
        return SipURI(config.domain, number, port=config.domain_port)
    return SipURI(server[0], number, port=server[1])


def route_of(config: PhoneConfig, call: PhoneCall, *,
             proxied: bool) -> tuple[Address | None, list[Address] | None]:  # fmt: skip
    """``(dest, targets)`` of ``call``'s INVITE: the resolved proxy's
    addresses; with a numeric proxy (``proxied``) nothing (the UA routes);
    else the URI's resolved addresses, the server's for a number, or the
    server itself (None for a ``sip:`` URI: its own address)."""
    targets = list(config.proxy_targets) or call.targets
    if targets or proxied:
        return None, targets
    if config.server_targets and not call.explicit_uri:
        return None, list(config.server_targets)
    return (None if call.explicit_uri else config.serveraddress), None


def no_media_sdp(host: str) -> bytes:
    """An SDP offering PCMU at port 0 from ``host`` (RFC 3264: not to be used)."""
    family = "IP6" if ":" in host else "IP4"
    return _NO_MEDIA_SDP.format(1, family, host).encode()
