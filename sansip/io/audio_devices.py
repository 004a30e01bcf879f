"""Audio devices for the media clock: capture sources, playback sinks, the ringer.

:class:`CaptureDevice` is a frame source and :class:`PlaybackDevice` a frame
sink: the media clock reads and writes one 20 ms frame per tick and never
waits on the device, because a :class:`~sansip.io.audio_backends.SampleRing`
sits between the tick and the device (PortAudio's callback thread, or a
virtual device pumped by the tick itself).  A capture ring that runs dry
gives silence; a full one drops its oldest samples; both are counted.

Each endpoint applies its volume as a digital gain with saturation
(percent, 50 = unchanged, 0 = muted, 100 = twice the amplitude) and can be
switched to another device while it runs: the old stream is closed, a new
one opened, and the ring (with what it holds) is kept.

:class:`RingPlayer` plays a frame source (a ringtone file or cadence) on the
ringer device, which may differ from the call's playback device.
:class:`AudioDevices` ties them to the parameters ``audiodevicein``,
``audiodeviceout``, ``audiodevicering``, ``volumein``, ``volumeout`` and
``volumering``: it lists devices, resolves names (exact, then ``Default``,
then case-insensitive prefix, then substring, so names cut short in a
device list are still accepted), and moves open endpoints to a newly
selected device.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Final, Protocol, TypeVar

import numpy as np

from sansip.audio.frames import (
    DEFAULT_FRAME_DURATION,
    AudioFrame,
    FrameSource,
    frame_samples,
    silence,
)
from sansip.errors import LocalProtocolError
from sansip.io.audio_backends import (
    AudioBackend,
    AudioBackendUnavailable,
    AudioDeviceError,
    DeviceInfo,
    DeviceKind,
    DeviceNotFound,
    DeviceStream,
    LoopbackBackend,
    NullBackend,
    SampleRing,
    WavFileBackend,
)
from sansip.io.portaudio import SoundDeviceBackend

__all__ = [
    "DEFAULT_DEVICE",
    "UNCHANGED_VOLUME",
    "AudioBackend",
    "AudioBackendUnavailable",
    "AudioDevice",
    "AudioDeviceError",
    "AudioDevices",
    "CaptureDevice",
    "DeviceInfo",
    "DeviceKind",
    "DeviceNotFound",
    "LoopbackBackend",
    "NullBackend",
    "PlaybackDevice",
    "RingPlayer",
    "SampleRing",
    "SoundDeviceBackend",
    "WavFileBackend",
    "apply_volume",
    "find_device",
    "volume_gain",
]

#: The device name that means "the system's default device".
DEFAULT_DEVICE: Final = "Default"
#: The volume percentage that leaves the level unchanged.
UNCHANGED_VOLUME: Final = 50


def volume_gain(percent: int) -> float:
    """The linear gain of a volume ``percent`` (0-100; 50 is 1.0, 0 mutes, 100 is 2.0)."""
    if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
        raise LocalProtocolError(f"a volume is a percentage from 0 to 100, not {percent!r}")
    return percent / UNCHANGED_VOLUME


def apply_volume(frame: AudioFrame, percent: int) -> AudioFrame:
    """``frame`` scaled by the gain of ``percent``, saturated to int16 (a new array)."""
    volume_gain(percent)  # checks the value
    if percent == UNCHANGED_VOLUME:
        return np.array(frame, dtype=np.int16, copy=True)
    # percent / 50 applied as a ratio, so halves round the same way everywhere
    scaled = np.rint(np.asarray(frame, dtype=np.float64) * percent / UNCHANGED_VOLUME)
    out: AudioFrame = np.clip(scaled, -32768, 32767).astype(np.int16)
    return out


def find_device(
    devices: Sequence[DeviceInfo],
    name: str,
    kind: DeviceKind,
    default: DeviceInfo | None = None,
) -> DeviceInfo:
    """The device of ``kind`` called ``name``.

    Tried in order: the exact name; ``Default`` (any case) or an empty name,
    meaning ``default`` or else the first device of that kind; the first
    name starting with ``name`` (ignoring case); the first name containing
    it.  Raises :class:`DeviceNotFound` listing the candidates.
    """
    usable = [device for device in devices if device.supports(kind)]
    for device in usable:
        if device.name == name:
            return device
    wanted = name.strip().casefold()
    if wanted in ("", DEFAULT_DEVICE.casefold()):
        if default is not None and default.supports(kind):
            return default
        if usable:
            return usable[0]
    else:
        prefixed = [d for d in usable if d.name.casefold().startswith(wanted)]
        containing = [d for d in usable if wanted in d.name.casefold()]
        if prefixed or containing:
            return (prefixed or containing)[0]
    names = ", ".join(repr(device.name) for device in usable) or "none"
    raise DeviceNotFound(f"no {kind.name.lower()} device {name!r} (available: {names})")


class AudioDevice(Protocol):
    """What capture, playback and ring endpoints have in common."""

    kind: DeviceKind
    volume: int

    @property
    def device(self) -> DeviceInfo | None:
        """The device the endpoint streams on (None while closed or between devices)."""
        ...

    def switch(self, device: DeviceInfo) -> None:
        """Move to ``device`` without losing what is buffered."""
        ...

    def close(self) -> None:
        """Stop streaming (idempotent)."""
        ...


class _Volume:
    """A volume percentage applied to every frame (50 = unchanged); checked when set."""

    _volume: int

    @property
    def volume(self) -> int:
        """The volume percentage (50 = unchanged); applies at once."""
        return self._volume

    @volume.setter
    def volume(self, percent: int) -> None:
        volume_gain(percent)
        self._volume = percent


class _Endpoint(_Volume):
    """A ring plus the device stream that fills or drains it."""

    kind: DeviceKind

    def __init__(
        self,
        backend: AudioBackend,
        device: DeviceInfo,
        *,
        rate: int = 8000,
        frame_duration: float = DEFAULT_FRAME_DURATION,
        volume: int = UNCHANGED_VOLUME,
        buffer_frames: int = 10,
        prefill_frames: int = 1,
    ) -> None:
        if buffer_frames < 1 or not 0 <= prefill_frames <= buffer_frames:
            raise LocalProtocolError("buffer_frames must be >= 1 and prefill_frames within it")
        self.backend = backend
        self.rate = rate
        self.samples_per_frame = frame_samples(rate, frame_duration)
        self.volume = volume
        self.ring = SampleRing(
            buffer_frames * self.samples_per_frame,
            prefill=prefill_frames * self.samples_per_frame,
        )
        self.switches = 0
        self.closed = False
        self._stream: DeviceStream | None = None
        self._switching = threading.Lock()
        self._stream = self._open(device)

    @property
    def device(self) -> DeviceInfo | None:
        """The device streamed on (None once closed)."""
        stream = self._stream
        return stream.device if stream is not None else None

    @property
    def stream(self) -> DeviceStream | None:
        """The open device stream (None once closed); backends add their own counters."""
        return self._stream

    def pump(self, samples: int) -> None:
        """Advance a virtual device by ``samples`` (real devices pace themselves)."""
        stream = self._stream
        if stream is not None:
            stream.pump(samples)

    def _open(self, device: DeviceInfo) -> DeviceStream:
        raise NotImplementedError

    def switch(self, device: DeviceInfo) -> None:
        """Close the current stream and open one on ``device``; the ring is kept.

        If ``device`` cannot be opened, the previous device is reopened when
        possible and the error is raised.
        """
        with self._switching:
            if self.closed:
                raise LocalProtocolError("the device endpoint is closed")
            old, self._stream = self._stream, None
            if old is not None:
                old.close()
            try:
                self._stream = self._open(device)
            except Exception:
                if old is not None:
                    try:
                        self._stream = self._open(old.device)
                    except Exception:  # keep the first error; run silent
                        self._stream = None
                raise
            self.switches += 1

    def close(self) -> None:
        """Close the stream; later reads give silence and writes are dropped."""
        with self._switching:
            self.closed = True
            stream, self._stream = self._stream, None
            if stream is not None:
                stream.close()


_EndpointT = TypeVar("_EndpointT", bound=_Endpoint)


class CaptureDevice(_Endpoint):
    """A device's capture as a frame source: ``read()`` never blocks.

    ``ring`` holds captured audio not yet read; its counters tell how often
    the device delivered too little (underruns: silence was read) or too
    much (overruns: the oldest audio was dropped).
    """

    kind = DeviceKind.CAPTURE

    def _open(self, device: DeviceInfo) -> DeviceStream:
        return self.backend.open_capture(
            device, self.ring, rate=self.rate, samples_per_frame=self.samples_per_frame
        )

    def read(self, now: float | None = None) -> AudioFrame:
        """One frame of captured audio at the device's volume (silence if none)."""
        stream = self._stream
        if stream is not None:
            stream.pump(self.samples_per_frame)
        elif self.closed:
            return silence(self.samples_per_frame)
        return apply_volume(self.ring.read(self.samples_per_frame), self.volume)


