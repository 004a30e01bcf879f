"""Media between sansip and a real baresip on 127.0.0.1: codecs both ways, DTMF, hold,
SRTP keyed by SDES and by DTLS (DTLS-SRTP).

Each baresip instance plays a 440 Hz tone from a WAV and records, through
its ``sndfile`` filter, the audio it decodes; sansip sends a 1000 Hz tone
and records what it receives.  Both recordings must hold the other side's
tone.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import socket
import struct
import subprocess
import threading
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from sansip.audio.analysis import dominant_frequency, tone_present
from sansip.audio.codecs.g711 import decode_payloads
from sansip.rtp.srtp import PROFILES, SrtpError, SrtpProfile, SrtpTransform
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
    assert_tone_samples(samples, rate, hz, path.name, skip=skip)


def assert_tone_samples(
    samples: NDArray[np.float64], rate: int, hz: float, what: str, *, skip: float = 0.5
) -> None:
    """``samples`` hold tone ``hz`` in nearly every block after the first ``skip`` seconds."""
    body = samples[round(skip * rate) : len(samples) - rate // 10]
    assert len(body) >= rate, f"{what}: only {len(samples) / rate:.2f} s of audio"
    peak = dominant_frequency(body, rate)
    assert abs(peak - hz) < 15.0, f"{what}: strongest frequency {peak:.1f} Hz, not {hz}"
    blocks = tone_blocks(body, rate, hz)
    assert sum(blocks) >= 0.8 * len(blocks), f"{what}: tone {hz} Hz per 250 ms: {blocks}"


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


# -- SRTP keyed by SDES (RFC 4568) ---------------------------------------------------------
#
# baresip's ``srtp`` module, the account's ``mediaenc``: ``srtp-mand`` offers
# RTP/SAVP and wants keys (sansip's ``mediaencryption`` 2), ``srtp`` offers
# RTP/AVP with keys and takes plain RTP too (``mediaencryption`` 1).  Both run
# PCMU only, so the packets on the wire can be read: a capture on ``lo``
# (AF_PACKET, root) decrypted with the keys of the SDP must hold each side's
# tone, and the bytes as sent must not.
#
# baresip 1.0 sends two RTCP packets in the clear in an SRTP call: an APP
# "PING" when its stream starts and, as the call closes, a BYE + SDES after
# its SRTP context is gone.  Neither carries audio; sansip drops them (a plain
# RTCP packet fails SRTCP's checks), so its ``rejected`` count may hold them.

SRTP_MODES = [
    pytest.param(2, "srtp-mand", "RTP/SAVP", id="mandatory"),
    pytest.param(1, "srtp", "RTP/AVP", id="optional"),
]


@dataclass
class TracedSdp:
    """An SDP body in baresip's SIP trace (``-s``): who sent it, the start
    line of its message, the audio m= line's port and protocol, and the
    ``a=crypto`` lines as (tag, suite, master key and salt)."""

    sender: str
    start_line: str
    port: int
    proto: str
    cryptos: list[tuple[int, str, bytes]]


def traced_sdps(peer: Baresip) -> list[TracedSdp]:
    """The SDP bodies of the SIP messages baresip traced, in order."""
    found = []
    chunks = re.split(r"^UDP (\S+) -> \S+$", peer.log_text(), flags=re.MULTILINE)
    for sender, body in zip(chunks[1::2], chunks[2::2], strict=True):
        media = re.search(r"^m=audio (\d+) (\S+) ", body, re.MULTILINE)
        if media is None:
            continue
        cryptos = [
            (int(tag), suite, base64.b64decode(key))
            for tag, suite, key in re.findall(
                r"^a=crypto:(\d+) (\S+) inline:([A-Za-z0-9+/=]+)", body, re.MULTILINE
            )
        ]
        start_line = body.strip().splitlines()[0]
        found.append(TracedSdp(sender, start_line, int(media[1]), media[2], cryptos))
    return found


def check_sdes_exchange(peer: Baresip, proto: str, *, sansip_offers: bool) -> tuple[
    tuple[TracedSdp, TracedSdp], str, bytes, bytes
]:  # fmt: skip
    """The offer and answer (one each) were ``proto`` with keys and agreed a
    suite; returns them as (sansip's, baresip's), the suite and the sending
    key of sansip and of baresip."""
    sdps = traced_sdps(peer)
    assert len(sdps) == 2, f"SDP bodies: {sdps}\n{peer.log_text()[-3000:]}"
    offer, answer = sdps
    assert offer.start_line.startswith("INVITE "), offer
    assert answer.start_line.startswith("SIP/2.0 200 "), answer
    assert (offer.proto, answer.proto) == (proto, proto), sdps
    assert offer.cryptos, f"an offer without a=crypto: {offer}"
    assert len(answer.cryptos) == 1, f"the answer keys one suite: {answer}"
    tag, suite, answer_key = answer.cryptos[0]
    offered = {line[0]: line for line in offer.cryptos}
    assert tag in offered and offered[tag][1] == suite, f"{answer} answers none of {offer}"
    offer_key = offered[tag][2]
    assert offer_key != answer_key, "each side sends with a key of its own"
    # baresip says it set up SRTP with that suite.
    assert f"SRTP is Enabled (cryptosuite={suite})" in peer.log_text(), peer.log_text()
    if sansip_offers:
        return (offer, answer), suite, offer_key, answer_key
    return (answer, offer), suite, answer_key, offer_key


#: AF_PACKET protocol number of IPv4.
ETH_P_IP = 0x0800


class LoopbackCapture:
    """The UDP datagrams on ``lo`` while it runs, as (source port,
    destination port, payload): an AF_PACKET socket bound to ``lo`` for IPv4
    sees each packet once, as received.  Needs root (CAP_NET_RAW)."""

    LIMIT = 500_000  # datagrams kept: the tree's other tests share lo

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
        with contextlib.suppress(OSError):  # SO_RCVBUFFORCE: root may exceed rmem_max
            self._sock.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)
        self._sock.bind(("lo", ETH_P_IP))
        self._sock.settimeout(0.1)
        self.datagrams: list[tuple[int, int, bytes]] = []
        self._running = True
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while self._running:
            try:
                packet = self._sock.recv(65535)
            except TimeoutError:
                continue
            if len(packet) < 28 or packet[0] >> 4 != 4 or packet[9] != 17:
                continue  # not IPv4 + UDP
            header = (packet[0] & 0x0F) * 4
            source, destination = struct.unpack_from("!HH", packet, header)
            if len(self.datagrams) < self.LIMIT:
                self.datagrams.append((source, destination, packet[header + 8 :]))

    def stop(self) -> None:
        """Stop capturing (what was captured stays in :attr:`datagrams`)."""
        self._running = False
        self._thread.join(5)
        self._sock.close()

    def flow(self, source: int, destination: int) -> list[bytes]:
        """The datagrams from 127.0.0.1:``source`` to ``destination``, in order."""
        return [data for s, d, data in self.datagrams if (s, d) == (source, destination)]


@contextlib.contextmanager
def capture_lo(*, required: bool = True) -> Iterator[LoopbackCapture | None]:
    """A :class:`LoopbackCapture` for the block; None without the right to
    capture (not root), which fails the test in CI when ``required``."""
    try:
        capture = LoopbackCapture()
    except PermissionError as error:
        if required and os.environ.get("CI") == "true":
            pytest.fail(f"capturing on lo needs root (CAP_NET_RAW): {error}")
        yield None
        return
    try:
        yield capture
    finally:
        capture.stop()


def rtp_payload(packet: bytes) -> tuple[int, int, int]:
    """An RTP packet's payload type and the start and end of its payload."""
    start = 12 + 4 * (packet[0] & 0x0F)
    if packet[0] & 0x10:  # header extension
        start += 4 + 4 * int.from_bytes(packet[start + 2 : start + 4], "big")
    end = len(packet) - (packet[-1] if packet[0] & 0x20 else 0)
    return packet[1] & 0x7F, start, end


