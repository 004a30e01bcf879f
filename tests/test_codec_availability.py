"""Codecs are offered only when they can run, and a codec name that is a
typo stops the command before any call.

"libopus missing" is simulated without uninstalling anything: a stand-in
``pyogg`` whose ``opus`` module reports ``PYOGG_OPUS_AVAIL = False``, as the
real one does when it finds no libopus (in the process through
``sys.modules``, in a subprocess through ``PYTHONPATH``).
"""

from __future__ import annotations

import logging
import os
import random
import socket
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from sansip.audio import oggopus
from sansip.audio.analysis import dominant_frequency
from sansip.audio.codecs import available_codecs, opus, unavailable_codecs
from sansip.audio.frames import CollectSink
from sansip.audio.tones import ToneSource
from sansip.cli.main import main
from sansip.media import CallMedia, call_media
from sansip.sdp import NegotiationFailed, codec_preferences
from tests.media.test_call_media import ALICE_HZ, BOB_HZ, Link


def _forget_libraries() -> None:
    opus._bindings.cache_clear()
    oggopus._libraries.cache_clear()


@pytest.fixture
def no_libopus(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """pyogg as it is on a machine without libopus; one warning per process again."""
    package = types.ModuleType("pyogg")
    bindings = types.ModuleType("pyogg.opus")
    bindings.PYOGG_OPUS_AVAIL = False  # type: ignore[attr-defined]
    package.opus = bindings  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pyogg", package)
    monkeypatch.setitem(sys.modules, "pyogg.opus", bindings)
    monkeypatch.setattr(call_media, "_warned", set())
    _forget_libraries()
    yield
    _forget_libraries()  # the real pyogg comes back for the next tests


def _media(port: int, codec: str = "", available: tuple[str, ...] | None = None) -> CallMedia:
    return CallMedia("127.0.0.1", port, codec_preferences(codec=codec), rng=random.Random(port),
                     source=ToneSource(440.0, 16000), sink=CollectSink(), sample_rate=16000,
                     available=available)  # fmt: skip


def _libopus_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "sansip.media" and "libopus" in r.getMessage()]  # fmt: skip


def test_the_registry_reports_opus_missing(no_libopus: None) -> None:
    assert "opus" not in available_codecs() and "PCMU" in available_codecs()
    reason = unavailable_codecs()["opus"]
    assert "libopus0" in reason and "pyogg" in reason


def test_without_libopus_the_offer_has_no_opus_and_one_warning_names_libopus0(
    no_libopus: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="sansip.media")
    offers = [_media(40000 + 10 * i).offer() for i in range(3)]
    for offer in offers:
        assert b"opus" not in offer.lower()
        assert b"G722/8000" in offer and b"PCMU/8000" in offer
    warnings = _libopus_warnings(caplog)
    assert len(warnings) == 1, warnings  # once per process, however many calls
    assert "libopus0" in warnings[0] and "pyogg" in warnings[0]
    assert warnings[0].startswith("opus is left out of offers and answers")


def test_no_warning_when_opus_was_not_wanted(
    no_libopus: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="sansip.media")
    assert b"PCMU/8000" in _media(40000, "PCMU,G722").offer()
    assert _libopus_warnings(caplog) == []


def test_an_opus_only_offer_is_refused_with_488_and_a_warning(no_libopus: None) -> None:
    # The peer has libopus (it is told Opus runs) and offers only Opus.
    peer = _media(40000, "opus", available=("opus",))
    offer = peer.offer()
    assert b"opus/48000/2" in offer
    bob = _media(42000)
    with pytest.raises(NegotiationFailed) as refused:
        bob.answer(offer, 0.0)
    assert refused.value.status == 488
    warning = '305 127.0.0.1 "Incompatible media format: opus not available here"'
    assert refused.value.warning == warning
    assert bob.stream is None


@pytest.mark.parametrize(("codec", "expected"), [("", "G722"), ("opus,PCMU", "PCMU")])
def test_two_sides_without_libopus_negotiate_and_hear_each_other(
    no_libopus: None, codec: str, expected: str
) -> None:
    link = Link(codec)
    link.connect()
    for side in (link.alice, link.bob):
        assert side.stream is not None and side.stream.codec == expected
    link.run(1.5)
    assert dominant_frequency(link.last("alice", 1.0), link.rate) == pytest.approx(BOB_HZ, abs=15)
    assert dominant_frequency(link.last("bob", 1.0), link.rate) == pytest.approx(ALICE_HZ, abs=15)


def test_a_call_that_allows_only_opus_stops_before_calling(
    no_libopus: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["call", "sip:x@127.0.0.1:9", "-p", "codec=opus", "--timeout", "1"]) == 2
    err = capsys.readouterr().err
    assert "no codec to offer" in err and "libopus0" in err


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A UDP socket the calls are aimed at: nothing may reach it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    yield sock
    sock.close()


@pytest.mark.parametrize(
    ("param", "value", "closest"),
    [("codec=pcmuu", "'pcmuu'", "pcmu"), ("codec=opus,pcmuu", "'pcmuu'", "pcmu"),
     ("prefcodec=g7222", "'g7222'", "g722"), ("use_pcmuu=2", "use_pcmuu", "pcmu")],
)  # fmt: skip
def test_a_codec_typo_exits_2_before_any_packet(
    listener: socket.socket, capsys: pytest.CaptureFixture[str],
    param: str, value: str, closest: str,
) -> None:  # fmt: skip
    port = listener.getsockname()[1]
    assert main(["call", f"sip:x@127.0.0.1:{port}", "-p", param, "--timeout", "1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert value in captured.err and f"did you mean {closest!r}" in captured.err
    assert "known codec names: opus, g722, pcmu, pcma, l16" in captured.err
    with pytest.raises(TimeoutError):
        listener.recv(2048)


def test_answer_refuses_a_codec_typo_before_listening(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["answer", "--listen", "127.0.0.1:0", "-p", "codec=pcmuu", "--count", "1"]) == 2
    assert "'pcmuu'" in capsys.readouterr().err


def test_the_command_line_typo_in_a_subprocess() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sansip.cli.main", "call", "sip:x@127.0.0.1:9",
         "-p", "codec=pcmuu"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "pcmu" in done.stderr and "Traceback" not in done.stderr


def test_an_unsupported_codec_is_a_warning_not_an_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from sansip.phone.codecs import check_codecs

    warnings = check_codecs({"codec": "g729,pcmu"}, offering=True)
    assert any("codec: codec 'g729' is not supported" in w for w in warnings)
    assert main(["call", "sip:x@127.0.0.1:9", "-p", "codec=g729,pcmu", "--timeout", "0.5"]) == 1
    assert "warning: codec: codec 'g729' is not supported" in capsys.readouterr().err


def test_the_demo_passes_without_libopus(tmp_path: Path) -> None:
    fake = tmp_path / "pyogg"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "opus.py").write_text("PYOGG_OPUS_AVAIL = False  # as when libopus is not found\n")
    path = os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH", "")) if p)
    done = subprocess.run(
        [sys.executable, "-m", "sansip.cli.main", "demo"],
        capture_output=True, text=True, check=False, timeout=60,
        env={**os.environ, "PYTHONPATH": path},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every check passed" in done.stdout and "FAIL" not in done.stdout
    assert "codec G722" in done.stdout
    assert done.stderr.count("libopus0") == 1, done.stderr
    assert "Traceback" not in done.stderr