class PlaybackDevice(_Endpoint):
    """A device's playback as a frame sink: ``write()`` never blocks.

    ``ring`` holds audio not yet played; writing faster than the device
    plays drops the oldest audio (overruns), playing faster than frames are
    written plays silence (underruns).  ``dropped_frames`` counts frames
    written after :meth:`close`.
    """

    kind = DeviceKind.PLAYBACK
    dropped_frames = 0

    def _open(self, device: DeviceInfo) -> DeviceStream:
        return self.backend.open_playback(
            device, self.ring, rate=self.rate, samples_per_frame=self.samples_per_frame
        )

    def write(self, frame: AudioFrame) -> None:
        """Queue ``frame`` for the device at the device's volume."""
        if self.closed:
            self.dropped_frames += 1
            return
        self.ring.write(apply_volume(frame, self.volume))
        stream = self._stream
        if stream is not None:
            stream.pump(len(frame))


class RingPlayer(_Volume):
    """Plays a frame source (ringtone, cadence) on the ringer device while started.

    The device pulls frames from ``source`` as it needs them (in PortAudio's
    callback thread for a real device); for a virtual device (null, WAV,
    loopback) call :meth:`tick` once per frame.  ``frames_played`` counts
    the frames taken from the source.  ``volume`` is the
    ``volumering`` percentage.  A change of device while ringing takes
    effect at the next :meth:`start`.
    """

    kind = DeviceKind.RINGER

    def __init__(
        self,
        backend: AudioBackend,
        device: DeviceInfo,
        source: FrameSource,
        *,
        rate: int = 8000,
        frame_duration: float = DEFAULT_FRAME_DURATION,
        volume: int = UNCHANGED_VOLUME,
        buffer_frames: int = 10,
        prefill_frames: int = 2,
    ) -> None:
        self.backend = backend
        self.source = source
        self.rate = rate
        self.frame_duration = frame_duration
        self.samples_per_frame = frame_samples(rate, frame_duration)
        self.volume = volume
        self.next_device = device
        self._buffer_frames = buffer_frames
        self._prefill_frames = prefill_frames
        self._playback: PlaybackDevice | None = None
        self._lock = threading.Lock()
        self.frames_played = 0

    @property
    def ringing(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._playback is not None

    @property
    def device(self) -> DeviceInfo | None:
        """The device ringing now (None when not ringing)."""
        playback = self._playback
        return playback.device if playback is not None else None

    def switch(self, device: DeviceInfo) -> None:
        """Ring on ``device`` from the next :meth:`start` (never while ringing)."""
        self.next_device = device

    def start(self, source: FrameSource | None = None) -> None:
        """Start ringing (from ``source`` if given); does nothing while ringing."""
        with self._lock:
            if self._playback is not None:
                return
            if source is not None:
                self.source = source
            playback = PlaybackDevice(
                self.backend,
                self.next_device,
                rate=self.rate,
                frame_duration=self.frame_duration,
                buffer_frames=self._buffer_frames,
                prefill_frames=min(self._prefill_frames, self._buffer_frames),
            )
            playback.ring.refill = self._next_frame
            self._playback = playback

    def _next_frame(self) -> AudioFrame:
        self.frames_played += 1
        return apply_volume(self.source.read(), self.volume)

    def tick(self, now: float | None = None) -> None:
        """Advance a virtual ringer device by one frame (a real device paces itself)."""
        playback = self._playback
        if playback is not None:
            playback.pump(self.samples_per_frame)

    def stop(self) -> None:
        """Stop ringing (idempotent); what was buffered is discarded."""
        with self._lock:
            playback, self._playback = self._playback, None
        if playback is not None:
            playback.close()
            playback.ring.clear()

    def close(self) -> None:
        """Same as :meth:`stop`."""
        self.stop()


class AudioDevices:
    """Device selection and volumes for one phone, and the endpoints opened with them.

    ``backend`` defaults to :class:`SoundDeviceBackend` (PortAudio, loaded
    on first use).  Device names are kept as given (``Default`` follows the
    system default) and resolved with :func:`find_device` when set and when
    an endpoint opens.  Changing a device or a volume applies to the open
    endpoints of that kind at once (``active=False`` leaves them and only
    affects endpoints opened later); the ringer never changes while it
    rings.
    """

    def __init__(
        self,
        backend: AudioBackend | None = None,
        *,
        rate: int = 8000,
        frame_duration: float = DEFAULT_FRAME_DURATION,
        audiodevicein: str = DEFAULT_DEVICE,
        audiodeviceout: str = DEFAULT_DEVICE,
        audiodevicering: str = DEFAULT_DEVICE,
        volumein: int = UNCHANGED_VOLUME,
        volumeout: int = UNCHANGED_VOLUME,
        volumering: int = UNCHANGED_VOLUME,
        buffer_frames: int = 10,
        prefill_frames: int = 1,
    ) -> None:
        self.backend: AudioBackend = backend if backend is not None else SoundDeviceBackend()
        self.rate = rate
        self.frame_duration = frame_duration
        self.buffer_frames = buffer_frames
        self.prefill_frames = prefill_frames
        self._names = {
            DeviceKind.CAPTURE: audiodevicein,
            DeviceKind.PLAYBACK: audiodeviceout,
            DeviceKind.RINGER: audiodevicering,
        }
        self._volumes: dict[DeviceKind, int] = {}
        for kind, percent in zip(DeviceKind, (volumein, volumeout, volumering), strict=True):
            volume_gain(percent)
            self._volumes[kind] = percent
        self._endpoints: list[_Endpoint | RingPlayer] = []

    # -- listing and names -----------------------------------------------------------------
    def devices(self, kind: DeviceKind | int) -> list[DeviceInfo]:
        """The devices usable for ``kind`` (the ringer uses playback devices)."""
        kind = DeviceKind(kind)
        return [device for device in self.backend.devices() if device.supports(kind)]

    def device_names(self, kind: DeviceKind | int) -> list[str]:
        """The names of :meth:`devices`, in the backend's order."""
        return [device.name for device in self.devices(kind)]

    def device_list(self, kind: DeviceKind | int) -> str:
        """The device names joined by CRLF (the shape of a device list callback)."""
        return "\r\n".join(self.device_names(kind))

    def find(self, kind: DeviceKind | int, name: str) -> DeviceInfo:
        """The device ``name`` resolves to for ``kind`` (raises :class:`DeviceNotFound`)."""
        kind = DeviceKind(kind)
        lookup = DeviceKind.PLAYBACK if kind is DeviceKind.RINGER else kind
        return find_device(self.backend.devices(), name, kind, self.backend.default_device(lookup))

    def selected_name(self, kind: DeviceKind | int) -> str:
        """The device name as configured (e.g. ``Default``)."""
        return self._names[DeviceKind(kind)]

    def get_device(self, kind: DeviceKind | int) -> str:
        """The name of the device the configured name resolves to now."""
        return self.find(kind, self.selected_name(kind)).name

    def set_device(self, kind: DeviceKind | int, name: str, *, active: bool = True) -> DeviceInfo:
        """Select ``name`` for ``kind``; with ``active`` move open endpoints to it.

        Raises :class:`DeviceNotFound` (nothing changes) for an unknown name.
        """
        kind = DeviceKind(kind)
        device = self.find(kind, name)
        self._names[kind] = name
        if active:
            for endpoint in self._open_endpoints(kind):
                if endpoint.device != device:
                    endpoint.switch(device)
        return device

    # -- volumes ---------------------------------------------------------------------------
    def get_volume(self, kind: DeviceKind | int) -> int:
        """The volume percentage of ``kind`` (50 = unchanged)."""
        return self._volumes[DeviceKind(kind)]

    def set_volume(self, kind: DeviceKind | int, percent: int) -> None:
        """Set the volume of ``kind`` (0-100) for open and future endpoints."""
        kind = DeviceKind(kind)
        volume_gain(percent)
        self._volumes[kind] = percent
        for endpoint in self._open_endpoints(kind):
            endpoint.volume = percent

    # -- endpoints -------------------------------------------------------------------------
    def open_capture(self) -> CaptureDevice:
        """A capture source on the selected input device, at the ``volumein`` volume."""
        return self._open(CaptureDevice, DeviceKind.CAPTURE)

    def open_playback(self) -> PlaybackDevice:
        """A playback sink on the selected output device, at the ``volumeout`` volume."""
        return self._open(PlaybackDevice, DeviceKind.PLAYBACK)

    def _open(self, cls: type[_EndpointT], kind: DeviceKind) -> _EndpointT:
        endpoint = cls(
            self.backend,
            self.find(kind, self._names[kind]),
            rate=self.rate,
            frame_duration=self.frame_duration,
            volume=self._volumes[kind],
            buffer_frames=self.buffer_frames,
            prefill_frames=self.prefill_frames,
        )
        self._endpoints.append(endpoint)
        return endpoint

    def ring_player(self, source: FrameSource) -> RingPlayer:
        """A ring player for ``source`` on the selected ringer (call ``start()``)."""
        device = self.find(DeviceKind.RINGER, self._names[DeviceKind.RINGER])
        player = RingPlayer(
            self.backend,
            device,
            source,
            rate=self.rate,
            frame_duration=self.frame_duration,
            volume=self._volumes[DeviceKind.RINGER],
            buffer_frames=self.buffer_frames,
            prefill_frames=max(self.prefill_frames, 1),
        )
        self._endpoints.append(player)
        return player

    def close(self) -> None:
        """Close every endpoint opened here, then the backend."""
        endpoints, self._endpoints = self._endpoints, []
        for endpoint in endpoints:
            endpoint.close()
        self.backend.close()

    def _open_endpoints(self, kind: DeviceKind) -> list[_Endpoint | RingPlayer]:
        self._endpoints = [
            e for e in self._endpoints if not (isinstance(e, _Endpoint) and e.closed)
        ]
        return [e for e in self._endpoints if e.kind is kind]