def check_srtp_on_wire(
    capture: LoopbackCapture, sender: TracedSdp, receiver: TracedSdp, *, suite: str,
    key: bytes, hz: float, what: str,
) -> list[bytes]:  # fmt: skip
    """The RTP from ``sender``'s port to ``receiver``'s is all SRTP under
    ``key`` (the sender's a=crypto key): every packet authenticates, the
    PCMU decrypted holds tone ``hz``, the PCMU as sent does not (no packet
    is plain G.711).  Its RTCP (ports + 1) is SRTCP under the same key but
    for packets in the clear, which are returned."""
    srtp = SrtpTransform(suite, key, key)  # only its receiving half is used
    tag = srtp.profile.rtp_tag_length
    packets = capture.flow(sender.port, receiver.port)
    assert len(packets) >= 100, f"{what}: {len(packets)} RTP packets captured"
    clear_audio, sent_audio = [], []
    for index, packet in enumerate(packets):
        try:
            clear = srtp.unprotect_rtp(packet)
        except SrtpError as error:
            raise AssertionError(
                f"{what}: packet {index} of {len(packets)} is no SRTP under the SDP's key "
                f"({error}): {packet[:24].hex()}... ({len(packet)} bytes)"
            ) from None
        assert len(packet) == len(clear) + tag, (what, index, len(packet), len(clear))
        payload_type, start, end = rtp_payload(clear)
        if payload_type == 0:
            assert end - start == 160, f"{what}: a PCMU payload of {end - start} bytes"
            clear_audio.append(clear[start:end])
            sent_audio.append(packet[start:end])
    assert len(clear_audio) >= 100, f"{what}: {len(clear_audio)} PCMU packets"
    heard = np.concatenate(decode_payloads("PCMU", clear_audio)).astype(np.float64)
    assert_tone_samples(heard, 8000, hz, f"{what}, decrypted")
    # As sent, the payloads are noise: no 250 ms of them holds the tone.
    wire = np.concatenate(decode_payloads("PCMU", sent_audio)).astype(np.float64)
    assert not any(tone_blocks(wire, 8000, hz)), f"{what}: the tone is readable on the wire"
    assert all(a != b for a, b in zip(clear_audio, sent_audio, strict=True)), what
    plain = []
    for packet in capture.flow(sender.port + 1, receiver.port + 1):
        try:
            srtp.unprotect_rtcp(packet)
        except SrtpError:
            plain.append(packet)
    return plain


def check_baresip_plain_rtcp(plain: list[bytes]) -> None:
    """The RTCP baresip sent in the clear is only its APP "PING" and its
    closing BYE (the SR/RR of the call went as SRTCP)."""
    for packet in plain:
        assert packet[0] >> 6 == 2, f"not RTCP: {packet.hex()}"
        ping = packet[1] == 204 and packet[8:12] == b"PING" and len(packet) == 16
        bye = packet[1] == 203
        assert ping or bye, f"baresip sent RTCP in the clear: {packet.hex()}"
    assert len(plain) <= 2, [p.hex() for p in plain]


