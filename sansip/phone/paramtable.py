"""The table of sansip's parameters: every name the phone knows, its type,
default, a one-line meaning and whether sansip acts on it.

The names are the vocabulary of the web SIP client sansip's feature model
follows, so a configuration written for it reads the same here.  Parameters
that only make sense inside a browser, in that client's bundled skin, or for
its vendor's own engines and services are kept (a configuration that sets
them still loads) and marked ``ignored`` with the reason.

This module is data.  :mod:`sansip.phone.params` checks values against it and
keeps the values in force.  Each row is written as ``_p(name, type, default,
meaning[, reason ignored])`` where the type is ``"str"``, ``"bool"``,
``"list"`` (comma-separated), ``"float"``, ``"int"`` with an optional
``low..high`` range and unit (``"int 30..3600 s"``), a tuple of the allowed
strings, or the allowed integers with their meaning (``"0 no; 1 yes"``).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TypeAlias

from sansip.phone.planned import PLANNED

__all__ = ["ALIASES", "TABLE", "Kind", "ParamSpec", "ParamType", "Value"]

#: A parameter's typed value (a list parameter's value is a tuple of strings).
Value: TypeAlias = str | int | bool | float | tuple[str, ...]


class ParamType(enum.Enum):
    """The type of a parameter's value."""

    STR = "str"
    INT = "int"
    BOOL = "bool"
    FLOAT = "float"
    ENUM = "enum"
    LIST = "list"


