"""The audio codecs sansip negotiates and the user's codec preferences.

The table is data: one :class:`CodecSpec` per RTP format.  The parameters
``codec`` (allowed list), ``prefcodec`` (preferred codec) and ``use_<codec>``
(0 never, 1 accept but do not offer, 2 offer low, 3 offer high) turn into a
:class:`CodecPreferences` with :func:`codec_preferences`.  A name that is no
codec sansip knows (a typo such as ``pcmuu``) raises :class:`UnknownCodec`
naming the closest known one; a real codec sansip does not have (G.729,
GSM, iLBC, Speex) is ignored and reported in ``warnings``.

This layer does not know which codecs can run here (Opus needs libopus):
the media layer passes those it can run as ``available`` (or calls
:meth:`CodecPreferences.restrict`), and the others are left out of offers
and answers and listed in :attr:`CodecPreferences.unavailable`.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import Final

from sansip.errors import LocalProtocolError
from sansip.sdp.attributes import RtpMap

__all__ = [
    "AUDIO_CODECS",
    "CN",
    "G722",
    "L16",
    "OPUS",
    "PCMA",
    "PCMU",
    "TELEPHONE_EVENT",
    "TELEPHONE_EVENT_48K",
    "CodecPreferences",
    "CodecSpec",
    "UnknownCodec",
    "codec_preferences",
    "find_codec",
    "telephone_event_for",
]


@dataclass(frozen=True, slots=True)
class CodecSpec:
    """One RTP audio format.

    ``key`` is the sansip parameter name (``use_<key>``), ``name`` the
    rtpmap encoding name, ``static_pt`` the RFC 3551 payload type (None for
    a dynamic one), ``clock_rate`` the RTP clock, ``channels`` the rtpmap
    channel count, ``default_fmtp`` the fmtp sansip sends for it and
    ``sample_rate`` the audio rate (differs from the clock for G.722).
    """

    key: str
    name: str
    static_pt: int | None
    clock_rate: int
    channels: int = 1
    default_fmtp: str = ""
    sample_rate: int = 0

    @property
    def audio_rate(self) -> int:
        """Sampling rate of the decoded audio."""
        return self.sample_rate or self.clock_rate

    def rtpmap(self, payload_type: int) -> RtpMap:
        """The rtpmap for this codec on ``payload_type`` (channels only when > 1)."""
        channels = self.channels if self.channels > 1 else None
        return RtpMap(payload_type, self.name, self.clock_rate, channels)

    def matches(self, encoding: str, clock_rate: int, channels: int | None) -> bool:
        """Whether an rtpmap (encoding name compared case-insensitively) is this codec."""
        if encoding.lower() != self.name.lower() or clock_rate != self.clock_rate:
            return False
        # Opus always says /2 (RFC 7587), but accept peers that leave it out.
        return (channels or 1) == self.channels or (channels is None and self.key == "opus")


PCMU: Final = CodecSpec("pcmu", "PCMU", 0, 8000)
PCMA: Final = CodecSpec("pcma", "PCMA", 8, 8000)
G722: Final = CodecSpec("g722", "G722", 9, 8000, sample_rate=16000)
OPUS: Final = CodecSpec("opus", "opus", None, 48000, 2,
                        "useinbandfec=1;maxaveragebitrate=64000;stereo=0")  # fmt: skip
L16: Final = CodecSpec("l16", "L16", None, 16000)
TELEPHONE_EVENT: Final = CodecSpec("telephone-event", "telephone-event", None, 8000,
                                   default_fmtp="0-16")  # fmt: skip
TELEPHONE_EVENT_48K: Final = CodecSpec("telephone-event", "telephone-event", None, 48000,
                                       default_fmtp="0-16")  # fmt: skip
CN: Final = CodecSpec("cn", "CN", 13, 8000)

#: Voice codecs in sansip's default order of preference.
AUDIO_CODECS: Final = (OPUS, G722, PCMU, PCMA, L16)
#: ``use_<key>`` defaults: everything offered except L16 (accepted only).
DEFAULT_PRIORITY: Final = {"opus": 2, "g722": 2, "pcmu": 2, "pcma": 2, "l16": 1}
#: Non-voice formats, looked up when reading a peer's SDP.
SIGNAL_CODECS: Final = (TELEPHONE_EVENT, TELEPHONE_EVENT_48K, CN)

_BY_KEY: Final = {c.key: c for c in AUDIO_CODECS}
#: Parameter spellings -> codec keys (``g.711`` is both G.711 laws).
ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "pcmu": ("pcmu",), "g711u": ("pcmu",), "g.711u": ("pcmu",), "ulaw": ("pcmu",),
    "mulaw": ("pcmu",), "pcma": ("pcma",), "g711a": ("pcma",), "g.711a": ("pcma",),
    "alaw": ("pcma",), "g.711": ("pcmu", "pcma"), "g711": ("pcmu", "pcma"),
    "g722": ("g722",), "g.722": ("g722",), "opus": ("opus",), "opusnb": ("opus",),
    "opuswb": ("opus",), "opusuwb": ("opus",), "opusswb": ("opus",), "l16": ("l16",),
}  # fmt: skip
#: Codec names a user may know from the parameter list that sansip cannot do.
UNSUPPORTED: Final = frozenset({"g729", "g.729", "gsm", "ilbc", "speex", "speexwb",
                                "speexuwb", "g723", "g.723", "g726", "g.726"})  # fmt: skip
#: Every codec name the parameters accept: the codec keys first, then the other spellings.
KNOWN_NAMES: Final = (*_BY_KEY, *(name for name in ALIASES if name not in _BY_KEY))


class UnknownCodec(LocalProtocolError, ValueError):
    """A codec parameter names no codec sansip knows (a typo, say ``pcmuu``).

    ``value`` is the name as given, ``parameter`` where it came from
    (``codec``, ``prefcodec``, ``use_<name>``) and ``closest`` the known
    name nearest to it (by :mod:`difflib`), or None when none is close.
    The message names all three and the known names.
    """

    def __init__(self, value: str, parameter: str) -> None:
        self.value = value
        self.parameter = parameter
        close = difflib.get_close_matches(_fold(value), KNOWN_NAMES, n=1)
        self.closest: str | None = close[0] if close else None
        hint = f" (did you mean {self.closest!r}?)" if self.closest else ""
        super().__init__(
            f"{parameter}: unknown codec {value!r}{hint}; "
            f"known codec names: {', '.join(KNOWN_NAMES)}"
        )


def find_codec(encoding: str, clock_rate: int, channels: int | None) -> CodecSpec | None:
    """The codec (voice, telephone-event or CN) an rtpmap describes, or None."""
    for spec in (*AUDIO_CODECS, *SIGNAL_CODECS):
        if spec.matches(encoding, clock_rate, channels):
            return spec
    if encoding.lower() == "telephone-event":
        return telephone_event_for(clock_rate)
    return None


def telephone_event_for(clock_rate: int) -> CodecSpec:
    """The RFC 4733 telephone-event format at ``clock_rate``."""
    if clock_rate == TELEPHONE_EVENT.clock_rate:
        return TELEPHONE_EVENT
    if clock_rate == TELEPHONE_EVENT_48K.clock_rate:
        return TELEPHONE_EVENT_48K
    return CodecSpec("telephone-event", "telephone-event", None, clock_rate, default_fmtp="0-16")


@dataclass(frozen=True, slots=True)
class CodecPreferences:
    """What to offer and what to accept, best first, and what was ignored.

    ``offered`` goes into offers; ``accepted`` (``offered`` then the
    accept-only codecs) is what an answer may pick from; ``unavailable``
    are the codecs the parameters wanted but the media layer cannot run
    here (left out of both; a 488 for an offer of only those names them).
    """

    offered: tuple[CodecSpec, ...]
    accepted: tuple[CodecSpec, ...]
    warnings: tuple[str, ...] = ()
    unavailable: tuple[CodecSpec, ...] = ()

    def restrict(self, available: Collection[str]) -> CodecPreferences:
        """These preferences without the codecs that cannot run here.

        ``available`` holds the codec keys or rtpmap names (case-insensitive)
        that can run, as the media layer's codec registry reports them;
        whatever else was offered or accepted moves to ``unavailable``.
        """
        allowed = {name.lower() for name in available}

        def runs(spec: CodecSpec) -> bool:
            return spec.key in allowed or spec.name.lower() in allowed

        dropped = tuple(c for c in self.accepted if not runs(c) and c not in self.unavailable)
        if not dropped:
            return self
        return replace(
            self,
            offered=tuple(c for c in self.offered if runs(c)),
            accepted=tuple(c for c in self.accepted if runs(c)),
            unavailable=self.unavailable + dropped,
        )


def _fold(name: str) -> str:
    folded = name.strip().lower().replace(" ", "")
    return folded[4:] if folded.startswith("use_") else folded


def _expand(name: str, what: str, warnings: list[str]) -> tuple[str, ...]:
    folded = _fold(name)
    if folded in ALIASES:
        return ALIASES[folded]
    if folded in UNSUPPORTED:
        warnings.append(f"{what}: codec {name.strip()!r} is not supported, ignored")
    elif folded:
        # ``use_<codec>`` names the codec in the parameter's own name
        value, parameter = (folded, name.strip()) if what == "use" else (name.strip(), what)
        raise UnknownCodec(value, parameter)
    return ()


def _expand_list(text: str, what: str, warnings: list[str]) -> list[str]:
    keys: list[str] = []
    for item in text.replace(";", ",").split(","):
        keys += [k for k in _expand(item, what, warnings) if k not in keys]
    return keys


def codec_preferences(
    codec: str = "",
    prefcodec: str = "",
    use: Mapping[str, str | int] | None = None,
    available: Collection[str] | None = None,
) -> CodecPreferences:
    """Turn the codec parameters into an ordered preference list.

    ``codec`` is the allowed list (``"Opus,PCMU"``; empty means sansip's
    default set), ``prefcodec`` the preferred codec (put first), ``use``
    maps ``use_<codec>`` (or ``<codec>``) to a priority 0-3 as text or int,
    and ``available`` (codec keys, None = all) drops codecs the media layer
    cannot run (see :meth:`CodecPreferences.restrict`).  Explicit ``use_*``
    values win over the ``codec`` list and over ``prefcodec`` (which
    otherwise makes its codec offered and first).  Raises
    :class:`UnknownCodec` for a name that is no codec.
    """
    warnings: list[str] = []
    priority = dict(DEFAULT_PRIORITY)
    order = [c.key for c in AUDIO_CODECS]
    if codec.strip():
        listed = _expand_list(codec, "codec", warnings)
        if listed:
            priority = dict.fromkeys(priority, 0) | dict.fromkeys(listed, 2)
            order = listed + [k for k in order if k not in listed]
        else:
            warnings.append("codec: no supported codec listed, using the defaults")
    explicit: dict[str, int] = {}
    for name, raw in (use or {}).items():
        keys = _expand(name, "use", warnings)
        text = str(raw).strip()
        if not keys:
            continue
        if text not in ("0", "1", "2", "3"):
            warnings.append(f"{name}: priority {text!r} is not 0-3, ignored")
            continue
        for key in keys:
            explicit[key] = max(explicit.get(key, 0), int(text))
    priority |= explicit
    preferred = _expand_list(prefcodec, "prefcodec", warnings)
    for key in preferred:
        if key not in explicit:
            priority[key] = max(priority[key], 2)

    def rank(key: str) -> tuple[bool, int, int]:
        return (key not in preferred, -priority[key], order.index(key))

    offered = sorted((k for k in order if priority[k] >= 2), key=rank)
    accept_only = [k for k in order if priority[k] == 1]
    preferences = CodecPreferences(
        offered=tuple(_BY_KEY[k] for k in offered),
        accepted=tuple(_BY_KEY[k] for k in (*offered, *accept_only)),
        warnings=tuple(warnings),
    )
    return preferences if available is None else preferences.restrict(available)