def check_srtp_call(
    peer: Baresip,
    capture: LoopbackCapture | None,
    record: dict[str, Any],
    proto: str,
    *,
    sansip_offers: bool,
) -> None:
    """The SDES exchange in baresip's trace, and with a capture the packets:
    every RTP packet both ways SRTP, each tone inside, none readable."""
    (ours, theirs), suite, our_key, their_key = check_sdes_exchange(
        peer, proto, sansip_offers=sansip_offers
    )
    # sansip's CDR names the suite its stream ran (when it reports one).
    assert record["rtp"].get("srtp", suite) == suite, record
    if capture is None:
        # Without the capture: sansip dropped nothing but (at most) baresip's
        # two RTCP packets in the clear.
        assert record["rtp"]["rejected"] <= 2, record
        return
    sansip_plain = check_srtp_on_wire(capture, ours, theirs, suite=suite, key=our_key,
                                      hz=SANSIP_TONE, what="sansip -> baresip")  # fmt: skip
    assert sansip_plain == [], f"sansip sent RTCP in the clear: {[p.hex() for p in sansip_plain]}"
    baresip_plain = check_srtp_on_wire(capture, theirs, ours, suite=suite, key=their_key,
                                       hz=BARESIP_TONE, what="baresip -> sansip")  # fmt: skip
    check_baresip_plain_rtcp(baresip_plain)
    # What sansip dropped can only be some of those.
    assert record["rtp"]["rejected"] <= len(baresip_plain), (record, baresip_plain)


def skip_without_capture(capture: LoopbackCapture | None) -> None:
    """After every other check passed: say the packets went unchecked."""
    if capture is None:
        pytest.skip("the SRTP call passed its checks but the packets were not captured "
                    "(a capture on lo needs root)")  # fmt: skip


@pytest.mark.timeout(90)
@pytest.mark.parametrize(("encryption", "mediaenc", "proto"), SRTP_MODES)
def test_sansip_calls_baresip_over_srtp(
    tmp_path: Path, baresips: list[Baresip], encryption: int, mediaenc: str, proto: str
) -> None:
    """sansip offers ``proto`` with a=crypto lines, baresip answers with
    its key: each hears the other's tone, and the wire carries SRTP only."""
    callee = start_baresip(tmp_path / "callee", tone_hz=BARESIP_TONE, codecs=("pcmu",),
                           mediaenc=mediaenc, extra_args=("-s",))  # fmt: skip
    baresips.append(callee)
    recording = tmp_path / "call.wav"
    with capture_lo() as capture:
        call = run_call(callee.uri, "--duration", str(CALL_SECONDS),
                        "--tone", str(int(SANSIP_TONE)), "--record", str(recording),
                        "-p", "codec=PCMU", "-p", f"mediaencryption={encryption}")  # fmt: skip
        log = finish_baresip(callee, call.stdout.decode() + call.stderr.decode())
    assert call.returncode == 0, log
    record = one_record(json_lines(call), "call")
    check_record(record, "PCMU", callee)
    assert_tone(recording, BARESIP_TONE)  # sansip decrypted baresip's SRTP
    assert_tone(the_recording(callee), SANSIP_TONE)  # and baresip sansip's
    check_srtp_call(callee, capture, record, proto, sansip_offers=True)
    skip_without_capture(capture)


@pytest.mark.timeout(90)
@pytest.mark.parametrize(("encryption", "mediaenc", "proto"), SRTP_MODES)
def test_baresip_calls_sansip_over_srtp(
    tmp_path: Path, baresips: list[Baresip], encryption: int, mediaenc: str, proto: str
) -> None:
    """baresip offers ``proto`` with its key, sansip answers with one
    a=crypto line: each hears the other's tone, and the wire carries SRTP only."""
    caller = start_baresip(tmp_path / "caller", tone_hz=BARESIP_TONE, codecs=("pcmu",),
                           mediaenc=mediaenc, extra_args=("-s",))  # fmt: skip
    baresips.append(caller)
    port = free_udp_port()
    answer_log, recording = tmp_path / "answer.log", tmp_path / "answer.wav"
    with capture_lo() as capture:
        answer = start(
            sansip("answer", "--listen", f"127.0.0.1:{port}", "--count", "1",
                   "--tone", str(int(SANSIP_TONE)), "--record", str(recording),
                   "--hangup-after", str(CALL_SECONDS), "-p", "codec=PCMU",
                   "-p", f"mediaencryption={encryption}", "--json"),
            answer_log,
        )  # fmt: skip
        try:
            wait_listening(port, answer)
            dialled = caller.control.command("dial", f"sip:sansip@127.0.0.1:{port}")
            assert dialled["ok"], dialled
            answer.wait(40)
        finally:
            stop(answer)
        log = finish_baresip(caller, answer_log.read_text(errors="replace"))
    assert answer.returncode == 0, log
    records = [json.loads(x) for x in answer_log.read_text().splitlines() if x.startswith("{")]
    record = one_record(records, "answer")
    check_record(record, "PCMU", caller)
    assert_tone(recording, BARESIP_TONE)
    assert_tone(the_recording(caller), SANSIP_TONE)
    check_srtp_call(caller, capture, record, proto, sansip_offers=False)
    skip_without_capture(capture)


@pytest.mark.timeout(60)
def test_sansip_requiring_srtp_gets_no_call_from_a_plain_baresip(
    tmp_path: Path, baresips: list[Baresip]
) -> None:
    """sansip (mediaencryption 2) offers RTP/SAVP to a baresip without the
    srtp module: baresip refuses it (488), no media flows."""
    callee = start_baresip(tmp_path / "callee", codecs=("pcmu",), extra_args=("-s",))
    baresips.append(callee)
    with capture_lo(required=False) as capture:
        call = run_call(callee.uri, "--duration", str(CALL_SECONDS),
                        "--tone", str(int(SANSIP_TONE)),
                        "-p", "codec=PCMU", "-p", "mediaencryption=2")  # fmt: skip
        log = finish_baresip(callee, call.stdout.decode() + call.stderr.decode())
    assert call.returncode != 0, log
    record = one_record(json_lines(call), "call")
    assert record["status"] == 488 or "srtp fail" in str(record["reason"]), record
    assert (record["codec"], record["rtp"], record["duration"]) == (None, None, 0), record
    offer = traced_sdps(callee)
    assert len(offer) == 1 and offer[0].proto == "RTP/SAVP" and offer[0].cryptos, offer
    assert "CALL_ESTABLISHED" not in callee.control.event_types(), log
    assert callee.recordings("dec") == [], log
    if capture is not None:
        media = [d for d in capture.datagrams if offer[0].port in d[:2]]
        assert media == [], f"packets on sansip's media port: {media[:5]}"


