"""The codec table and the codec/prefcodec/use_* preference parameters."""

from __future__ import annotations

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


def test_unknown_and_unsupported_names_warn() -> None:
    prefs = codec_preferences(
        codec="G.729,silk,pcmu", prefcodec="speexwb", use={"use_gsm": "3", "use_pcma": "x"}
    )
    assert keys(prefs.offered) == ["pcmu"]
    text = " ".join(prefs.warnings)
    for name in ("G.729", "silk", "speexwb", "use_gsm", "'x'"):
        assert name in text
    assert len(prefs.warnings) == 5


def test_only_unknown_codecs_keep_defaults() -> None:
    prefs = codec_preferences(codec="silk")
    assert keys(prefs.offered) == ["opus", "g722", "pcmu", "pcma"]
    assert len(prefs.warnings) == 2


def test_available_drops_codecs() -> None:
    prefs = codec_preferences(prefcodec="opus", available={"pcmu", "PCMA", "g722"})
    assert keys(prefs.offered) == ["g722", "pcmu", "pcma"]
