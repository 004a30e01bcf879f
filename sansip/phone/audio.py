"""What every call of a phone sends and what becomes of what it hears,
when that is not the call's frame queues: a tone, a looped file, an echo,
the sound card; a recording of what is heard, or of both directions.

Give a phone ``audio=AudioPlan(...)``; each call then gets its own source,
sink and recordings (the second call's recording files are numbered
``name-2.wav``, ...).  With the sound card (``devices=True``) the phone also
plays the local call-progress tones the ``playing``, ``ringback`` and
``ringtone`` parameters ask for: a ringback on the loudspeaker while an
outgoing call rings (until it is answered or early media arrives), a ring
on the ringer device while an incoming call waits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sansip.audio.frames import (
    AudioFrame,
    EchoLoop,
    FrameSink,
    FrameSource,
    NullSink,
    SilenceSource,
)
from sansip.audio.player import FilePlayer, Ringback, Ringtone
from sansip.audio.recorder import CallRecorder, FileRecorder, recording_format
from sansip.audio.tones import ToneSource
from sansip.io.audio_devices import AudioBackend, AudioDevices, DeviceKind, RingPlayer
from sansip.io.file_writer import open_call_recorder, open_recorder
from sansip.media.engine import MediaEngine
from sansip.phone.line import PhoneCall
from sansip.phone.params import Parameters

__all__ = ["AudioPlan", "PlannedAudio", "sound_devices"]

#: The longest recording, in seconds.
MAX_RECORDING = 3600.0
#: The parameters of the devices and volumes, by device kind.
_DEVICE_PARAMS = {0: "audiodevicein", 1: "audiodeviceout", 2: "audiodevicering"}
_VOLUME_PARAMS = {0: "volumein", 1: "volumeout", 2: "volumering"}


@dataclass(frozen=True, slots=True)
class AudioPlan:
    """What each call sends (one of ``tone`` Hz at -10 dBFS, a ``play``ed
    WAV or Ogg Opus file looped, an ``echo`` of what it hears, the sound
    card with ``devices``; silence by default), where what it hears goes
    (``record``: a .wav or .ogg file of it; ``sink``: a frame sink of your
    own; the sound card), and ``record_call``: both directions in one file,
    mixed or ``stereo`` (sent left, heard right).  ``backend`` replaces
    PortAudio for the sound card (tests pass a loopback one)."""

    tone: float | None = None
    play: str | None = None
    echo: bool = False
    devices: bool = False
    record: str | None = None
    record_call: str | None = None
    stereo: bool = False
    sink: FrameSink | None = None
    backend: AudioBackend | None = None

    def check(self) -> None:
        """Raise :class:`~sansip.errors.SansipError` for a recording path of no known format."""
        for path in (self.record, self.record_call):
            if path:
                recording_format(path)


def sound_devices(backend: AudioBackend | None = None) -> dict[str, tuple[list[str], str]]:
    """The sound devices by kind (``capture``, ``playback``, ``ringer``):
    their names, as the ``audiodevicein``/``audiodeviceout``/``audiodevicering``
    parameters take them, and the default one.  Raises
    :class:`~sansip.errors.SansipError` when PortAudio cannot be used."""
    devices = AudioDevices(backend)
    return {kind.name.lower(): (devices.device_names(kind), devices.get_device(kind))
            for kind in DeviceKind}  # fmt: skip


class _CallAudio:
    """The audio objects of one call."""

    def __init__(self) -> None:
        self.recorder: FileRecorder | None = None
        self.call_recorder: CallRecorder | None = None
        self.devices: AudioDevices | None = None
        self.speaker: FrameSink | None = None
        self.ringback: _LocalTone | None = None
        self.ringtone: RingPlayer | None = None
        self.index = 1  # the how-manyth call of the phone (numbers its files)


class PlannedAudio:
    """An :class:`AudioPlan` at work in a phone: ``open`` gives a call its
    source and sink, ``changed`` follows the call (tones, recordings, the end)."""

    def __init__(self, plan: AudioPlan, params: Parameters, rate: int) -> None:
        self.plan = plan
        self._params = params
        self._rate = rate
        self._calls: dict[PhoneCall, _CallAudio] = {}
        self._opened = 0
        self._listing: AudioDevices | None = None  # for the device functions

    def _param(self, name: str) -> str:
        return self._params.text(name)

    def open(self, call: PhoneCall) -> tuple[object, object]:
        """The source and sink of ``call`` (opens its files and devices)."""
        plan, rate = self.plan, self._rate
        self._opened += 1
        state = self._calls[call] = _CallAudio()
        state.index = self._opened
        echo = EchoLoop(rate) if plan.echo else None
        source: FrameSource
        sink: FrameSink
        if plan.devices:
            state.devices = AudioDevices(
                plan.backend, rate=rate,
                audiodevicein=self._param("audiodevicein") or "Default",
                audiodeviceout=self._param("audiodeviceout") or "Default",
                audiodevicering=self._param("audiodevicering") or "Default",
                volumein=self._params.get_int("volumein"),
                volumeout=self._params.get_int("volumeout"),
            )  # fmt: skip
            source, sink = state.devices.open_capture(), state.devices.open_playback()
            state.speaker = sink
            return source, sink
        if plan.sink is not None:
            sink = plan.sink
        elif plan.record:
            state.recorder = open_recorder(_numbered(plan.record, state.index), rate,
                                           max_duration=MAX_RECORDING)  # fmt: skip
            sink = state.recorder
        else:
            sink = NullSink()
        if echo is not None:
            source = echo
            sink = _Tee(sink, echo) if plan.sink or plan.record else echo
        elif plan.tone:
            source = ToneSource(plan.tone, rate)
        elif plan.play:
            source = FilePlayer(plan.play, rate, loop=True)
        else:
            source = SilenceSource(rate)
        return source, sink

    # -- devices and volumes (the reference's getdevicelist ... setvolume) ----------------
    def device_list(self, kind: int) -> list[str]:
        """The sound devices of ``kind`` (0 capture, 1 playback, 2 ringer)."""
        return self._devices().device_names(kind)

    def get_device(self, kind: int) -> str:
        """The device of ``kind`` in use (the one the parameter names resolves to)."""
        return self._devices().get_device(kind)

    def set_device(self, kind: int, name: str, *, active: bool) -> None:
        """Use device ``name`` for ``kind`` from the next call on, and in the
        calls going on too with ``active``; :class:`DeviceNotFound` for an
        unknown name (nothing changes)."""
        self._devices().set_device(kind, name, active=False)
        self._params.set(_DEVICE_PARAMS[kind], name)
        if active:
            for state in self._calls.values():
                if state.devices is not None:
                    state.devices.set_device(kind, name, active=True)

    def set_volume(self, kind: int, percent: int) -> None:
        """The volume of ``kind`` (0 microphone, 1 speaker, 2 ringer), 0..100
        (50: as the system has it), now and for the next calls."""
        self._params.set(_VOLUME_PARAMS[kind], percent)
        for state in self._calls.values():
            if state.devices is not None:
                state.devices.set_volume(kind, percent)

    def _devices(self) -> AudioDevices:
        if self._listing is None:
            self._listing = AudioDevices(self.plan.backend, rate=self._rate)
        return self._listing

    def changed(self, call: PhoneCall, what: str, engine: MediaEngine, now: float) -> None:
        """``call`` rings (``ringing``), has early media (``early``), has its
        stream started (``media``), is ``connected``, or ``ended``."""
        state = self._calls.get(call)
        if state is None:
            return
        if what == "ringing" and call.direction == 1:
            self._ringback(state, engine, now, on=not call.media_started)
        elif what == "ringing":
            self._ringtone(state, on=True)
        elif what == "early":
            self._ringback(state, engine, now, on=False)
        elif what == "media":
            self._ringback(state, engine, now, on=False)
            if self.plan.record_call and state.call_recorder is None:
                state.call_recorder = open_call_recorder(
                    _numbered(self.plan.record_call, state.index), self._rate,
                    mode="stereo" if self.plan.stereo else "mixed", max_duration=MAX_RECORDING,
                )  # fmt: skip
                call.set_recorder(state.call_recorder)
        elif what == "connected":
            self._ringback(state, engine, now, on=False)
            self._ringtone(state, on=False)
        elif what == "ended":
            self._close(call, state, engine, now)

    def _close(self, call: PhoneCall, state: _CallAudio, engine: MediaEngine, now: float) -> None:
        self._ringback(state, engine, now, on=False)
        self._ringtone(state, on=False)
        for closeable in (state.recorder, state.call_recorder, state.devices):
            if closeable is not None:
                closeable.close()
        del self._calls[call]

    def _ringback(self, state: _CallAudio, engine: MediaEngine, now: float, *, on: bool) -> None:
        """The local ringback of an outgoing call on the loudspeaker
        (``playing`` 2; ``ringback`` names a file instead of the cadence)."""
        if on and state.ringback is None and state.speaker is not None:
            if self._params.get_int("playing") != 2:
                return
            tone = Ringback(self._rate, file=self._param("ringback") or None)
            state.ringback = _LocalTone(tone, state.speaker)
            engine.add_ticker(state.ringback, now)
        elif not on and state.ringback is not None:
            engine.remove_ticker(state.ringback)
            state.ringback = None

    def _ringtone(self, state: _CallAudio, *, on: bool) -> None:
        """The ring of an incoming call on the ringer device (``playing`` 0
        silences it; ``ringtone`` names a file instead of the built-in ring)."""
        if on and state.ringtone is None and state.devices is not None:
            if self._params.get_int("playing") == 0:
                return
            tone = Ringtone(self._rate, file=self._param("ringtone") or None)
            state.ringtone = state.devices.ring_player(tone)
            state.ringtone.start()
        elif not on and state.ringtone is not None:
            state.ringtone.stop()
            state.ringtone.close()
            state.ringtone = None


def _numbered(path: str, index: int) -> str:
    """``path`` for the ``index``-th call: ``name.wav``, ``name-2.wav``, ..."""
    if index <= 1:
        return path
    p = Path(path)
    return str(p.with_name(f"{p.stem}-{index}{p.suffix}"))


class _LocalTone:
    """A tone (ringback) played to the loudspeaker on the media clock."""

    def __init__(self, source: FrameSource, sink: FrameSink) -> None:
        self.source, self.sink = source, sink

    def tick(self, now: float) -> None:
        self.sink.write(self.source.read(now))


class _Tee:
    """A sink writing to two sinks (record and echo)."""

    def __init__(self, first: FrameSink, second: Any) -> None:
        self._first, self._second = first, second

    def write(self, frame: AudioFrame) -> None:
        self._first.write(frame)
        self._second.write(frame)