@pytest.mark.timeout(60)
def test_sansip_requiring_srtp_refuses_a_plain_call_from_baresip(
    tmp_path: Path, baresips: list[Baresip]
) -> None:
    """A baresip without the srtp module offers plain RTP/AVP to ``sansip
    answer`` with mediaencryption 2: sansip answers 488 (srtp fail), no media."""
    caller = start_baresip(tmp_path / "caller", codecs=("pcmu",), extra_args=("-s",))
    baresips.append(caller)
    port = free_udp_port()
    answer_log = tmp_path / "answer.log"
    answer = start(sansip("answer", "--listen", f"127.0.0.1:{port}", "--count", "1",
                          "--tone", str(int(SANSIP_TONE)), "-p", "codec=PCMU",
                          "-p", "mediaencryption=2", "--json"), answer_log)  # fmt: skip
    try:
        wait_listening(port, answer)
        dialled = caller.control.command("dial", f"sip:sansip@127.0.0.1:{port}")
        assert dialled["ok"], dialled
        answer.wait(40)
    finally:
        stop(answer)
    log = finish_baresip(caller, answer_log.read_text(errors="replace"))
    records = [json.loads(x) for x in answer_log.read_text().splitlines() if x.startswith("{")]
    record = one_record(records, "answer")
    assert (record["status"], record["reason"]) == (488, "srtp fail"), record
    assert (record["codec"], record["rtp"], record["duration"]) == (None, None, 0), record
    offer = traced_sdps(caller)
    assert len(offer) == 1 and offer[0].proto == "RTP/AVP" and not offer[0].cryptos, offer
    assert re.search(r"^SIP/2\.0 488 ", caller.log_text(), re.MULTILINE), log
    assert "CALL_ESTABLISHED" not in caller.control.event_types(), log
    assert caller.recordings("dec") == [], log


# -- DTLS-SRTP (RFC 5763/5764) -------------------------------------------------------------
#
# baresip's ``dtls_srtp`` module (account ``mediaenc=dtls_srtp``, the only
# name baresip 1.0 registers) offers UDP/TLS/RTP/SAVPF with ``a=setup:actpass``
# and its ``a=fingerprint`` at session level; it takes sansip's
# UDP/TLS/RTP/SAVP offer and answers UDP/TLS/RTP/SAVP, ``a=setup:active``,
# its fingerprint at session and media level.  Its certificate is a
# self-signed RSA one made at load time.  It sends no media before its
# handshake completed (``wait_secure``).
#
# The SRTP keys come out of the handshake, not the SDP, so the capture cannot
# decrypt; instead it shows: the DTLS handshake on the RTP ports (its
# epoch-0 messages are in the clear: each side's Certificate hashes to the
# fingerprint its SDP gave, the ServerHello's use_srtp names the profile
# both sides report), no RTP before the peer's ChangeCipherSpec, every RTP
# packet a PCMU packet with the profile's tag appended, and the payloads as
# sent are noise.  Both recordings holding the other's tone show both
# decrypted with the exported keys.
#
# RTCP on its own port (no rtcp-mux) is not covered by these tests: sansip
# runs no DTLS association on the RTCP port (RFC 5764 §4.2 wants one), see
# test_dtls_srtp_keys_the_rtcp_port_too.

BARESIP_DTLS = "dtls_srtp"
#: How long the DTLS-SRTP calls last, and how late their media may start:
#: baresip's first DTLS retransmission comes after 1 s.
DTLS_CALL_SECONDS = 4.0
DTLS_LATE_START = 1.0


@dataclass
class TracedDtlsSdp:
    """An SDP body with DTLS-SRTP in baresip's SIP trace: who sent it, its
    start line, the audio port and protocol, ``a=setup`` and
    ``a=fingerprint`` (media level over session level; hash function
    lower-cased, fingerprint upper-cased) and where the fingerprint was."""

    sender: str
    start_line: str
    port: int
    proto: str
    setup: str | None
    fingerprint: tuple[str, str] | None
    fingerprint_level: str | None


def _sdp_attribute(lines: list[str], name: str) -> str | None:
    found = [line.split(":", 1)[1].strip() for line in lines if line.startswith(f"a={name}:")]
    return found[0] if found else None


def traced_dtls_sdps(peer: Baresip) -> list[TracedDtlsSdp]:
    """The SDP bodies of the SIP messages baresip traced (``-s``), in order."""
    found = []
    chunks = re.split(r"^UDP (\S+) -> \S+$", peer.log_text(), flags=re.MULTILINE)
    for sender, body in zip(chunks[1::2], chunks[2::2], strict=True):
        lines = [line.strip() for line in body.strip().splitlines()]
        media_at = next((i for i, x in enumerate(lines) if x.startswith("m=audio ")), None)
        if media_at is None:
            continue
        session, media = lines[:media_at], lines[media_at:]
        port, proto = media[0].split()[1:3]
        setup = _sdp_attribute(media, "setup") or _sdp_attribute(session, "setup")
        level, fingerprint = None, None
        for where, part in (("media", media), ("session", session)):
            if (value := _sdp_attribute(part, "fingerprint")) is not None:
                hash_function, digest = value.split()
                level, fingerprint = where, (hash_function.lower(), digest.upper())
                break
        found.append(TracedDtlsSdp(sender, lines[0], int(port), proto, setup, fingerprint, level))
    return found


