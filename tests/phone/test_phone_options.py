"""What the commands are built from, through the public phone API: audio
plans (a tone one way, a recording the other), early media when answering,
signalling-only phones, the SIP log, every REGISTER answer as an event, a
transport error ending a call at once, the device and volume functions on
a loopback sound card, and the names ``sansip.AsyncPhone`` and friends."""

from __future__ import annotations

import asyncio
import socket
import wave
from pathlib import Path

import numpy as np
import pytest

import sansip
from sansip.audio.analysis import dominant_frequency
from sansip.errors import LocalProtocolError
from sansip.io.audio_backends import LoopbackBackend
from sansip.phone.aio import AsyncPhone
from sansip.phone.audio import AudioPlan
from sansip.phone.events import PhoneEvent, RegistrationUpdated
from sansip.phone.siplog import RECEIVED, SENT


def _target(phone: AsyncPhone, user: str = "bob") -> str:
    host, port = phone.core.ua.endpoint.config.local
    return f"sip:{user}@{host}:{port}"


@pytest.mark.timeout(60)
def test_a_tone_plan_is_heard_in_the_recording_plan(tmp_path: Path) -> None:
    heard = tmp_path / "heard.wav"

    async def run() -> dict[str, object]:
        async with (
            AsyncPhone(username="bob", autoaccept=1, audio=AudioPlan(record=str(heard))) as bob,
            AsyncPhone(username="alice", codec="pcmu", audio=AudioPlan(tone=900.0)) as alice,
        ):  # fmt: skip
            call = await alice.call(_target(bob))
            await call.connected(timeout=5)
            await asyncio.sleep(1.5)
            call.hangup()
            await call.ended(timeout=10)
            return call.stats()

    stats = asyncio.run(run())
    assert stats["codec"] == "PCMU" and int(stats["sent"]) > 40  # type: ignore[call-overload]
    with wave.open(str(heard)) as recording:
        rate = recording.getframerate()
        samples = np.frombuffer(recording.readframes(recording.getnframes()), dtype=np.int16)
    assert dominant_frequency(samples[rate // 2 :], rate) == pytest.approx(900, abs=10)


@pytest.mark.timeout(60)
def test_earlymedia_3_answers_in_a_183_and_media_flows_while_ringing() -> None:
    async def run() -> tuple[list[str], int, int]:
        async with (
            AsyncPhone(username="bob", earlymedia=3, audio=AudioPlan(tone=600.0)) as bob,
            AsyncPhone(username="alice") as alice,
        ):  # fmt: skip
            call = await alice.call(_target(bob))
            ringing = await bob.incoming(timeout=5)
            await asyncio.sleep(1.0)  # not accepted yet: bob's tone flows in early media
            early = int(call.stats().get("received", 0))
            ringing.accept()
            await call.connected(timeout=5)
            call.hangup()
            record = await call.ended(timeout=10)
            sent = [e.first_line for e in bob.sipmessages() if e.direction == SENT]
            return sent, early, round((record.connected or 0) - record.started)

    sent, received_early, connect_seconds = asyncio.run(run())
    assert sent[:3] == ["SIP/2.0 180 Ringing", "SIP/2.0 183 Session Progress", "SIP/2.0 200 OK"]
    assert received_early > 20 and connect_seconds >= 1  # RTP before the 200 OK


@pytest.mark.timeout(60)
def test_signalling_only_phones_and_the_sip_log() -> None:
    async def run() -> tuple[str, str, str, str]:
        async with (
            AsyncPhone(username="bob", autoaccept=1, signalingonly=1) as bob,
            AsyncPhone(username="alice", signalingonly=1) as alice,
        ):  # fmt: skip
            call = await alice.call(_target(bob))
            await call.connected(timeout=5)
            invite = alice.getsipmessage(SENT, 3)
            ok = alice.getsipmessage(RECEIVED, 4)
            call.hangup()
            record = await call.ended(timeout=10)
            assert call.stats() == {} and record.codec is None
            return invite, ok, alice.getlogs(), alice.getsipmessage(RECEIVED, 3)

    invite, ok, logs, none = asyncio.run(run())
    assert invite.startswith("INVITE sip:bob@") and "m=audio 0 RTP/AVP 0" in invite
    assert ok.startswith("SIP/2.0 200") and "m=audio 0 " in ok
    assert "sent to 127.0.0.1:" in logs and "BYE sip:" in logs
    assert none == "ERROR: no such message"  # alice received no INVITE


@pytest.mark.timeout(60)
def test_every_register_answer_is_an_event(registrar: str) -> None:
    async def run() -> list[RegistrationUpdated]:
        seen: list[RegistrationUpdated] = []

        def note(event: PhoneEvent) -> None:
            if isinstance(event, RegistrationUpdated):
                seen.append(event)

        async with AsyncPhone(serveraddress=registrar, username="alice", password="alice-secret",
                              registerinterval=60) as alice:  # fmt: skip
            alice.on_phone_event(note)
            await alice.register()
            await alice.register()  # a second REGISTER: reported too, the state unchanged
            alice.unregister()
            await asyncio.sleep(0.5)
        async with AsyncPhone(serveraddress=registrar, username="alice", password="nope") as bad:
            bad.on_phone_event(note)
            with pytest.raises(sansip.errors.SansipError, match="failed"):
                await bad.register()
        return seen

    seen = asyncio.run(run())
    states = [(e.state, e.status) for e in seen]
    assert states[:3] == [("registered", 200), ("registered", 200), ("unregistered", 200)]
    assert seen[0].expires == 60 and seen[0].account == "alice"
    assert states[-1][0] == "failed" and states[-1][1] in (401, 403)


@pytest.mark.timeout(30)
def test_an_icmp_error_ends_the_call_at_once() -> None:
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: the kernel answers with ICMP

    async def run() -> tuple[str, float]:
        async with AsyncPhone(username="alice", signalingonly=1) as alice:
            loop = asyncio.get_running_loop()
            started = loop.time()
            call = await alice.call(f"sip:bob@127.0.0.1:{port}")
            record = await call.ended(timeout=20)
            return record.reason, loop.time() - started

    reason, took = asyncio.run(run())
    assert reason == "503 transport error" and took < 5  # not after timer B (32 s)


def test_device_and_volume_functions_on_a_loopback_card() -> None:
    async def run() -> tuple[str, str, str, int]:
        card = LoopbackBackend(("Desk", "Headset"))
        async with AsyncPhone(audio=AudioPlan(devices=True, backend=card)) as phone:
            listing = phone.getdevicelist(1)
            phone.setdevice(1, "Headset")
            phone.setvolume(1, 80)
            with pytest.raises(Exception, match="Nowhere"):
                phone.setdevice(0, "Nowhere")
            return listing, phone.getdevice(1), phone.getparameter("audiodeviceout"), \
                phone.getvolume(1)

    listing, device, parameter, volume = asyncio.run(run())
    assert listing.split("\r\n") == ["Desk", "Headset"]
    assert device == parameter == "Headset" and volume == 80


def test_the_sound_functions_need_an_audio_plan() -> None:
    async def run() -> None:
        async with AsyncPhone() as phone:
            with pytest.raises(LocalProtocolError, match="AudioPlan"):
                phone.getdevicelist(0)

    asyncio.run(run())


def test_the_phone_api_by_its_short_names() -> None:
    from sansip.phone.threads import Phone

    assert sansip.AsyncPhone is AsyncPhone and sansip.Phone is Phone
    assert sansip.AudioPlan is AudioPlan and sansip.TrioPhone.__name__ == "TrioPhone"
    with pytest.raises(AttributeError):
        _ = sansip.NoSuchThing  # type: ignore[attr-defined]


def test_nextcallid_is_the_call_id_of_the_next_call() -> None:
    async def run() -> tuple[str, str, str]:
        async with AsyncPhone(username="bob", autoaccept=1, signalingonly=1) as bob, \
                AsyncPhone(username="alice", signalingonly=1) as alice:  # fmt: skip
            announced = alice.nextcallid()
            assert alice.nextcallid() == announced  # stable until a call takes it
            call = await alice.call(_target(bob))
            await call.connected(timeout=5)
            call.hangup()
            await call.ended(timeout=10)
            return announced, call.callid, alice.nextcallid()

    announced, used, following = asyncio.run(run())
    assert used == announced and following != announced


@pytest.mark.timeout(30)
def test_calltimeout_ends_a_call_nobody_answers() -> None:
    """``calltimeout`` 1.5 s to a socket that never answers: the call ends
    then (not after timer B), with the setup timeout as its reason."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))

    async def run() -> tuple[str, int, float]:
        async with AsyncPhone(username="alice", calltimeout=1500) as alice:
            loop = asyncio.get_running_loop()
            started = loop.time()
            call = await alice.call(f"sip:bob@127.0.0.1:{silent.getsockname()[1]}")
            record = await call.ended(timeout=20)
            return record.reason, record.discparty, loop.time() - started

    try:
        reason, party, took = asyncio.run(run())
    finally:
        silent.close()
    assert reason.endswith("call setup timeout") and party == 3  # a timeout ended it
    assert 1.4 <= took < 5


@pytest.mark.timeout(30)
def test_holdtype_inactive_and_off() -> None:
    async def run() -> tuple[str, bool]:
        async with (
            AsyncPhone(username="bob", autoaccept=1) as bob,
            AsyncPhone(username="alice", holdtype=4) as alice,
        ):  # fmt: skip
            call = await alice.call(_target(bob))
            await call.connected(timeout=5)
            call.hold()
            for _ in range(100):
                if call.holds:
                    break
                await asyncio.sleep(0.02)
            reinvite = [e for e in alice.sipmessages() if e.direction == SENT
                        and e.first_line.startswith("INVITE")][-1]  # fmt: skip
            return reinvite.data.decode(), call.on_hold

    offer, held = asyncio.run(run())
    assert "a=inactive" in offer and held


def test_holdtype_0_turns_hold_off() -> None:
    async def run() -> None:
        async with (
            AsyncPhone(username="bob", autoaccept=1) as bob,
            AsyncPhone(username="alice", holdtype=0) as alice,
        ):  # fmt: skip
            call = await alice.call(_target(bob))
            await call.connected(timeout=5)
            with pytest.raises(LocalProtocolError, match="holdtype 0"):
                call.hold()

    asyncio.run(run())


@pytest.mark.timeout(30)
def test_sessionexpires_asks_for_a_session_timer() -> None:
    async def run() -> tuple[str, str]:
        async with (
            AsyncPhone(username="bob", autoaccept=1) as bob,
            AsyncPhone(username="alice", sessionexpires=600) as alice,
        ):  # fmt: skip
            call = await alice.call(_target(bob))
            await call.connected(timeout=5)
            invite = alice.getsipmessage(SENT, 3)
            ok = alice.getsipmessage(RECEIVED, 4)
            return invite, ok

    invite, ok = asyncio.run(run())
    assert "Session-Expires: 600" in invite and "Min-SE: 90" in invite
    assert "Session-Expires: 600;refresher=uac" in ok  # bob honours it without asking himself


@pytest.mark.timeout(30)
def test_prack_2_sends_the_183_reliably_and_the_caller_pracks_it() -> None:
    async def run() -> tuple[list[str], list[str]]:
        async with (
            AsyncPhone(username="bob", earlymedia=3, prack=2) as bob,
            AsyncPhone(username="alice") as alice,
        ):  # fmt: skip
            call = await alice.call(_target(bob))
            ringing = await bob.incoming(timeout=5)
            await asyncio.sleep(0.3)
            ringing.accept()
            await call.connected(timeout=5)
            sent = [e.first_line for e in alice.sipmessages() if e.direction == SENT]
            got = [e.data.decode() for e in alice.sipmessages() if e.direction == RECEIVED]
            return sent, got

    sent, got = asyncio.run(run())
    assert any(line.startswith("PRACK ") for line in sent)
    early = next(m for m in got if m.startswith("SIP/2.0 183"))
    assert "Require: 100rel" in early and "RSeq: " in early


def test_a_pipeline_with_nothing_to_do_is_left_out() -> None:
    from sansip.phone.config import parameters_of, phone_setup

    def pipeline(**values: object) -> object:
        media = phone_setup(parameters_of(values)).core.media
        assert media is not None
        return media.settings.pipeline

    assert pipeline() is not None  # concealment is on by default
    assert pipeline(plc=0) is None  # nothing left: the streams run without a pipeline
    assert pipeline(plc=0, agc=1) is not None
