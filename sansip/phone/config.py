"""From the phone's :class:`~sansip.phone.params.Parameters` (the reference
client's names, checked and typed) to what the layers below are configured
with: the UA's identity, the endpoint's address and transport, the media
options and the core's policies."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from sansip import __version__
from sansip.audio.pipeline import PipelineSettings
from sansip.dialog.uaconfig import IDENTITY_HEADERS, UAConfig
from sansip.errors import LocalProtocolError
from sansip.media import MediaSettings
from sansip.message import SipURI, is_token
from sansip.phone.coreconfig import PhoneConfig
from sansip.phone.line import MediaOptions
from sansip.phone.params import ParameterError, Parameters, Source
from sansip.phone.resolve import parse_nameservers
from sansip.sdp import codec_preferences
from sansip.sdp.sdes import Encryption
from sansip.transport.types import Address, Transport, parse_hostport

__all__ = ["PhoneSetup", "custom_headers", "parameters_of", "parse_address", "phone_setup"]

#: ``transport`` by number (-1 auto is UDP here) and by name.
_TRANSPORTS = {-1: Transport.UDP, 0: Transport.UDP, 1: Transport.TCP, 2: Transport.TLS}
_TRANSPORT_NAMES = {"udp": "0", "tcp": "1", "tls": "2"}
#: The phone's audio comes from queues and files, not microphones: no
#: capture processing unless the parameters ask for it.
_PIPELINE = PipelineSettings(aec=0, agc=0, denoise=0, vad=1, silencesuppress=0)
_PIPELINE_NAMES = ("plc", "vad", "aec", "agc", "denoise", "silencesuppress", "volumein",
                   "volumeout")  # fmt: skip
#: Fields the stack writes itself: a custom header must not replace them.
_MANAGED = frozenset(
    {"via", "v", "from", "f", "to", "t", "call-id", "i", "cseq", "content-length", "l",
     "contact", "m", "max-forwards", "route", "record-route"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class PhoneSetup:
    """Everything a front end needs to build a phone from its parameters."""

    core: PhoneConfig
    ua: UAConfig
    local: Address
    transport: Transport
    #: The server's URI when its host is a name to resolve (RFC 3263) before starting.
    resolve: SipURI | None = None
    #: ``proxyaddress`` when its host is a name to resolve before starting.
    resolve_proxy: str = ""
    #: The nameservers to ask (``dnsserver``; None: the system's).
    nameservers: list[Address] | None = None


def parse_address(text: str, default_port: int) -> Address:
    """``host[:port]`` (``[v6]:port``, bare IPv6 too) as an address;
    :class:`~sansip.errors.LocalProtocolError` for a bad port."""
    try:
        return parse_hostport(text, default_port)
    except ValueError as exc:
        raise LocalProtocolError(f"bad address {text!r}") from exc


def parameters_of(values: Mapping[str, object]) -> Parameters:
    """Run-time parameters from keyword-style values (``transport`` may be
    ``udp``/``tcp``/``tls`` too); a bad name or value raises
    :class:`~sansip.phone.params.ParameterError`."""
    values = dict(values)
    transport = str(values.get("transport", "")).lower()
    if transport in _TRANSPORT_NAMES:
        values["transport"] = _TRANSPORT_NAMES[transport]
    params = Parameters()
    params.load(values)
    return params


def phone_setup(params: Parameters) -> PhoneSetup:
    """The configuration of a phone from ``params``."""
    transport = _TRANSPORTS.get(params.get_int("transport"))
    if transport is None:
        raise LocalProtocolError(f"transport {params.get('transport')}: sansip has UDP, TCP, TLS")
    default_port = 5061 if transport is Transport.TLS else 5060
    server_text = params.get_str("serveraddress")
    server = domain = None
    domain_port: int | None = None
    resolve = None
    if server_text:
        name, given = parse_address(server_text, 0)
        domain = name
        if _numeric(name):
            server = (name, given or default_port)
            domain_port = given or default_port
        else:  # a name: resolved by the front end (SRV, then A/AAAA)
            domain_port = given or None
            resolve = SipURI(name, port=domain_port)
    host = params.get_str("localip") or "127.0.0.1"
    local = (host, params.get_int("signalingport"))
    explicit = {name: params.text(name) for name in _PIPELINE_NAMES
                if params.source(name) is not Source.DEFAULT}  # fmt: skip
    settings = MediaSettings(
        jittersize=params.get_int("jittersize"),
        natopenpackets=params.get_int("natopenpackets"),
        mediatimeout=float(params.get_int("mediatimeout")),
        pipeline=None
        if (pipeline := PipelineSettings.from_params(explicit, _PIPELINE)).idle
        else pipeline,
    )
    use = {name: params.text(name) for name in params.as_dict()
           if name.startswith("use_") and params.source(name) is not Source.DEFAULT}  # fmt: skip
    codecs = codec_preferences(codec=",".join(params.get_list("codec")),
                               prefcodec=params.text("prefcodec"), use=use)  # fmt: skip
    user = params.get_str("username") or "sansip"
    anonymous = user == "Anonymous"  # the reference's way to hide the caller id
    autohold = params.get_int("autohold")
    core = PhoneConfig(
        serveraddress=server, domain=domain or "", domain_port=domain_port, username=user,
        sipusername=params.get_str("sipusername"),
        password=params.get_str("password"), displayname=params.get_str("displayname"),
        register=params.get_int("register"), registerinterval=params.get_int("registerinterval"),
        maxlines=params.get_int("maxlines"), autoaccept=params.get_bool("autoaccept"),
        rejectonbusy=params.get_bool("rejectonbusy"),
        ringtimeout=params.get_int("ringtimeout") / 1000,
        calltimeout=params.get_int("calltimeout") / 1000,
        blacklist=params.get_list("blacklist"),
        disablesamecall=params.get_int("disablesamecall") == 1,
        autohold=autohold in (1, 3),
        media=None if params.get_int("signalingonly") else MediaOptions(
            host, codecs, settings, sample_rate=params.get_int("samplerate"),
            encryption=_encryption(params.get_int("mediaencryption"), transport)),
        extra_accounts=params.get_str("extraregisteraccounts"),
        earlymedia=params.get_int("earlymedia"), realm=params.get_str("realm"),
        dtmfmode=params.get_int("dtmfmode"), holdtype=params.get_int("holdtype"),
        callforwardalways=params.get_str("callforwardalways"),
        callforwardonbusy=params.get_str("callforwardonbusy"),
        callforwardonnoanswer=params.get_str("callforwardonnoanswer"),
        callforwardonnoanswertimeout=float(params.get_int("callforwardonnoanswertimeout")),
        enableautoaccept=params.get_int("enableautoaccept"),
        autoacceptheader=params.get_str("autoacceptheader"),
        transfertype=params.get_int("transfertype"),
        transport=transport,
    )  # fmt: skip
    proxy = params.get_str("proxyaddress")
    outbound = parse_address(proxy, default_port) if proxy else None
    prack = params.get_int("prack")
    resolve_proxy = ""
    if outbound is not None and not _numeric(outbound[0]):
        resolve_proxy, outbound = proxy, None  # resolved by the front end
    ua = UAConfig(
        user=user, display_name=params.get_str("displayname") or None, anonymous=anonymous,
        domain=params.get_str("realm") or domain,
        identity=IDENTITY_HEADERS[params.get_int("identityheader")],
        user_agent=params.get_str("useragent") or f"sansip/{__version__}",
        auth_username=params.get_str("sipusername") or user,
        auth_password=params.get_str("password") or None,
        outbound_proxy=outbound,
        allow=(*UAConfig().allow, "MESSAGE", "INFO", "REFER", "NOTIFY", "SUBSCRIBE",
               *(("PRACK",) if prack else ())),
        supported=("100rel",) if prack else (), prefer_100rel=prack == 2,
        session_expires=params.get_int("sessionexpires"), min_se=params.get_int("minse"),
        follow_redirects=params.get_int("allowcallredirect") == 1,
        extra_headers=custom_headers(params.get_str("customsipheader")),
        instance_id=_instance_id(params),
        keepalive_interval=params.get_int("keepaliveival") / 1000,
    )  # fmt: skip
    try:
        nameservers = parse_nameservers(params.get_str("dnsserver"))
    except ValueError:
        raise ParameterError(f"dnsserver {params.get_str('dnsserver')!r}: not host[:port],...",
                             "dnsserver") from None  # fmt: skip
    return PhoneSetup(core, ua, local, transport, resolve, resolve_proxy, nameservers)


def _encryption(value: int, transport: Transport) -> Encryption:
    """``mediaencryption``: -1 auto (SRTP when the peer does it, with TLS
    signalling; else plain), 0 plain, 1 SRTP when the peer does it, 2 SRTP,
    3 DTLS-SRTP."""
    if value < 0:
        return Encryption.OPTIONAL if transport is Transport.TLS else Encryption.OFF
    return Encryption(min(value, 3))


def custom_headers(text: str) -> tuple[tuple[str, str], ...]:
    """The ``customsipheader`` parameter: ``Name: value`` fields separated by
    ``;``, or by line breaks when a value itself holds ``;``; a field that
    is no header, or one the stack writes itself, raises
    :class:`~sansip.phone.params.ParameterError`."""
    if not text.strip():
        return ()
    parts = text.splitlines() if ("\n" in text or "\r" in text) else text.split(";")
    out: list[tuple[str, str]] = []
    for part in parts:
        if not part.strip():
            continue
        name, colon, value = part.partition(":")
        name = name.strip()
        if not colon or not is_token(name) or name.lower() in _MANAGED:
            raise ParameterError(f"customsipheader: bad field {part.strip()!r}",
                                 "customsipheader")  # fmt: skip
        out.append((name, value.strip()))
    return tuple(out)


def _instance_id(params: Parameters) -> str | None:
    """The RFC 5626 instance id: ``instanceid``, or a fresh one with
    ``outbound`` 1; None when outbound is off."""
    given = params.get_str("instanceid")
    if given:
        try:
            return str(uuid.UUID(given.removeprefix("urn:uuid:")))
        except ValueError:
            raise ParameterError(f"instanceid {given!r} is not a UUID", "instanceid") from None
    if params.get_int("outbound") == 1:
        return str(uuid.uuid4())
    return None


def _numeric(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