def check_dtls_exchange(
    peer: Baresip, *, sansip_offers: bool
) -> tuple[TracedDtlsSdp, TracedDtlsSdp]:
    """One offer and one answer, both with a sha-256 fingerprint and a setup
    role the other can take; returns them as (sansip's, baresip's)."""
    sdps = traced_dtls_sdps(peer)
    assert len(sdps) == 2, f"SDP bodies: {sdps}\n{peer.log_text()[-3000:]}"
    offer, answer = sdps
    assert offer.start_line.startswith("INVITE "), offer
    assert answer.start_line.startswith("SIP/2.0 200 "), answer
    for sdp in sdps:
        assert sdp.fingerprint is not None and sdp.fingerprint[0] == "sha-256", sdp
    assert offer.setup == "actpass", offer
    assert answer.setup == "active", answer  # both answer active to an actpass offer
    if sansip_offers:
        # sansip offers UDP/TLS/RTP/SAVP, fingerprint at media level; baresip
        # takes that profile as it is.
        assert (offer.proto, answer.proto) == ("UDP/TLS/RTP/SAVP",) * 2, sdps
        assert offer.fingerprint_level == "media", offer
        return offer, answer
    # baresip offers SAVPF with the fingerprint at session level; sansip answers
    # the profile offered.
    assert (offer.proto, answer.proto) == ("UDP/TLS/RTP/SAVPF",) * 2, sdps
    assert offer.fingerprint_level == "session", offer
    return answer, offer


def is_dtls_record(datagram: bytes) -> bool:
    """A DTLS record by its first byte (RFC 7983 §7: 20-63)."""
    return bool(datagram) and 20 <= datagram[0] <= 63


def dtls_records(datagram: bytes) -> list[tuple[int, int, bytes]]:
    """The DTLS records of a datagram as (content type, epoch, fragment)."""
    records, offset = [], 0
    while offset + 13 <= len(datagram):
        content_type = datagram[offset]
        epoch = struct.unpack_from("!H", datagram, offset + 3)[0]
        length = struct.unpack_from("!H", datagram, offset + 11)[0]
        records.append((content_type, epoch, datagram[offset + 13 : offset + 13 + length]))
        offset += 13 + length
    return records


def handshake_messages(datagrams: list[bytes]) -> dict[int, bytes]:
    """The plaintext (epoch 0) handshake messages in ``datagrams``, by type,
    reassembled from their fragments (the first copy of each; a
    retransmission repeats it)."""
    parts: dict[int, tuple[int, bytearray, set[int]]] = {}
    for datagram in datagrams:
        for content_type, epoch, fragment in dtls_records(datagram):
            offset = 0
            while content_type == 22 and epoch == 0 and offset + 12 <= len(fragment):
                kind = fragment[offset]
                length = int.from_bytes(fragment[offset + 1 : offset + 4], "big")
                start = int.from_bytes(fragment[offset + 6 : offset + 9], "big")
                size = int.from_bytes(fragment[offset + 9 : offset + 12], "big")
                body = fragment[offset + 12 : offset + 12 + size]
                _, buffer, have = parts.setdefault(kind, (length, bytearray(length), set()))
                buffer[start : start + size] = body
                have.update(range(start, start + size))
                offset += 12 + size
    return {kind: bytes(buffer) for kind, (total, buffer, have) in parts.items()
            if len(have) == total}  # fmt: skip


def certificate_fingerprint(certificate_message: bytes) -> str:
    """The sha-256 fingerprint (``AA:BB:...``) of the first (end-entity)
    certificate of a Certificate handshake message."""
    length = int.from_bytes(certificate_message[3:6], "big")
    der = certificate_message[6 : 6 + length]
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def server_hello_srtp_profile(server_hello: bytes) -> int | None:
    """The SRTP protection profile a ServerHello's use_srtp extension chose."""
    offset = 2 + 32
    offset += 1 + server_hello[offset]  # session id
    offset += 2 + 1  # cipher suite, compression
    end = offset + 2 + int.from_bytes(server_hello[offset : offset + 2], "big")
    offset += 2
    while offset + 4 <= end:
        kind, size = struct.unpack_from("!HH", server_hello, offset)
        if kind == 14:  # use_srtp: a list of one profile, then the MKI
            return int.from_bytes(server_hello[offset + 6 : offset + 8], "big")
        offset += 4 + size
    return None


def check_dtls_srtp_flow(
    capture: LoopbackCapture, sender: TracedDtlsSdp, receiver: TracedDtlsSdp, *,
    profile: SrtpProfile, hz: float, what: str,
) -> list[bytes]:  # fmt: skip
    """From ``sender``'s RTP port to ``receiver``'s: DTLS records, then
    (not before the receiver's ChangeCipherSpec reached the sender) only
    PCMU packets carrying the profile's tag, their payloads noise, not the
    tone ``hz``.  Returns the DTLS datagrams sent."""
    indexed = list(enumerate(capture.datagrams))
    sent = [(i, data) for i, (s, d, data) in indexed if (s, d) == (sender.port, receiver.port)]
    back = [(i, data) for i, (s, d, data) in indexed if (s, d) == (receiver.port, sender.port)]
    dtls = [data for _, data in sent if is_dtls_record(data)]
    media = [(i, data) for i, data in sent if not is_dtls_record(data)]
    assert dtls, f"{what}: no DTLS record among {len(sent)} datagrams"
    assert len(media) >= 100, f"{what}: {len(media)} RTP packets captured"
    ccs = [i for i, data in back if any(r[0] == 20 for r in dtls_records(data))]
    assert ccs, f"{what}: no ChangeCipherSpec came back"
    keyed = ccs[0]
    assert media[0][0] > keyed, f"{what}: RTP (datagram {media[0][0]}) before the keys ({keyed})"
    payloads = []
    for index, packet in media:
        assert packet[0] >> 6 == 2, f"{what}: datagram {index} neither DTLS nor RTP: {packet.hex()}"
        payload_type, start, end = rtp_payload(packet)
        assert payload_type == 0, f"{what}: payload type {payload_type} in datagram {index}"
        # SRTP leaves the payload's length and appends the tag (RFC 3711 §3.1).
        assert end - start == 160 + profile.rtp_tag_length, (what, index, end - start)
        payloads.append(packet[start : start + 160])
    wire = np.concatenate(decode_payloads("PCMU", payloads)).astype(np.float64)
    assert not any(tone_blocks(wire, 8000, hz)), f"{what}: the tone is readable on the wire"
    return dtls


