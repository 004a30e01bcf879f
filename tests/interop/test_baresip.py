"""Media between sansip and a real baresip on 127.0.0.1: codecs both ways, DTMF, hold,
SRTP keyed by SDES.

Each baresip instance plays a 440 Hz tone from a WAV and records, through
its ``sndfile`` filter, the audio it decodes; sansip sends a 1000 Hz tone
and records what it receives.  Both recordings must hold the other side's
tone.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import socket
import struct
import subprocess
import threading
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
from sansip.rtp.srtp import SrtpError, SrtpTransform
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
