"""Media between sansip and a real baresip on 127.0.0.1: codecs both ways, DTMF, hold.

Each baresip instance plays a 440 Hz tone from a WAV and records, through
its ``sndfile`` filter, the audio it decodes; sansip sends a 1000 Hz tone
and records what it receives.  Both recordings must hold the other side's
tone.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from sansip.audio.analysis import dominant_frequency, tone_present
from tests.interop.baresip import Baresip, start_baresip
from tests.interop.peers import free_udp_port, json_lines, sansip, start, stop, wait_listening

pytestmark = pytest.mark.interop

BARESIP_TONE = 440.0
SANSIP_TONE = 1000.0
CALL_SECONDS = 3.0
CODECS = ["PCMU", "PCMA", "G722", "opus"]


def read_wav(path: Path) -> tuple[NDArray[np.float64], int]:
    """The first channel of a 16-bit WAV file as floats, and its rate."""
    with wave.open(str(path), "rb") as wav:
        assert wav.getsampwidth() == 2, f"{path}: {wav.getsampwidth() * 8}-bit"
        channels, rate = wav.getnchannels(), wav.getframerate()
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return data.reshape(-1, channels)[:, 0].astype(np.float64), rate


def tone_blocks(samples: NDArray[np.float64], rate: int, hz: float) -> list[bool]:
    """For each 250 ms block: whether it holds the tone ``hz`` (most of its energy)."""
    size = rate // 4
    return [
        tone_present(samples[i : i + size], rate, hz, 15.0, min_fraction=0.5, min_level_dbfs=-40)
        for i in range(0, len(samples) - size + 1, size)
    ]


def assert_tone(path: Path, hz: float, *, skip: float = 0.5) -> None:
    """``path`` holds tone ``hz`` in nearly every block after the first ``skip`` seconds."""
    samples, rate = read_wav(path)
    body = samples[round(skip * rate) : len(samples) - rate // 10]
    assert len(body) >= rate, f"{path.name}: only {len(samples) / rate:.2f} s recorded"
    peak = dominant_frequency(body, rate)
    assert abs(peak - hz) < 15.0, f"{path.name}: strongest frequency {peak:.1f} Hz, not {hz}"
    blocks = tone_blocks(body, rate, hz)
    assert sum(blocks) >= 0.8 * len(blocks), f"{path.name}: tone {hz} Hz per 250 ms: {blocks}"


def one_record(lines: list[dict[str, Any]], what: str) -> dict[str, Any]:
    """The single call record among sansip's JSON lines."""
    records = [line for line in lines if "callid" in line]
    assert len(records) == 1, f"{what}: expected one call record, got {lines}"
    return records[0]


def check_record(record: dict[str, Any], codec: str, peer: Baresip) -> None:
    """The call connected with ``codec`` (at both ends) and received RTP."""
    assert record["status"] == 200, record
    assert str(record["codec"]).lower() == codec.lower(), record
    decoders = peer.decoders()
    assert [d.split()[0].lower() for d in decoders] == [codec.lower()], decoders
    rtp = record["rtp"]
    assert rtp["received"] > 0 and rtp["sent"] > 0, record


def the_recording(peer: Baresip) -> Path:
    """The decoded-audio WAV of the one call a baresip instance had."""
    files = peer.recordings("dec")
    assert len(files) == 1, f"baresip recordings: {files}\n{peer.log_text()[-3000:]}"
    return files[0]


@pytest.fixture
def baresips(tmp_path: Path) -> Iterator[list[Baresip]]:
    """Started instances are appended here and stopped after the test."""
    started: list[Baresip] = []
    yield started
    for peer in started:
        peer.stop()


def run_call(target: str, *extra: str, timeout: float = 40.0) -> subprocess.CompletedProcess[bytes]:
    """``sansip call TARGET --json ...`` to completion."""
    return subprocess.run(
        sansip("call", target, "--json", *extra), capture_output=True, timeout=timeout, check=False
    )


def finish_baresip(peer: Baresip, log_of: str) -> str:
    """Wait for the call to close at baresip, stop it (flushing its WAVs); its log.

    A call that never closed is left to the caller's assertions to explain."""
    with contextlib.suppress(AssertionError):
        peer.control.wait_event("CALL_CLOSED", timeout=10)
    peer.stop()
    return f"{log_of}\n--- baresip log ---\n{peer.log_text()[-3000:]}"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("codec", CODECS)