def check_dtls_call(
    peer: Baresip, capture: LoopbackCapture | None, record: dict[str, Any], *,
    sansip_offers: bool,
) -> None:  # fmt: skip
    """The offer/answer in baresip's trace, the handshake both agree on,
    and with a capture the packets (see the comment above)."""
    ours, theirs = check_dtls_exchange(peer, sansip_offers=sansip_offers)
    text = peer.log_text()
    # baresip checked sansip's certificate against sansip's SDP, and keyed
    # the RTP component with the profile sansip reports.
    assert "dtls_srtp: verified sha-256 fingerprint OK" in text, text[-3000:]
    complete = re.findall(r"DTLS-SRTP complete \(audio/RTP\) Profile=(\S+)", text)
    assert complete == [record["rtp"]["srtp"]], (complete, record)
    profile = PROFILES[record["rtp"]["srtp"]]
    if capture is None:
        assert record["rtp"]["rejected"] <= 5, record  # see the comment above
        return
    to_baresip = check_dtls_srtp_flow(capture, ours, theirs, profile=profile,
                                      hz=SANSIP_TONE, what="sansip -> baresip")  # fmt: skip
    to_sansip = check_dtls_srtp_flow(capture, theirs, ours, profile=profile,
                                     hz=BARESIP_TONE, what="baresip -> sansip")  # fmt: skip
    # Each presented the certificate its SDP named (mutual authentication).
    from_sansip, from_baresip = handshake_messages(to_baresip), handshake_messages(to_sansip)
    for messages, sdp, who in ((from_sansip, ours, "sansip"), (from_baresip, theirs, "baresip")):
        assert 11 in messages, f"{who} sent no Certificate: {sorted(messages)}"
        assert sdp.fingerprint == ("sha-256", certificate_fingerprint(messages[11])), who
    # The offerer (actpass) is the server; its ServerHello chose the profile.
    server, client = (from_sansip, from_baresip) if sansip_offers else (from_baresip, from_sansip)
    assert 1 in client and 1 not in server and 2 in server, (sorted(client), sorted(server))
    assert server_hello_srtp_profile(server[2]) == profile.dtls_id, profile
    # What sansip dropped: baresip's RTCP port traffic (plain RTCP, DTLS).
    stray = capture.flow(theirs.port + 1, ours.port + 1)
    assert record["rtp"]["rejected"] <= len(stray), (record, len(stray))


def baresip_dials_sansip(
    caller: Baresip, target_port: int, sansip_port: int, tmp_path: Path, *extra: str,
    seconds: float = CALL_SECONDS,
) -> tuple[subprocess.Popen[bytes], Path, Path]:  # fmt: skip
    """``sansip answer`` on ``sansip_port`` (1000 Hz tone, recording, one
    call) and baresip dialling 127.0.0.1:``target_port``; returns the
    finished process, its log and its recording."""
    answer_log, recording = tmp_path / "answer.log", tmp_path / "answer.wav"
    answer = start(
        sansip("answer", "--listen", f"127.0.0.1:{sansip_port}", "--count", "1",
               "--tone", str(int(SANSIP_TONE)), "--record", str(recording),
               "--hangup-after", str(seconds), "-p", "codec=PCMU", *extra, "--json"),
        answer_log,
    )  # fmt: skip
    try:
        wait_listening(sansip_port, answer)
        dialled = caller.control.command("dial", f"sip:sansip@127.0.0.1:{target_port}")
        assert dialled["ok"], dialled
        answer.wait(45)
    finally:
        stop(answer)
    return answer, answer_log, recording


def answer_record(answer_log: Path) -> dict[str, Any]:
    """The one call record ``sansip answer --json`` printed."""
    lines = [json.loads(x) for x in answer_log.read_text().splitlines() if x.startswith("{")]
    return one_record(lines, "answer")


@dataclass
class DtlsCall:
    """A finished PCMU call between sansip (mediaencryption 3) and a baresip
    with ``dtls_srtp``: sansip's exit status, record and recording, the
    outputs of both, and the capture on lo (None without root)."""

    peer: Baresip
    capture: LoopbackCapture | None
    returncode: int
    record: dict[str, Any]
    recording: Path
    log: str


def dtls_call(tmp_path: Path, baresips: list[Baresip], *, sansip_offers: bool) -> DtlsCall:
    """sansip calls baresip (``sansip_offers``) or baresip calls ``sansip
    answer``, both with DTLS-SRTP, for :data:`DTLS_CALL_SECONDS` with the tones."""
    peer = start_baresip(tmp_path / "baresip", tone_hz=BARESIP_TONE, codecs=("pcmu",),
                         mediaenc=BARESIP_DTLS, extra_args=("-s", "-v"))  # fmt: skip
    baresips.append(peer)
    with capture_lo() as capture:
        if sansip_offers:
            recording = tmp_path / "call.wav"
            call = run_call(peer.uri, "--duration", str(DTLS_CALL_SECONDS),
                            "--tone", str(int(SANSIP_TONE)), "--record", str(recording),
                            "-p", "codec=PCMU", "-p", "mediaencryption=3", timeout=60)  # fmt: skip
            log = finish_baresip(peer, call.stdout.decode() + call.stderr.decode())
            returncode, record = call.returncode, one_record(json_lines(call), "call")
        else:
            port = free_udp_port()
            answer, answer_log, recording = baresip_dials_sansip(
                peer, port, port, tmp_path, "-p", "mediaencryption=3", seconds=DTLS_CALL_SECONDS
            )
            log = finish_baresip(peer, answer_log.read_text(errors="replace"))
            returncode, record = answer.returncode, answer_record(answer_log)
    return DtlsCall(peer, capture, returncode, record, recording, log)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("sansip_offers", [False, True], ids=["baresip_calls", "sansip_calls"])