class Kind(enum.Enum):
    """Whether sansip acts on a parameter, will in a part not built yet, or
    only accepts it."""

    ACTIVE = "active"
    PLANNED = "planned"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One parameter: its name, type, default and meaning, and whether sansip uses it.

    ``choices`` lists an enumeration's allowed values with a short label each
    (the label is empty for string enumerations); ``minimum``/``maximum``
    bound an integer; ``unit`` is the unit of a number (``s``, ``ms``,
    ``kbps``, ``%``, ``px``); ``reason`` says why an ignored one is ignored.
    """

    name: str
    type: ParamType
    default: Value
    description: str
    group: str = ""
    kind: Kind = Kind.ACTIVE
    reason: str = ""
    choices: tuple[tuple[int | str, str], ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    unit: str = ""

    @property
    def active(self) -> bool:
        """True if sansip acts on this parameter."""
        return self.kind is Kind.ACTIVE


_RANGE = re.compile(r"(-?\d+)?\.\.(-?\d+)?")
_SIMPLE = {"str": ParamType.STR, "bool": ParamType.BOOL, "list": ParamType.LIST,
           "float": ParamType.FLOAT, "int": ParamType.INT}  # fmt: skip


def _p(
    name: str, type_: str | tuple[str, ...], default: Value, text: str, ignored: str = ""
) -> ParamSpec:
    """A table row (see the module docstring for the ``type_`` notation)."""
    kind = Kind.IGNORED if ignored else Kind.ACTIVE
    spec = ParamSpec(name, ParamType.STR, default, text, kind=kind, reason=ignored)
    if isinstance(type_, tuple):
        return replace(spec, type=ParamType.ENUM, choices=tuple((v, "") for v in type_))
    head, *rest = type_.split()
    if head not in _SIMPLE:  # "0 no; 1 yes": integers with their labels
        items = [item.strip().partition(" ") for item in type_.split(";")]
        choices = tuple((int(value), label) for value, _, label in items)
        return replace(spec, type=ParamType.ENUM, choices=choices)
    low = high = None
    unit = ""
    for word in rest:
        if match := _RANGE.fullmatch(word):
            low, high = (None if g is None else int(g) for g in match.groups())
        else:
            unit = word
    return replace(spec, type=_SIMPLE[head], minimum=low, maximum=high, unit=unit)


def _group(title: str, rows: Iterable[ParamSpec]) -> tuple[ParamSpec, ...]:
    return tuple(replace(row, group=title) for row in rows)


# Why an ignored parameter is ignored.
_B = "browser-only [B]"
_UI = "user interface only [UI]"
_V = "vendor engine, tunnel or helper service"
_MOBILE = "mobile platforms only"
_NOYES = "0 no; 1 yes"
_ONOFF = "0 off; 1 on"
_AUTO3 = "-1 auto; 0 no; 1 yes"
_PRIORITY = "0 never; 1 lower; 2 normal; 3 higher; 4 highest; 5 only this one"
_ENGINE_RANKS = {"java": 32, "webrtc": 20, "flash": 13, "ns": 30, "app": 10, "p2p": 5,
                 "callback": 5, "natedial": 3}  # fmt: skip
_ENGINES = ("java", "webrtc", "ns", "flash", "app", "p2p", "accessnum", "natedial",
            "otherbrowser")  # fmt: skip
_CODECS = {"pcmu": 2, "pcma": 2, "g729": 1, "gsm": 1, "ilbc": 1, "speex": 1, "speexwb": 1,
           "speexuwb": 1, "opus": 3, "opuswb": 1, "opusuwb": 1, "opusswb": 1}  # fmt: skip
_CODEC_USE = "0 never; 1 accepted, not offered; 2 offered, low priority; 3 offered, high priority"
_PREFCODECS = ("", "pcmu", "pcma", "g.711", "g.729", "gsm", "ilbc", "speex", "speexwb",
               "speexuwb", "opus", "opuswb", "opusuwb", "opusswb")  # fmt: skip
_AUTOMUTE = ("0 no; 1 incoming calls; 2 outgoing calls; 3 both; 4 other-line button; "
             "5 outgoing and button; 6 all")  # fmt: skip
_PROCESSING = "0 off; 1 capture side; 2 capture and playback; 3 auto"

# fmt: off
_ACCOUNT = _group("SIP account", [
    _p("serveraddress", "str", "", "SIP domain or registrar, host[:port]; the one required value"),
    _p("username", "str", "", "user part of the address of record, also the caller id"),
    _p("sipusername", "str", "", "digest user name when it differs from username"),
    _p("password", "str", "", "digest password"),
    _p("displayname", "str", "", "display name put in From and Contact"),
    _p("realm", "str", "", "digest realm to answer for (empty: the one the server names)"),
    _p("proxyaddress", "str", "", "outbound proxy as host[:port]"),
    _p("register", "0 never; 1 when credentials are preset; 2 always, before any call", 1,
       "whether the phone registers"),
    _p("registerinterval", "int 30..3600 s", 300, "registration lifetime asked of the registrar"),
    _p("mustconnect", "bool", False, "refuse calls until registered"),
    _p("regtimeout", "int 0.. ms", 6000, "wait for a REGISTER answer this long; 0: no retry"),
    _p("md5", "str", "", "pre-hashed credential given in place of the password"),
])

_ENGINE = _group("engine selection and packaging", [
    *(_p(f"enginepriority_{e}", _PRIORITY, 2, f"preference for the {e} engine", _B)
      for e in _ENGINES),
    *(_p(f"enginedefpriority_{e}", "int 0..100", rank, f"built-in rank of the {e} engine", _B)
      for e, rank in _ENGINE_RANKS.items()),
    _p("linnsengine", "bool", True, "allow the native service engine on Linux", _B),
    _p("macnsengine", "bool", True, "allow the native service engine on macOS", _B),
    _p("winlinmacnsengine", "bool", False, "allow the native service engine everywhere", _B),
    _p("minserviceversion", "int", 0, "oldest native service accepted (-2, -3: no prompts)", _V),
    _p("nsupgrademode", "-1 never; 0 silently; 1 silently or by asking; 2 at once", 1,
       "how the native service upgrades", _V),
    _p("autoupgrade", "int", 0, "self-upgrade of the native parts (6: off, 5: certs too)", _V),
    _p("startsipstack", "str", "", "start control of the native service engine", _V),
    _p("appengine_startat", "1 at start; 2 when needed; 3 at the first call", 2,
       "when the companion mobile app is launched", _B),
    _p("android_natedialerurl", "str", "", "store link of the fallback Android app", _B),
    _p("ios_natedialerurl", "str", "", "store link of the fallback iOS app", _B),
    _p("app_protocol", "list", ("sip", "tel"), "URI schemes that open the companion app", _B),
    _p("autodetectwebrtc", _NOYES, 1, "probe the SIP server for its own WebSocket support", _B),
    _p("rtmpserveraddress", "str", "", "host:port of a Flash-to-SIP gateway", _B),
    _p("webphonebasedir", "str", "", "where the browser library's files are (obsolete)", _B),
    _p("nativepluginurl", "str", "", "download address of the native plugin (obsolete)", _B),
    _p("nsdomain", "str", "", "loopback domain a page uses to reach the native service", _B),
    _p("preferred_storage", "-1 auto; 0 none; 1 IndexedDB; 2 localStorage; 3 WebSQL", -1,
       "browser storage for the settings", _B),
    _p("storagecookiefallback", _NOYES, 1, "also keep key settings in cookies", _B),
    _p("usepathinfilenames", "0 none; 1 domain; 2 full path; 3 path only", 3,
       "how the page's location scopes stored settings", _B),
    _p("destroyonpageclose", "0 keep running; 1 stop", 1, "what closing the page does", _B),
    _p("canopenlogview", "bool", False, "allow the applet's log window", _B),
])

_WEBSOCKET = _group("WebRTC and WebSocket", [
    _p("webrtcserveraddress", "list", (), "SIP over WebSocket targets ws[s]://host[:port][/path], "
       "in failover order"),
    _p("wskeepaliveival", "int 0.. ms", 30000, "WebSocket keep-alive period; 0: off"),
    *(_p(name, "str", "", "option of the browser's peer connection", _B)
      for name in ("bundlePolicy", "iceCandidatePoolSize", "iceTransportPolicy", "rtcpMuxPolicy")),
    _p("contactdomain", "0 placeholder host; 1 real domain", 0,
       "host put in the Contact of a WebSocket registration"),
    _p("wstestservers", "list", (), "WebSocket endpoints probed for connectivity", _V),
    _p("inbounddtmf", "str", "", "incoming DTMF style of a user at the vendor gateway", _V),
    _p("outbounddtmf", "str", "", "outgoing DTMF style of a user at the vendor gateway", _V),
])

_NAT = _group("NAT, ICE and addressing", [
    _p("stunserveraddress", "str", "", "STUN server host:port (empty or NULL: none)"),
    _p("turnserveraddress", "str", "", "TURN relay host:port (empty or NULL: none)"),
    _p("turnparameters", "str", "", "extra TURN URI parameters such as transport=tcp"),
    _p("turnusername", "str", "", "TURN user name"),
    _p("turnpassword", "str", "", "TURN password"),
    _p("ice", "str", "", "JSON list of {url, username, credential} STUN/TURN servers "
       "(replaces the four above)"),
    _p("icetimeout", "int 0.. ms", 2000, "longest time spent gathering ICE candidates"),
    _p("stunturnonlocal", "0 neither; 1 STUN only; 2 STUN and TURN", 1,
       "STUN/TURN use when the server is on the local network"),
    _p("use_rport", "0 not asked; 1 only for a known symmetric NAT; 2 asked and used unless "
       "public; 3 asked and used even when public; 9 asked, local address kept", 1,
       "rport (RFC 3581) request and use"),
    _p("use_fast_stun", "-1 private address always; 0 off; 1 stable symmetric NAT only; "
       "2 when both probes agree; 3 symmetric on one match; 4 always; 5 even when public", 2,
       "put the STUN-learned public address in SIP and SDP"),
    _p("use_fast_ice", "-1 ask the server to relay media; 0 off; 1 auto; 2 yes; 3 always", 1,
       "direct media between the peers (ICE)"),
    _p("p2psignaling", "0 never; 1 when possible; 2 through the proxy socket; "
       "3 proxy with full processing", 1, "direct signalling between peers", _V),
    _p("udpconnect", _NOYES, 0, "connect the UDP socket to the server"),
    _p("natopenpackets", "int 0..10", 5, "tiny UDP packets sent to open the media path; 0: none"),
    _p("keepaliveival", "int 0.. ms", 28000, "SIP keep-alive period for NAT bindings; 0: off"),
    _p("localip", "str", "", "address to bind on a multi-homed host (empty: automatic)"),
    _p("signalingport", "int 0..65535", 0, "local SIP port (0: picked once, then kept)"),
    _p("rtpport", "int 0..65535", 0, "first local RTP port (0: signalling port + 2)"),
    _p("altexternpublicip", _ONOFF, 1, "public address lookup through web services", _V),
    _p("networkchecks", _ONOFF, 1, "connectivity checks against vendor servers", _V),
    _p("geolocation", _ONOFF, 1, "IP geolocation sent as X-Country", _V),
    _p("usetunneling", _ONOFF, 0, "proprietary tunnel and obfuscation", _V),
])

_TRANSPORT = _group("transport, failover and registration", [
    _p("transport", "-1 auto; 0 UDP; 1 TCP; 2 TLS; 3 HTTP tunnel; 4 HTTP CONNECT proxy; "
       "5 UDP, then a tunnel", -1, "SIP transport"),
    _p("backupserver", "str", "", "second SIP server, used when the first fails"),
    _p("serveraddressfirst", "str", "", "server tried before serveraddress"),
    _p("autotransportdetect", "bool", False, "try other transports when the chosen one fails"),
    _p("enablefallback", "bool", True, "fail over to the next server"),
    _p("autostart", "0 wait for start(); 1 unless the last session failed; 2 always", 1,
       "whether the stack starts by itself"),
    _p("forcereregister", "0 never; 1 if it worked before; 2 always", 1,
       "register again after the registration is lost"),
    _p("needunregister", "bool", True, "unregister when the phone stops"),
    _p("extraregisteraccounts", "str", "", "more accounts: "
       "server,user,password,interval,proxy,realm,authuser;..."),
    _p("callreceiver", "-1 auto; 0 refuse all; 1 while running; 2 also in the background", -1,
       "whether incoming calls are taken"),
    _p("enablepush", _AUTO3, -1, "push notifications for incoming calls", _V),
    _p("backgroundservice", "str", "", "background services to enable (push)", _V),
    _p("autoprovisioning", "0 no; 1 when no server is given; 2 yes", 0,
       "fetch settings from a provisioning service by operator code", _V),
    _p("accessnumber", "str", "", "PSTN access number for the native dialler fallback", _V),
    _p("callbacknumber", "str", "", "number that asks the server to call back"),
])

_SHAPING = _group("SIP message shaping and compatibility", [
    _p("useragent", "str", "", "User-Agent header (empty: sansip's own)"),
    _p("customsipheader", "str", "", "extra 'Name: value' headers, separated by ';' or CRLF"),
    _p("contact_uri_parameters", "str", "", "parameters inside the Contact URI (RFC 8599 ones)"),
    _p("contact_parameters", "str", "", "parameters of the Contact header field"),
    _p("allowsipuriasusername", "0 strip the domain; 1 keep it", 0,
       "what to do with a username written as a SIP URI"),
    _p("invrecorderoute", "bool", False, "route set workaround for calls that drop early"),
    _p("setfinalcodec", _NOYES, 1, "re-offer only the chosen codec once negotiated"),
    _p("enableearlyreinvite", _NOYES, 1, "allow a re-INVITE right after the call connects"),
    _p("disablesamecall", "0 allowed; 1 refused", 1, "a second call with a peer already in one"),
    _p("separatechatdiag", _NOYES, 0, "send each MESSAGE in a dialog of its own"),
    _p("sendregisternotifications", _NOYES, 1, "report registration changes as notifications"),
    _p("apibehaviour", "-1 both; 0 old; 1 new", 1, "vocabulary of the call events"),
])

_DEVICES = _group("audio devices and sounds", [
    _p("useaudiorecord", "-1 never capture; 0 calls without a microphone; 1 warn and retry "
       "audio only; 2 microphone required; 3 as 1, also for incoming video", 1,
       "what a missing microphone means"),
    _p("useaudiodevicerecord", "bool", True, "open a capture device at all"),
    _p("usecommdevice", "0 no; 1 yes; 2 forced", 1, "Windows communications device mode", _V),
    _p("checkvolumesettings", "0 no; 1 first run; 2 always", 1,
       "unmute and raise the system volume", "sansip leaves the system mixer alone"),
    _p("sendrtponmuted", "bool", False, "keep sending silence while muted"),
    _p("cancloseaudioline", "int", 0, "audio driver workaround of the vendor engine", _V),
    _p("singleaudiostream", "int", 0, "audio driver workaround of the vendor engine", _V),
    _p("playing", "0 none; 1 all but ringback; 2 all", 2, "which local tones are played"),
    _p("ringtone", "str", "", "sound file for incoming calls (empty: built-in)"),
    _p("nostopring", _NOYES, 0, "keep the local ringback when early media arrives"),
    _p("ringincall", "int 0..", 1, "signal a new call during a call; 0: off"),
])

_SECURITY = _group("media security, DTMF and early media", [
    _p("mediaencryption", "-1 auto (1 with TLS signalling, else 0); 0 plain RTP; 1 SRTP when "
       "the peer does it; 2 SRTP required; 3 DTLS-SRTP required", -1,
       "media encryption: SRTP keyed by SDES (RFC 4568; our offers carry keys with 1 on "
       "RTP/AVP, 2 on RTP/SAVP) or by DTLS (3, RFC 5763: UDP/TLS/RTP/SAVP with our "
       "certificate's fingerprint); with 2 and 3 a call without SRTP ends with srtp fail"),
    _p("dtmfmode", "0 off; 1 SIP INFO; 2 auto; 3 INFO and RFC 4733; 4 RFC 4733; 5 in-band; "
       "6 INFO and in-band", 2, "how DTMF is sent"),
    _p("playdtmfsound", "0 no; 1 single digits; 2 always", 1, "play sent digits locally"),
    _p("earlymedia", "0 no; 1 reserved; 2 auto; 3 audio opened early; 4 null packets after SDP; "
       "5 after SDP; 6 always", 2, "early media handling"),
])

_CODECS_GROUP = _group("codecs", [
    _p("prefcodec", _PREFCODECS, "", "preferred audio codec"),
    _p("codec", "list", (), "audio codecs allowed, best first (empty: every one sansip has)"),
    *(_p(f"use_{c}", _CODEC_USE, use, f"whether {c} is offered or accepted")
      for c, use in _CODECS.items()),
    _p("alwaysallowlowcodec", _NOYES, 1, "always keep a narrowband codec as fallback"),
    _p("codeframecount", "int 0..", 0, "frames per RTP packet (0: 20 ms)"),
    _p("audio_bandwidth", "int 0.. kbps", 0, "audio bandwidth cap sent as b=AS; 0: none"),
])

_PROCESSING_GROUP = _group("audio processing", [
    _p("plc", "bool", True, "conceal lost packets"),
    _p("vad", "0 auto; 1 no; 2 playback side; 3 capture side; 4 both", 2,
       "voice activity detection"),
    _p("vadstat", "0 no; 1 auto; 2 detect a silent microphone; 3 also report VAD events", 1,
       "voice activity statistics"),
    _p("vadstat_ival", "int 0.. ms", 2000, "period of the VAD reports"),
    _p("enablenomicvoicewarning", _NOYES, 1, "warn when the microphone stays silent"),
    _p("aec", "0 no; 1 yes unless a headset is likely; 2 yes if available; 3 forced", 1,
       "echo cancellation"),
    _p("aec2", "0 no; 1 auto; 2 yes; 3 aggressive", 1, "second echo canceller"),
    _p("agc", _PROCESSING, 3, "automatic gain control"),
    _p("denoise", _PROCESSING, 3, "noise suppression"),
    _p("silencesuppress", "-1 auto; 0 off; 1 on", -1, "stop sending during silence"),
    _p("jittersize", "int 0..6", 3, "jitter buffer size from 0 (none) to 6 (largest), 3 normal"),
])

_VIDEO = _group("video", [
    _p("vcodec", "list", (), "video codecs allowed, best first"),
    _p("prefvcodec", "str", "", "preferred video codec"),
    _p("video", "-1 auto; 0 off; 1 on; 2 forced", -1, "video in calls"),
    _p("video_bandwidth", "int 0.. kbps", 0, "video bandwidth cap sent as b=AS; 0: none"),
    *(_p(f"video{bound}_{side}", "int 0.. px", 0, f"{bound[1:] or 'wanted'} video {side}; 0: any")
      for bound in ("", "_min", "_max") for side in ("width", "height")),
    _p("videofacing", ("no", "user", "environment", "left", "right"), "no",
       "which camera of a phone to use", _MOBILE),
    _p("screensharing", "0 off; 1 auto; 2 forced", 1, "screen sharing"),
    _p("fixvideo", "-1 auto; 0 never; 1 fix on failure; 2 fix or strip on failure; 3 strip on "
       "failure; 4 always fix; 5 always fix or strip; 6 always strip; 7 port 0 on failure; "
       "8 port 0 always", -1, "repair of video offers that peers reject"),
])

_PRESENCE = _group("conference, presence and BLF", [
    _p("conferencetype", "0 off; 1 auto; 2 local mixer; 3 server, driven by DTMF; 4 3-way SIP; "
       "5 room by MESSAGE and REFER; 6 room by MESSAGE; 7 room by REFER", 1, "conference method"),
    _p("enablepresence", "-1 auto; 0 off; 1 if the server supports it; 2 forced", 1, "presence"),
    _p("presenceuserlist", "list", (), "users whose presence is watched"),
    _p("enableblf", "0 off; 1 auto; 2 on; 3 forced for good", 1, "busy lamp field"),
    _p("blfuserlist", "list", (), "extensions whose call state is watched"),
])

_STORAGE = _group("storage, profiles and logging", [
    _p("resetsettings", "bool", False, "forget the stored settings at every start"),
    _p("configversion", "int 0..", 0, "raise it to forget the stored settings once"),
    _p("profile", "str", "", "name of a separate set of stored settings"),
    _p("loglevel", "int 0..", 1, "log detail: 1 production, 5 with SIP, above 9 with RTP"),
    _p("maxloglevel", "int 0..", 0, "highest log level a user may choose; 0: no limit"),
    _p("logtoconsole", "bool", True, "write log lines to the console"),
    _p("rtpstat", "int -1.. s", 0, "RTP statistics period (-1 auto, 0 off)"),
    _p("jscripstats", "int 0..", 0, "add RTP counters to the status reports when above 0"),
    _p("logform_action", "str", "", "where a 'send log' form posts to", _V),
    _p("logform_filename", "str", "", "file name of a posted log", _V),
])

_BEHAVIOUR = _group("call divert and behaviour", [
    _p("callto", "str", "", "destination used at start (click to call)"),
    _p("autoaction", "0 nothing; 1 call; 2 chat; 3 video call", 0, "what to do with callto"),
    _p("voicemailnum", "str", "", "voicemail access number (empty: learnt)"),
    _p("normalizenumber", _AUTO3, -1, "strip punctuation from phone numbers that are dialled"),
    _p("techprefix", "str", "", "prefix put before dialled numbers"),
    _p("numpxrewrite", "str", "", "number rewriting: prefix,replacement,minlen,maxlen;..."),
    _p("blacklist", "list", (), "users and numbers whose calls and messages are refused"),
    _p("callforwardonbusy", "str", "", "forward incoming calls here while in a call"),
    _p("callforwardonnoanswer", "str", "", "forward calls not answered in time here"),
    _p("callforwardonnoanswertimeout", "int 0.. s", 15, "when an unanswered call is forwarded"),
    _p("callforwardalways", "str", "", "forward every incoming call here"),
    _p("calltransferalways", "str", "", "transfer every incoming call here (REFER)"),
    _p("autoignore", "0 off; 1 silently; 2 reject", 0, "ignore incoming calls"),
    _p("autoaccept", "bool", False, "answer every incoming call"),
    _p("enableautoaccept", "0 never; 1 when autoacceptheader matches; 2 also on server hints; "
       "3 every call", 1, "automatic answer"),
    _p("autoacceptheader", "str", "", "header that asks for an automatic answer"),
    _p("acceptcall_onsharedevice", _NOYES, 1, "answer once microphone access is granted", _B),
    _p("beeponincoming", _NOYES, 0, "short beep on an incoming call"),
    _p("beeponconnect", "0 off; 1 auto-answered calls; 2 incoming; 3 outgoing; 4 all", 0,
       "beep when a call connects"),
    _p("redialonfail", _NOYES, 1, "try again a call that failed or got no answer"),
    _p("rejectonbusy", "bool", False, "decline incoming calls while in a call"),
    _p("allowcallredirect", _NOYES, 1, "follow 3xx redirections"),
    _p("holdtype", "-2 hold requests ignored; -1 auto; 0 no; 1 unused; 2 sendonly; "
       "3 recvonly; 4 inactive", -1, "how hold is signalled"),
    _p("defmute", "0 both; 1 speaker; 2 microphone; 3 both; 4 both; 5 muting disabled", 0,
       "what muting silences"),
    _p("muteholdalllines", _NOYES, 0, "mute or hold every leg of a conference together"),
    _p("automute", _AUTOMUTE, 0, "mute the other calls when one starts"),
    _p("autohold", _AUTOMUTE, 0, "hold the other calls when one starts"),
    _p("muteonhold", "bool", False, "mute the microphone while a call is held"),
    _p("multilineoop", "int 0..", 2, "mute instead of hold with several calls",
       "workaround of the browser media engine"),
    _p("audiodevicein", "str", "", "capture device name (empty or Default: the system's)"),
    _p("audiodeviceout", "str", "", "playback device name (empty or Default: the system's)"),
    _p("audiodevicering", "str", "", "ringing device name (also All)"),
    _p("volumein", "int 0..100 %", 50, "microphone volume"),
    _p("volumeout", "int 0..100 %", 50, "speaker volume"),
    _p("volumering", "int 0..100 %", 50, "ringer volume"),
    _p("androidspeaker", "-2 left alone; -1 auto; 0 platform default; 1 before the first call; "
       "2 after the first call; 3 at start", -1, "loudspeaker routing", _MOBILE),
    _p("transfertype", "-1 default; 0 disabled; 1 blind; 2 attended, ends when the target hangs "
       "up; 3 attended, ends when we hang up the target; 4 attended, any hang-up; 5 standard "
       "attended; 6 unattended with hold; 7 plain unattended; 8 by conference", -1,
       "how calls are transferred"),
    _p("transfwithreplace", "-1 auto; 0 no; 1 yes; 2 forced", -1, "transfer with Replaces"),
    _p("replacetype", "-1 auto; 0 off; 1 standard (RFC 3891); 2 swapped in place", -1,
       "incoming REFER with Replaces"),
    _p("transferpopup", "-1 auto; 0 hold and dial; 1 dial without hold; 2 ask", -1,
       "transfer dialogue", _UI),
    _p("discontransfer", "-1 auto; 0 never; 1 target connected; 2 timeout; 3 connected or "
       "timeout; 4 REFER accepted", -1, "when the transferred leg is dropped"),
    _p("disconincomingrefer", _AUTO3, -1, "drop the line after a received REFER"),
    _p("allowreplace", "0 no; 1 yes, old leg dropped; 2 yes, kept while transferring; "
       "3 yes, old leg kept", 2, "incoming INVITE with Replaces"),
    _p("inversetransfer", _NOYES, 0, "send the REFER to the leg being hung up"),
    _p("transferdelay", "int 0.. ms", 400, "pause before the REFER or INVITE of a transfer"),
    _p("newdialogforrefer", _NOYES, 0, "send the REFER outside the dialog"),
    _p("holdontransfer", "-1 auto; 0 no; 1 hold first; 2 hold, resume on failure; 3 hold once "
       "accepted, resume on failure", -1, "hold during a transfer"),
    _p("unholdontransfer", "-1 auto; 0 no; 1 resume before REFER with Replaces; 2 always", -1,
       "resume after a transfer"),
    _p("changesptoring", "0 ignored; 1 as ringing; 2 ringback until media; 3 early media "
       "played; 4 ringing and early media; 5 ringback always", 2, "what a 183 does"),
    _p("ringtimeout", "int 0.. ms", 90000, "longest ringing"),
    _p("ringtimeoutin", "int 0.. ms", 0, "longest ringing of incoming calls (0: ringtimeout)"),
    _p("ringtimeoutout", "int 0.. ms", 0, "longest ringing of outgoing calls (0: ringtimeout)"),
    _p("calltimeout", "int 0.. ms", 10800000, "longest call"),
    _p("mediatimeout", "int 0.. s", 300, "end a call that receives no RTP this long; 0: never"),
    _p("bargeinheader", "str", "", "header that makes an INVITE a hidden monitoring call"),
    _p("voicerecupload", "str", "", "upload address template of call recordings"),
    _p("voicerecording", "0 no; 1 local file; 2 upload only; 3 both", 0, "call recording"),
])

_INTERFACE = _group("user interface", [
    _p("brandname", "str", "", "product name shown", _UI),
    _p("companyname", "str", "", "company shown in the about box", _UI),
    _p("logo", "str", "", "text or image of the login page", _UI),
    _p("colortheme", "int 0..12", 0, "colour theme (0 default)", _UI),
    _p("language", "str", "", "interface language (empty: the system's)", _UI),
    _p("languageautodetect", _NOYES, 1, "pick the interface language by itself", _UI),
    _p("featureset", "0 minimal; 5 reduced; 10 full; 15 power user", 10, "features shown", _UI),
    _p("showserverinput", "0 hide; 1 auto; 2 show", 1, "server field on the login page", _UI),
    _p("useloginpage", "-1 auto; 0 no; 1 first login; 2 always", -1, "simple login page", _UI),
    _p("autologin", _AUTO3, -1, "skip the login page", _UI),
    _p("quick_access_list", _NOYES, 1, "recent contacts on the dial pad", _UI),
    _p("textmessaging", "-1 auto; 0 off; 1 no incoming; 2 no sending; 3 HTTP SMS API; "
       "4 reserved; 5 SMS over SIP; 6 SIP MESSAGE chat", -1, "chat and SMS"),
    _p("showincomingchatas", "0 open the chat; 1 notify only", 0, "new chat display", _UI),
    _p("callparknumber", "str", "", "call park code", _UI),
    _p("hasringcounter", "bool", False, "show how long a call has rung", _UI),
    _p("hasfiletransfer", "bool", False, "offer file transfer", _UI),
    _p("filetransferurl", "str", "", "upload address for file transfer", _UI),
    _p("displaynotification", _NOYES, 1, "notify missed calls and messages", _UI),
    _p("displayvolumecontrols", "bool", False, "volume controls during a call", _UI),
    _p("displayaudiodevice", "bool", False, "device control during a call", _UI),
    _p("displayvideodevice", _NOYES, 0, "preview when choosing a camera", _UI),
    _p("displaypeerdetails", "str", "", "where peer details are shown", _UI),
    _p("savetocontacts", "0 no; 1 ask; 2 yes", 1, "add dialled numbers to contacts", _UI),
    _p("messagepopup", "str", "", "message shown to the user once", _UI),
    _p("showtoasts", "bool", True, "hint popups", _UI),
    _p("incomingcallpopup", "0 no; 1 when unfocused; 2 yes; 3 every engine", 1,
       "system notification of incoming calls", _UI),
    *(_p(f"callnot_{part}", "str", "", f"{part} of the incoming call notification", _UI)
      for part in ("title", "body", "icon", "image")),
    _p("askfornotifpermission", "int", -1, "when to ask for notification permission", _B),
    _p("closecall_timeout", "int 0.. ms", 3000, "call page kept after a call ends", _UI),
    _p("closecall_timeout_err", "int 0.. ms", 8000, "call page kept after a call fails", _UI),
    _p("header", "str", "", "text at the top", _UI),
    _p("footer", "str", "", "text at the bottom", _UI),
    _p("version", "str", "", "version shown", _UI),
    _p("showsyncontactsmenu", "-1 hidden; 0 menu and empty page; 1 menu", 1,
       "contact synchronisation menu", _UI),
    _p("defcontacts", "str", "", "contacts to start with: name,number,email,address,notes,"
       "website;..."),
    _p("disableoptions", "list", (), "features, settings or pages to hide", _UI),
    _p("extraoption", "str", "", "free key=value; settings of the skin", _UI),
    _p("logsendto", "0 none; 1 upload; 2 e-mail", 1, "what the log page does", _UI),
    _p("multilinegui", _NOYES, 1, "show the multi-line controls", _UI),
    _p("disablepopup", _NOYES, 0, "suppress every dialogue", _UI),
    _p("disabletoasts", _NOYES, 0, "suppress every hint popup", _UI),
    _p("serveraddressbook_url", "str", "", "address of a tab-separated address book"),
    _p("serveraddressbook_sync", "0 once; 1 until contacts arrive; 2 at every start", 0,
       "when the server address book is fetched"),
    _p("normalize_contact", _NOYES, 1, "clean up numbers of contacts that are added"),
])

_LINKS = _group("links and server hooks", [
    *(_p(name, "str", "", f"{what} (a page the interface opens)", _UI) for name, what in (
        ("advertisement", "advertisement"), ("supportmail", "support e-mail address"),
        ("supporturl", "support page"), ("forgotpasswordurl", "password recovery page"),
        ("homepage", "home page"), ("accounturi", "account page"), ("helpurl", "help page"),
        ("licenseurl", "licence page"), ("extramenuurl", "extra menu page"),
        ("extramenutxt", "extra menu title"))),
    *(_p(name, "str", "", f"{what}; '*' first makes it an HTTP API call") for name, what in (
        ("newuser", "sign-up page or request"), ("recharge", "top-up page or request"),
        ("p2p", "request that rings our phone, then the number"),
        ("callback", "request for a callback"), ("sms", "SMS sending request"),
        ("creditrequest", "balance request"), ("ratingrequest", "call rate request"))),
    *(_p(f"scurl_{event}", "str", "", f"HTTP request made {when}") for event, when in (
        ("onstart", "at start"), ("onoutcallsetup", "when an outgoing call starts"),
        ("onoutcallringing", "when an outgoing call rings"),
        ("onoutcallconnected", "when an outgoing call connects"),
        ("onoutcalldisconnected", "when an outgoing call ends (with the CDR)"),
        ("oninccallsetup", "when a call comes in"),
        ("oninccallringing", "when an incoming call rings"),
        ("oninccallconnected", "when an incoming call is answered"),
        ("oninccalldisconnected", "when an incoming call ends (with the CDR)"),
        ("oninchat", "when a message arrives"), ("onoutchat", "when a message is sent"),
        ("setparameters", "after start; its key=value,... answer sets parameters"),
        ("displaypeerdetails", "for peer details to show"))),
])

# Not in the reference vocabulary: sansip's own additions.
_SANSIP = _group("sansip extensions", [
    _p("maxlines", "int 1..", 4, "how many lines (calls at the same time) the phone has"),
    _p("signalingonly", _NOYES, 0,
       "calls without media: an SDP whose audio stream is off (port 0), no RTP ports opened"),
    _p("dnsserver", "str", "", "nameservers as host[:port],... (empty: the system's)"),
    _p("tlscafile", "str", "", "PEM file of the CAs a TLS server must chain to (empty: the "
       "system's trust store)"),
    _p("tlscertfile", "str", "", "PEM certificate (chain) this phone accepts TLS with"),
    _p("tlskeyfile", "str", "", "the private key of tlscertfile (empty: in the same file)"),
    _p("instanceid", "str", "", "RFC 5626 instance id (a UUID) sent in the Contact"),
    _p("outbound", _NOYES, 0, "RFC 5626 outbound: a fresh instance id when none is given"),
    _p("ringback", "str", "", "sound file of the local ringback (empty: the built-in cadence)"),
    _p("sessionexpires", "int 0..86400 s", 0, "RFC 4028 session interval our calls ask for "
       "(0: none, but a peer's request is honoured)"),
    _p("minse", "int 90..86400 s", 90, "RFC 4028 Min-SE: the shortest session interval taken"),
    _p("samplerate", "8000 narrowband; 16000 wideband; 32000 super-wideband; 48000 fullband",
       16000,
       "the rate of the frames calls play and hear (8000 spares G.711 calls the resampling)"),
    _p("prack", "0 no; 1 supported (our 1xx reliable when the peer requires it); 2 preferred", 1,
       "RFC 3262 reliable provisional responses (100rel, PRACK)"),
    _p("identityheader", "0 none; 1 P-Preferred-Identity; 2 P-Asserted-Identity; "
       "3 Remote-Party-ID", 0,
       "the caller identity our calls and messages assert besides the From (RFC 3325; "
       "with username Anonymous the proxy is asked to withhold it)"),
])
# fmt: on

#: Every parameter, in table order.
TABLE: tuple[ParamSpec, ...] = tuple(
    replace(spec, kind=Kind.PLANNED, reason=PLANNED[spec.name])
    if spec.kind is Kind.ACTIVE and spec.name in PLANNED else spec
    for spec in (
        *_ACCOUNT, *_ENGINE, *_WEBSOCKET, *_NAT, *_TRANSPORT, *_SHAPING, *_DEVICES, *_SECURITY,
        *_CODECS_GROUP, *_PROCESSING_GROUP, *_VIDEO, *_PRESENCE, *_STORAGE, *_BEHAVIOUR,
        *_INTERFACE, *_LINKS, *_SANSIP,
    )
)  # fmt: skip

#: Older or misprinted names that still work, and the name they stand for.
ALIASES: dict[str, str] = {
    "p2prtp": "use_fast_ice", "conferenceroom": "conferencetype",
    "checkmicrophone": "useaudiorecord", "enabledirectcalls": "allowsipuriasusername",
    "backgroundcalls": "callreceiver", "haveloginpage": "useloginpage",
    "haschat": "textmessaging", "chatsms": "textmessaging", "hasvolume": "displayvolumecontrols",
    "hasincomingcallpopup": "incomingcallpopup", "hasincomingcall": "incomingcallpopup",
    "numrewriterules": "numpxrewrite", "filters": "numpxrewrite", "prefercodec": "prefcodec",
    "rtostat": "rtpstat", "scurl_onincalldisconnected": "scurl_oninccalldisconnected",
    "extramenuxt": "extramenutxt",
}  # fmt: skip