def test_calls_both_ways_carry_both_tones(
    tmp_path: Path, baresips: list[Baresip], codec: str
) -> None:
    callee = start_baresip(tmp_path / "callee", tone_hz=BARESIP_TONE)
    caller = start_baresip(tmp_path / "caller", tone_hz=BARESIP_TONE)
    baresips += [callee, caller]
    port = free_udp_port()
    answer_log = tmp_path / "answer.log"
    answer = start(
        sansip("answer", "--listen", f"127.0.0.1:{port}", "--count", "1",
               "--tone", str(int(SANSIP_TONE)), "--record", str(tmp_path / "answer.wav"),
               "--hangup-after", str(CALL_SECONDS), "-p", f"codec={codec}", "--json"),
        answer_log,
    )  # fmt: skip
    try:
        wait_listening(port, answer)
        dialled = caller.control.command("dial", f"sip:sansip@127.0.0.1:{port}")
        assert dialled["ok"], dialled
        # sansip calls the other baresip while the first call runs.
        call = run_call(callee.uri, "--duration", str(CALL_SECONDS),
                        "--tone", str(int(SANSIP_TONE)), "--record", str(tmp_path / "call.wav"),
                        "-p", f"codec={codec}")  # fmt: skip
        answer.wait(30)
    finally:
        stop(answer)
    answer_out = answer_log.read_text(errors="replace")
    call_out = call.stdout.decode(errors="replace") + call.stderr.decode(errors="replace")
    callee_log = finish_baresip(callee, call_out)
    caller_log = finish_baresip(caller, answer_out)

    # sansip -> baresip
    assert call.returncode == 0, callee_log
    check_record(one_record(json_lines(call), "call"), codec, callee)
    assert_tone(tmp_path / "call.wav", BARESIP_TONE)
    assert_tone(the_recording(callee), SANSIP_TONE)

    # baresip -> sansip
    assert answer.returncode == 0, caller_log
    records = [json.loads(x) for x in answer_out.splitlines() if x.startswith("{")]
    check_record(one_record(records, "answer"), codec, caller)
    assert_tone(tmp_path / "answer.wav", BARESIP_TONE)
    assert_tone(the_recording(caller), SANSIP_TONE)


@pytest.mark.timeout(60)
def test_rfc4733_digits_reach_baresip_in_order(tmp_path: Path, baresips: list[Baresip]) -> None:
    callee = start_baresip(tmp_path / "callee")
    baresips.append(callee)
    events = callee.control
    call = run_call(callee.uri, "--duration", str(CALL_SECONDS), "--dtmf", "1234#")
    log = finish_baresip(callee, call.stdout.decode() + call.stderr.decode())
    assert call.returncode == 0, log
    record = one_record(json_lines(call), "call")
    assert record["status"] == 200, record
    # ctrl_tcp pushes CALL_DTMF_START with the digit as its param for each key.
    digits = "".join(str(e["param"]) for e in events.events if e["type"] == "CALL_DTMF_START")
    assert digits == "1234#", f"{events.event_types()}\n{log}"


@pytest.mark.timeout(60)
def test_sip_info_digits_reach_baresip_in_order(tmp_path: Path, baresips: list[Baresip]) -> None:
    """sansip with ``dtmfmode`` 1 sends each digit as a SIP INFO
    (application/dtmf-relay), and baresip takes them in order.

    The other way round cannot be tested: baresip 1.0 sends digits
    (``sndcode``) only as RFC 4733 events, whatever the account says."""
    callee = start_baresip(tmp_path / "callee", extra_args=("-s",))  # -s: its SIP trace
    baresips.append(callee)
    events = callee.control
    call = run_call(callee.uri, "--duration", "4", "--dtmf", "1234#", "-p", "dtmfmode=1")
    log = finish_baresip(callee, call.stdout.decode() + call.stderr.decode())
    assert call.returncode == 0, log
    record = one_record(json_lines(call), "call")
    assert record["status"] == 200, record
    digits = "".join(str(e["param"]) for e in events.events if e["type"] == "CALL_DTMF_START")
    assert digits == "1234#", f"{events.event_types()}\n{log}"
    # They came by INFO, not RTP: baresip logs "received DTMF" only for an
    # INFO, and its trace holds one INFO request per digit.
    text = callee.log_text()
    assert "".join(re.findall(r"call: received DTMF: '(.)'", text)) == "1234#", log
    assert len(re.findall(r"^INFO sip:", text, re.MULTILINE)) == 5, log
    assert re.findall(r"^Signal=(.)$", text, re.MULTILINE) == list("1234#"), log