def test_dtls_srtp_call_carries_both_tones_encrypted(
    tmp_path: Path, baresips: list[Baresip], sansip_offers: bool
) -> None:
    """baresip calls: it offers UDP/TLS/RTP/SAVPF (actpass, session-level
    fingerprint), sansip answers active and is the DTLS client.  sansip
    calls: it offers UDP/TLS/RTP/SAVP (actpass, media-level fingerprint),
    baresip answers UDP/TLS/RTP/SAVP active and is the client.  Either way
    the handshake runs on the RTP ports, each side presents the certificate
    its SDP named, both report the profile the ServerHello chose, each
    hears the other's tone, and the wire carries no readable audio."""
    call = dtls_call(tmp_path, baresips, sansip_offers=sansip_offers)
    assert call.returncode == 0, call.log
    check_record(call.record, "PCMU", call.peer)
    assert call.record["rtp"]["srtp"] in PROFILES, call.record
    # The media may start a second late: a ClientHello that reaches the
    # offerer before it took the answer is dropped (by sansip most of the
    # time, see test_offerer_answers_a_client_hello_that_outran_the_answer;
    # baresip too listens only once it has the answer) and comes again after
    # the 1 s retransmission timeout.  baresip records from its first packet.
    skip = DTLS_LATE_START + 0.5
    assert_tone(call.recording, BARESIP_TONE, skip=skip)  # sansip decrypted baresip's SRTP
    assert_tone(the_recording(call.peer), SANSIP_TONE)  # and baresip sansip's
    check_dtls_call(call.peer, call.capture, call.record, sansip_offers=sansip_offers)
    skip_without_capture(call.capture)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("sansip_offers", [False, True], ids=["baresip_calls", "sansip_calls"])
def test_dtls_srtp_keys_the_rtcp_port_too(
    tmp_path: Path, baresips: list[Baresip], sansip_offers: bool
) -> None:
    """Without rtcp-mux, RTCP has a DTLS-SRTP session of its own on the
    RTCP ports (RFC 5764 §4.2); baresip runs one (as client it sends
    ClientHellos to sansip's RTCP port, as server it waits there).

    sansip runs that second association too: as client it sends its
    ClientHello from its RTCP port to baresip's, as server it answers
    there, and RTCP flows as SRTCP under the RTCP association's keys."""
    call = dtls_call(tmp_path, baresips, sansip_offers=sansip_offers)
    assert call.returncode == 0, call.log
    check_record(call.record, "PCMU", call.peer)
    text = call.peer.log_text()
    assert "DTLS-SRTP complete (audio/RTCP)" in text, call.log
    if call.capture is not None:
        ours, theirs = check_dtls_exchange(call.peer, sansip_offers=sansip_offers)
        # sansip's side of that handshake leaves from its RTCP port.
        sent = call.capture.flow(ours.port + 1, theirs.port + 1)
        assert any(is_dtls_record(d) for d in sent), [d[:16].hex() for d in sent]


class SipRelay:
    """A UDP relay for SIP on 127.0.0.1: what comes from ``target_port`` goes
    to whoever sent the last message from elsewhere, and the rest goes to
    ``target_port``; each message from the target (``from_target``) or to it
    passes ``rewrite(data, from_target)``.  Only the first transaction must
    pass it: the ACK and BYE go to the Contact addresses."""

    def __init__(self, target_port: int, rewrite: Any) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port: int = self._sock.getsockname()[1]
        self._target = ("127.0.0.1", target_port)
        self._rewrite = rewrite
        self._other: tuple[str, int] | None = None
        self.relayed = 0
        self._running = True
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while self._running:
            try:
                data, source = self._sock.recvfrom(65535)
            except TimeoutError:
                continue
            from_target = source == self._target
            if not from_target:
                self._other = source
            destination = self._other if from_target else self._target
            if destination is not None:
                self._sock.sendto(self._rewrite(data, from_target), destination)
                self.relayed += 1

    def stop(self) -> None:
        """Stop relaying."""
        self._running = False
        self._thread.join(5)
        self._sock.close()


def alter_fingerprints(data: bytes) -> bytes:
    """``data`` with the first hex digit of each a=fingerprint changed
    (same length: Content-Length still holds)."""

    def flip(match: re.Match[bytes]) -> bytes:
        digit = int(match[2], 16) ^ 1
        return match[1] + b"%X" % digit

    return re.sub(rb"(a=fingerprint:\S+ )([0-9A-Fa-f])", flip, data)


def dtls_alerts(capture: LoopbackCapture, source: int, destination: int) -> list[bytes]:
    """The plaintext (epoch 0) alerts in the DTLS records from ``source`` to
    ``destination``, each as its two bytes (level, description)."""
    return [fragment for datagram in capture.flow(source, destination) if is_dtls_record(datagram)
            for content_type, epoch, fragment in dtls_records(datagram)
            if content_type == 21 and epoch == 0]  # fmt: skip


