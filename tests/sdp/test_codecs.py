"""The codec table and the codec/prefcodec/use_* preference parameters."""

from __future__ import annotations

import pytest

from sansip.errors import LocalProtocolError
from sansip.sdp import (
    CN,
    G722,
    L16,
    OPUS,
    PCMA,
    PCMU,
    TELEPHONE_EVENT,
    TELEPHONE_EVENT_48K,
    CodecSpec,
    UnknownCodec,
    codec_preferences,
    find_codec,
    telephone_event_for,
)


def keys(specs: tuple[CodecSpec, ...]) -> list[str]:
    return [s.key for s in specs]


def test_table_values() -> None:
    assert (PCMU.static_pt, PCMA.static_pt, G722.static_pt, CN.static_pt) == (0, 8, 9, 13)
    assert (G722.clock_rate, G722.audio_rate) == (8000, 16000)
    assert OPUS.rtpmap(111).value == "111 opus/48000/2"
    assert "useinbandfec=1" in OPUS.default_fmtp and "stereo=0" in OPUS.default_fmtp
    assert L16.rtpmap(97).value == "97 L16/16000"
    assert TELEPHONE_EVENT.default_fmtp == "0-16" and TELEPHONE_EVENT_48K.clock_rate == 48000


def test_find_codec_is_case_insensitive_and_checks_rate() -> None:
    assert find_codec("pcmu", 8000, None) is PCMU
    assert find_codec("OPUS", 48000, 2) is OPUS
    assert find_codec("opus", 48000, None) is OPUS
    assert find_codec("opus", 48000, 1) is None
    assert find_codec("G722", 16000, None) is None
    assert find_codec("Telephone-Event", 48000, None) is TELEPHONE_EVENT_48K
    assert find_codec("telephone-event", 16000, None) == telephone_event_for(16000)
    assert find_codec("G729", 8000, None) is None


def test_defaults() -> None:
    prefs = codec_preferences()
    assert keys(prefs.offered) == ["opus", "g722", "pcmu", "pcma"]
    assert keys(prefs.accepted) == ["opus", "g722", "pcmu", "pcma", "l16"]
    assert prefs.warnings == ()


def test_codec_list_restricts_and_orders() -> None:
    prefs = codec_preferences(codec="PCMA, Opus")
    assert keys(prefs.offered) == ["pcma", "opus"]
    assert keys(prefs.accepted) == ["pcma", "opus"]


def test_g711_alias_and_opus_variants() -> None:
    assert keys(codec_preferences(codec="g.711").offered) == ["pcmu", "pcma"]
    assert keys(codec_preferences(codec="opuswb,opusswb,pcmu").offered) == ["opus", "pcmu"]


def test_prefcodec_goes_first() -> None:
    prefs = codec_preferences(codec="opus,pcmu", prefcodec="pcma")
    assert keys(prefs.offered) == ["pcma", "opus", "pcmu"]
    assert keys(codec_preferences(prefcodec="PCMU").offered)[0] == "pcmu"


def test_use_priorities() -> None:
    prefs = codec_preferences(use={"use_g722": "3", "use_opus": "0", "use_pcma": "1"})
    assert keys(prefs.offered) == ["g722", "pcmu"]
    assert keys(prefs.accepted) == ["g722", "pcmu", "pcma", "l16"]
    prefs = codec_preferences(use={"use_l16": 2, "use_pcmu": 3})
    assert keys(prefs.offered) == ["pcmu", "opus", "g722", "pcma", "l16"]


def test_use_wins_over_codec_list_and_prefcodec() -> None:
    prefs = codec_preferences(codec="opus", prefcodec="pcmu", use={"use_pcmu": "1", "use_g722": 2})
    assert keys(prefs.offered) == ["opus", "g722"]
    assert keys(prefs.accepted) == ["opus", "g722", "pcmu"]


def test_unsupported_names_and_bad_priorities_warn() -> None:
    prefs = codec_preferences(
        codec="G.729,pcmu", prefcodec="speexwb", use={"use_gsm": "3", "use_pcma": "x"}
    )
    assert keys(prefs.offered) == ["pcmu"]
    text = " ".join(prefs.warnings)
    for name in ("G.729", "speexwb", "use_gsm", "'x'"):
        assert name in text
    assert len(prefs.warnings) == 4


def test_only_unsupported_codecs_keep_defaults() -> None:
    prefs = codec_preferences(codec="g729")
    assert keys(prefs.offered) == ["opus", "g722", "pcmu", "pcma"]
    assert len(prefs.warnings) == 2


@pytest.mark.parametrize(
    ("kwargs", "value", "parameter", "closest"),
    [
        ({"codec": "pcmuu"}, "pcmuu", "codec", "pcmu"),
        ({"codec": "opus, PCMUU"}, "PCMUU", "codec", "pcmu"),
        ({"prefcodec": "g7222"}, "g7222", "prefcodec", "g722"),
        ({"use": {"use_pcmuu": "2"}}, "pcmuu", "use_pcmuu", "pcmu"),
        ({"codec": "silk"}, "silk", "codec", None),
    ],
)
def test_unknown_names_raise_with_the_closest_known_name(
    kwargs: dict[str, object], value: str, parameter: str, closest: str | None
) -> None:
    with pytest.raises(UnknownCodec) as caught:
        codec_preferences(**kwargs)  # type: ignore[arg-type]
    error = caught.value
    assert (error.value, error.parameter, error.closest) == (value, parameter, closest)
    assert isinstance(error, LocalProtocolError) and isinstance(error, ValueError)
    text = str(error)
    assert parameter in text and repr(value) in text
    assert "known codec names: opus, g722, pcmu, pcma, l16" in text and "ulaw" in text
    assert (f"did you mean {closest!r}" in text) == (closest is not None)


def test_available_drops_codecs() -> None:
    prefs = codec_preferences(prefcodec="opus", available={"pcmu", "PCMA", "g722"})
    assert keys(prefs.offered) == ["g722", "pcmu", "pcma"]
    assert keys(prefs.accepted) == ["g722", "pcmu", "pcma"]
    assert keys(prefs.unavailable) == ["opus", "l16"]


def test_restrict_moves_what_cannot_run_to_unavailable() -> None:
    prefs = codec_preferences(codec="opus,pcmu")
    assert prefs.restrict(["PCMU", "PCMA", "G722", "opus", "L16"]) is prefs
    restricted = prefs.restrict(("PCMU", "PCMA", "G722", "L16"))
    assert keys(restricted.offered) == keys(restricted.accepted) == ["pcmu"]
    assert keys(restricted.unavailable) == ["opus"]
    assert restricted.restrict(("PCMU",)) == restricted  # restricting again adds nothing
    nothing = codec_preferences(codec="opus").restrict(("PCMU",))
    assert nothing.offered == nothing.accepted == () and keys(nothing.unavailable) == ["opus"]
