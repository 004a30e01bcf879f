"""From the phone's parameters (the reference client's names, as text) to
what the layers below are configured with: the UA's identity, the
endpoint's address and transport, the media options and the core's
policies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sansip.audio.codecs import available_codecs
from sansip.audio.pipeline import PipelineSettings
from sansip.dialog.uaconfig import UAConfig
from sansip.errors import LocalProtocolError
from sansip.media import MediaSettings
from sansip.phone.core import PhoneConfig
from sansip.phone.line import MediaOptions
from sansip.sdp import codec_preferences
from sansip.transport.types import Address, Transport

__all__ = ["PhoneSetup", "parse_address", "phone_setup"]

_TRANSPORTS = {"udp": Transport.UDP, "0": Transport.UDP, "tcp": Transport.TCP,
               "1": Transport.TCP, "tls": Transport.TLS, "2": Transport.TLS}  # fmt: skip
#: What a phone's local files and tones are not: microphones (no capture processing).
_PIPELINE = PipelineSettings(aec=0, agc=0, denoise=0, vad=1, silencesuppress=0)


@dataclass(frozen=True, slots=True)
class PhoneSetup:
    """Everything a front end needs to build a phone from its parameters."""

    core: PhoneConfig
    ua: UAConfig
    local: Address
    transport: Transport


def parse_address(text: str, default_port: int) -> Address:
    """``host[:port]`` (``[v6]:port`` too) as an address; the host must be an
    IP address here (names are resolved before this)."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, ""
    try:
        return host, int(port) if port else default_port
    except ValueError as exc:
        raise LocalProtocolError(f"bad address {text!r}") from exc


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def phone_setup(params: Mapping[str, str]) -> PhoneSetup:
    """The configuration of a phone from ``params`` (missing ones take
    their defaults)."""

    def get(name: str, default: str = "") -> str:
        value = params.get(name)
        return default if value is None or value == "" else str(value)

    transport = _TRANSPORTS.get(get("transport", "udp").lower())
    if transport is None:
        raise LocalProtocolError(f"transport: unknown value {get('transport')!r} (udp, tcp, tls)")
    default_port = 5061 if transport is Transport.TLS else 5060
    server = parse_address(get("serveraddress"), default_port) if get("serveraddress") else None
    local = parse_address(get("localip", "127.0.0.1") + ":" + get("signalingport", "0"), 0)
    codecs = codec_preferences(
        codec=get("codec"), prefcodec=get("prefcodec"),
        use={k: v for k, v in params.items() if k.startswith("use_")},
        available={c.lower() for c in available_codecs()},
    )  # fmt: skip
    settings = MediaSettings(
        jittersize=int(get("jittersize", "3")),
        natopenpackets=int(get("natopenpackets", "0")),
        mediatimeout=float(get("mediatimeout", "0")),
        pipeline=PipelineSettings.from_params(dict(params), _PIPELINE),
    )
    media = MediaOptions(get("localip", local[0]), codecs, settings)
    user = get("username", "sansip")
    core = PhoneConfig(
        serveraddress=server, username=user, sipusername=get("sipusername"),
        password=get("password"), displayname=get("displayname"),
        register=int(get("register", "1")), registerinterval=int(get("registerinterval", "300")),
        maxlines=int(get("maxlines", "4")), autoaccept=_flag(get("autoaccept", "0")),
        rejectonbusy=_flag(get("rejectonbusy", "0")),
        ringtimeout=float(get("ringtimeout", "90")), calltimeout=float(get("calltimeout", "60")),
        blacklist=tuple(b.strip() for b in get("blacklist").split(",") if b.strip()),
        disablesamecall=_flag(get("disablesamecall", "0")),
        autohold=_flag(get("autohold", "1")), media=media,
    )  # fmt: skip
    ua = UAConfig(
        user=user, display_name=get("displayname") or None,
        user_agent=get("useragent", "sansip"),
        auth_username=get("sipusername") or user, auth_password=get("password") or None,
        outbound_proxy=parse_address(get("proxyaddress"), default_port)
        if get("proxyaddress") else None,
    )  # fmt: skip
    return PhoneSetup(core, ua, local, transport)