@pytest.mark.timeout(120)
@pytest.mark.parametrize("altered", [True, False], ids=["altered", "control"])
@pytest.mark.parametrize("sansip_role", ["client", "server"])
def test_sansip_refuses_a_certificate_its_sdp_did_not_name(
    tmp_path: Path, baresips: list[Baresip], sansip_role: str, altered: bool
) -> None:
    """baresip's SDP reaches sansip through a SIP relay that changes one
    digit of its a=fingerprint: the certificate baresip presents is not
    the one named.  sansip, as DTLS client (baresip calls it, sansip answers
    active) or server (sansip offers actpass, baresip answers active), ends
    the handshake with a bad_certificate alert and the call with "srtp
    fail", and no RTP leaves either side.  The control relays unchanged
    and the call runs DTLS-SRTP."""
    peer = start_baresip(tmp_path / "baresip", tone_hz=BARESIP_TONE, codecs=("pcmu",),
                         mediaenc=BARESIP_DTLS, extra_args=("-s", "-v"))  # fmt: skip
    baresips.append(peer)
    sansip_port = free_udp_port()
    target_port = sansip_port if sansip_role == "client" else peer.sip_port

    def rewrite(data: bytes, from_target: bool) -> bytes:
        from_baresip = from_target == (sansip_role == "server")
        return alter_fingerprints(data) if altered and from_baresip else data

    relay = SipRelay(target_port, rewrite)
    try:
        with capture_lo() as capture:
            if sansip_role == "client":
                answer, answer_log, _ = baresip_dials_sansip(
                    peer, relay.port, sansip_port, tmp_path, "-p", "mediaencryption=3"
                )
                output = answer_log.read_text(errors="replace")
                returncode, record = answer.returncode, answer_record(answer_log)
            else:
                call = run_call(f"sip:baresip@127.0.0.1:{relay.port}",
                                "--duration", str(CALL_SECONDS), "--tone", str(int(SANSIP_TONE)),
                                "-p", "codec=PCMU", "-p", "mediaencryption=3",
                                timeout=60)  # fmt: skip
                output = call.stdout.decode() + call.stderr.decode()
                returncode, record = call.returncode, one_record(json_lines(call), "call")
            log = finish_baresip(peer, output)
    finally:
        relay.stop()
    assert relay.relayed >= 3, log  # INVITE, 180, 200 went through it
    # ``sansip call`` says a call that ended with srtp fail failed (exit 1).
    assert returncode == (1 if altered and sansip_role == "server" else 0), log
    assert record["status"] == 200, record
    sdps = traced_dtls_sdps(peer)  # as baresip sent them, before the relay
    assert len(sdps) == 2, sdps
    ours, theirs = (sdps[1], sdps[0]) if sansip_role == "client" else sdps
    text = peer.log_text()
    if not altered:
        assert record["reason"] != "srtp fail" and record["rtp"]["srtp"] in PROFILES, record
        assert len(re.findall(r"DTLS-SRTP complete \(audio/RTP\)", text)) == 1, log
        return
    assert (record["reason"], record["rtp"]["srtp"]) == ("srtp fail", None), record
    assert record["rtp"]["received"] == 0, record
    assert "DTLS-SRTP: fingerprint mismatch" in output, log
    assert "DTLS-SRTP complete" not in text, log
    assert peer.recordings("dec") == [], log  # baresip decoded nothing
    skip_without_capture(capture)
    assert capture is not None
    # baresip presented the certificate its own SDP named; sansip was given
    # another fingerprint, and refused it with a fatal bad_certificate (42).
    certificate = handshake_messages(capture.flow(theirs.port, ours.port)).get(11)
    assert certificate is not None, log
    assert theirs.fingerprint == ("sha-256", certificate_fingerprint(certificate)), theirs
    assert dtls_alerts(capture, ours.port, theirs.port) == [b"\x02\x2a"], log
    # Nothing but DTLS on the RTP ports, either way.
    for source, destination in ((ours.port, theirs.port), (theirs.port, ours.port)):
        media = [d for d in capture.flow(source, destination) if not is_dtls_record(d)]
        assert media == [], f"{len(media)} RTP packets {source} -> {destination}"


def client_hellos(capture: LoopbackCapture, source: int, destination: int) -> int:
    """How many datagrams from ``source`` to ``destination`` start with a ClientHello."""
    return sum(
        1 for d in capture.flow(source, destination)
        if is_dtls_record(d) and (records := dtls_records(d)) and records[0][0] == 22
        and records[0][2][:1] == b"\x01"
    )  # fmt: skip


@pytest.mark.timeout(120)
def test_offerer_answers_a_client_hello_that_outran_the_answer(
    tmp_path: Path, baresips: list[Baresip]
) -> None:
    """sansip offers actpass; baresip answers active and sends its
    ClientHello as it sends the 200 OK, which a relay holds back 0.5 s:
    the ClientHello reaches sansip first.  An offerer of actpass must
    listen from the offer on (RFC 4572 §6.2, RFC 8122 §5), so one
    ClientHello should do, answered once the 200 OK came.

    In calls without the relay the ClientHello wins the race most of the
    time too (7 of 8 on loopback): the media engine keeps the DTLS records
    that come before the stream starts and hands them to it."""
    callee = start_baresip(tmp_path / "callee", tone_hz=BARESIP_TONE, codecs=("pcmu",),
                           mediaenc=BARESIP_DTLS, extra_args=("-s", "-v"))  # fmt: skip
    baresips.append(callee)

    def hold_the_answer(data: bytes, from_target: bool) -> bytes:
        if from_target and data.startswith(b"SIP/2.0 200 ") and b" INVITE\r\n" in data:
            time.sleep(0.5)
        return data

    relay = SipRelay(callee.sip_port, hold_the_answer)
    try:
        with capture_lo() as capture:
            call = run_call(f"sip:baresip@127.0.0.1:{relay.port}",
                            "--duration", str(DTLS_CALL_SECONDS),
                            "-p", "codec=PCMU", "-p", "mediaencryption=3", timeout=60)  # fmt: skip
            log = finish_baresip(callee, call.stdout.decode() + call.stderr.decode())
    finally:
        relay.stop()
    assert call.returncode == 0, log
    record = one_record(json_lines(call), "call")
    assert record["rtp"]["srtp"] in PROFILES, record  # the call itself works
    skip_without_capture(capture)
    assert capture is not None
    # The offer, then the 200 OK (retransmitted while the relay held it).
    ours, theirs, *again = traced_dtls_sdps(callee)
    assert (ours.setup, theirs.setup) == ("actpass", "active"), (ours, theirs)
    assert all(x == theirs for x in again), again
    assert client_hellos(capture, theirs.port, ours.port) == 1, log