@pytest.mark.timeout(60)
def test_hold_and_resume_accepted_and_audio_returns(
    tmp_path: Path, baresips: list[Baresip]
) -> None:
    callee = start_baresip(tmp_path / "callee", tone_hz=BARESIP_TONE)
    baresips.append(callee)
    events = callee.control
    recording = tmp_path / "call.wav"
    call = run_call(callee.uri, "--duration", "3.5", "--hold", "1.0,1.0",
                    "--tone", str(int(SANSIP_TONE)), "--record", str(recording))  # fmt: skip
    log = finish_baresip(callee, call.stdout.decode() + call.stderr.decode())
    assert call.returncode == 0, log
    record = one_record(json_lines(call), "call")
    assert record["status"] == 200, record
    assert (record["holds"], record["resumes"]) == (1, 1), record  # both answered 200
    # baresip saw three offers: the INVITE, the sendonly and the sendrecv re-INVITE.
    offers = [e for e in events.events if e["type"] == "CALL_REMOTE_SDP" and e["param"] == "offer"]
    assert len(offers) == 3, f"{events.event_types()}\n{log}"
    assert sum(e["type"] == "CALL_ESTABLISHED" for e in events.events) == 1, log
    # baresip answered the sendonly offer recvonly and stopped sending: a
    # stretch of the recording without its tone, between tone before and after.
    samples, rate = read_wav(recording)
    blocks = "".join("T" if b else "-" for b in tone_blocks(samples, rate, BARESIP_TONE))
    assert re.fullmatch(r"-{0,2}T+-{2,}T+-?", blocks), f"tone per 250 ms: {blocks}"
    # After the resume (2 s into the call) the tone is back for the last second.
    tail = samples[len(samples) - rate : len(samples) - rate // 10]
    assert tone_present(tail, rate, BARESIP_TONE, 15.0, min_fraction=0.5), blocks


@pytest.mark.timeout(90)
def test_baresip_follows_a_blind_transfer(tmp_path: Path, baresips: list[Baresip]) -> None:
    """sansip calls baresip and REFERs it to a sansip answering phone:
    baresip calls it, reports the progress by NOTIFY, sansip ends its call."""
    callee = start_baresip(tmp_path / "callee", tone_hz=BARESIP_TONE)
    baresips.append(callee)
    port = free_udp_port()
    target_log = tmp_path / "target.log"
    target = start(sansip("answer", "--listen", f"127.0.0.1:{port}", "--count", "1", "--json",
                          "--hangup-after", "2", "-p", "username=carol"), target_log)  # fmt: skip
    try:
        wait_listening(port, target)
        call = run_call(callee.uri, "--duration", "20", "--transfer-to",
                        f"sip:carol@127.0.0.1:{port}")  # fmt: skip
        target.wait(30)
    finally:
        stop(target)
    log = finish_baresip(callee, call.stdout.decode() + call.stderr.decode())
    assert call.returncode == 0, log
    record = one_record(json_lines(call), "call")
    assert (record["transfer"], record["reason"]) == ("200 OK", "transfer done"), record
    answered = [json.loads(x) for x in target_log.read_text().splitlines() if x.startswith("{")]
    assert len(answered) == 1 and answered[0]["status"] == 200, log


# No attended transfer (Replaces, RFC 3891) test: baresip 1.0 knows no
# Replaces.  REFERred with Refer-To <target?Replaces=...> it puts the
# (mangled) URI, header part and all, in the Request-URI and To of a plain
# INVITE with no Replaces header field; as the target it answers an INVITE
# with Replaces as a new call and leaves the replaced call up.
