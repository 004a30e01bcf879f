"""Audio device backends: where capture comes from and playback goes to.

A backend lists devices and opens one *device stream* per direction.  A
stream moves samples between the device and a :class:`SampleRing` owned by
the caller (:mod:`sansip.io.audio_devices`), so the media clock never
blocks on a device and a device switch keeps whatever is buffered.

Two kinds of device clock exist:

- real devices (:class:`SoundDeviceBackend`, PortAudio) run their own clock:
  a PortAudio callback thread fills the capture ring and drains the
  playback ring; :meth:`DeviceStream.pump` does nothing;
- virtual devices (:class:`NullBackend`, :class:`WavFileBackend`,
  :class:`LoopbackBackend`) have no clock: every :meth:`DeviceStream.pump`
  call advances them by the given number of samples, so they run exactly
  at the pace of whoever reads or writes (the media clock, a test).

``sounddevice`` is imported only when a :class:`SoundDeviceBackend` is
first asked for devices or a stream; a missing PortAudio library raises
:class:`AudioBackendUnavailable` naming what to install.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Final, Protocol

import numpy as np
from numpy.typing import NDArray

from sansip.audio.frames import AudioFrame, silence
from sansip.audio.wavfile import WavPlayer, WavRecorder
from sansip.errors import LocalProtocolError, SansipError
from sansip.io.file_writer import FileSink

__all__ = [
    "AudioBackend",
    "AudioBackendUnavailable",
    "AudioDeviceError",
    "DeviceInfo",
    "DeviceKind",
    "DeviceNotFound",
    "DeviceStream",
    "LoopbackBackend",
    "NullBackend",
    "SampleRing",
    "WavFileBackend",
]

#: What to install when PortAudio or its Python binding is missing.
PORTAUDIO_HINT: Final = (
    "install the Debian package libportaudio2 (apt-get install libportaudio2) "
    "and the pip package sounddevice (pip install sounddevice)"
)


class DeviceKind(IntEnum):
    """The device roles, numbered like the ``dev`` argument of the device functions."""

    CAPTURE = 0
    PLAYBACK = 1
    RINGER = 2


class AudioDeviceError(SansipError):
    """A device could not be opened or failed while running."""


class AudioBackendUnavailable(AudioDeviceError):
    """The backend's library (PortAudio, sounddevice) cannot be loaded."""


class DeviceNotFound(LocalProtocolError):
    """No device of the wanted kind has the given name."""


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """One device as a backend lists it; ``key`` is the backend's own handle."""

    name: str
    key: int | str
    input_channels: int
    output_channels: int
    default_rate: float = 0.0
    host_api: str = ""

    def supports(self, kind: DeviceKind) -> bool:
        """True if the device can capture (CAPTURE) or play (PLAYBACK, RINGER)."""
        if kind is DeviceKind.CAPTURE:
            return self.input_channels > 0
        return self.output_channels > 0


class SampleRing:
    """A bounded FIFO of int16 samples between two threads.

    ``write`` never blocks: on overflow the oldest samples are dropped
    (``overrun_samples``, ``overruns``).  ``read(n)`` always returns ``n``
    samples: a shortage is filled with silence (``underrun_samples``,
    ``underruns``).  With ``prefill`` the ring starts (and restarts after
    each underrun) by returning silence, without consuming, until that many
    samples are buffered (``priming_samples`` counts that silence), which
    absorbs the jitter between a device clock and the media clock.
    ``refill``, when set, is called (outside the lock, by the reading
    thread) while fewer than ``n`` samples are available and returns more
    samples to append (an empty result stops it).
    """

    def __init__(self, capacity: int, *, prefill: int = 0) -> None:
        if capacity < 1 or not 0 <= prefill <= capacity:
            raise LocalProtocolError(f"bad ring capacity {capacity} or prefill {prefill}")
        self.capacity = capacity
        self.prefill = prefill
        self.refill: Callable[[], AudioFrame] | None = None
        self._buffer = np.zeros(capacity, dtype=np.int16)
        self._start = 0
        self._count = 0
        self._primed = prefill == 0
        self._lock = threading.Lock()
        self.overruns = 0
        self.overrun_samples = 0
        self.underruns = 0
        self.underrun_samples = 0
        self.priming_samples = 0
        self.samples_in = 0
        self.samples_out = 0

    def __len__(self) -> int:
        return self._count

    def write(self, samples: NDArray[np.int16]) -> None:
        """Append ``samples``; the oldest are dropped when the ring is full."""
        data = np.asarray(samples, dtype=np.int16).reshape(-1)
        with self._lock:
            self.samples_in += len(data)
            if len(data) > self.capacity:
                dropped = len(data) - self.capacity
                data = data[dropped:]
                self.overrun_samples += dropped
                self.overruns += 1
            excess = self._count + len(data) - self.capacity
            if excess > 0:
                self._start = (self._start + excess) % self.capacity
                self._count -= excess
                self.overrun_samples += excess
                self.overruns += 1
            end = (self._start + self._count) % self.capacity
            first = min(len(data), self.capacity - end)
            self._buffer[end : end + first] = data[:first]
            self._buffer[: len(data) - first] = data[first:]
            self._count += len(data)

    def read(self, count: int) -> AudioFrame:
        """Exactly ``count`` samples: buffered audio, then silence if short."""
        refill = self.refill
        wanted = min(max(count, self.prefill), self.capacity)
        while refill is not None and self._count < wanted:
            more = refill()
            if len(more) == 0:
                break
            self.write(more)
        with self._lock:
            if not self._primed:
                if self._count < max(self.prefill, 1):
                    self.priming_samples += count
                    return silence(count)
                self._primed = True
            available = min(count, self._count)
            out = self._take(available, count)
            self.samples_out += available
            if available < count:
                self.underruns += 1
                self.underrun_samples += count - available
                self._primed = self.prefill == 0
            return out

    def take(self, limit: int) -> AudioFrame:
        """Up to ``limit`` buffered samples (no silence added, nothing counted as lost)."""
        with self._lock:
            available = min(limit, self._count)
            out = self._take(available, available)
            self.samples_out += available
            return out

    def clear(self) -> None:
        """Forget the buffered samples (counters are kept)."""
        with self._lock:
            self._start = self._count = 0
            self._primed = self.prefill == 0

    def _take(self, available: int, size: int) -> AudioFrame:
        out = silence(size)
        first = min(available, self.capacity - self._start)
        out[:first] = self._buffer[self._start : self._start + first]
        out[first:available] = self._buffer[: available - first]
        self._start = (self._start + available) % self.capacity
        self._count -= available
        return out

    def peek(self) -> AudioFrame:
        """A copy of the buffered samples, oldest first, without consuming them."""
        with self._lock:
            out = silence(self._count)
            first = min(self._count, self.capacity - self._start)
            out[:first] = self._buffer[self._start : self._start + first]
            out[first:] = self._buffer[: self._count - first]
            return out


class DeviceStream(Protocol):
    """One open direction of one device."""

    device: DeviceInfo

    def pump(self, samples: int) -> None:
        """Advance a clockless device by ``samples``; real devices ignore it."""
        ...

    def close(self) -> None:
        """Stop the stream (idempotent); the ring it used is left as it is."""
        ...


class AudioBackend(Protocol):
    """Lists devices and opens streams on them."""

    name: str

    def devices(self) -> list[DeviceInfo]:
        """Every device the backend knows, capture and playback."""
        ...

    def default_device(self, kind: DeviceKind) -> DeviceInfo | None:
        """The system's default device for ``kind``, if there is one."""
        ...

    def open_capture(
        self, device: DeviceInfo, ring: SampleRing, *, rate: int, samples_per_frame: int
    ) -> DeviceStream:
        """Start capturing from ``device`` into ``ring`` (mono int16 at ``rate``)."""
        ...

    def open_playback(
        self, device: DeviceInfo, ring: SampleRing, *, rate: int, samples_per_frame: int
    ) -> DeviceStream:
        """Start playing ``ring`` (mono int16 at ``rate``) on ``device``."""
        ...

    def close(self) -> None:
        """Release what the backend holds (files, library state)."""
        ...


class _ClocklessStream:
    """A stream on a virtual device: each pump moves samples synchronously."""

    def __init__(self, device: DeviceInfo, move: Callable[[int], None]) -> None:
        self.device = device
        self._move: Callable[[int], None] | None = move

    def pump(self, samples: int) -> None:
        move = self._move
        if move is not None and samples > 0:
            move(samples)

    def close(self) -> None:
        self._move = None


class _VirtualBackend:
    """Shared device listing for the clockless backends."""

    name = "virtual"

    def __init__(self, capture: list[str], playback: list[str]) -> None:
        names = list(dict.fromkeys([*capture, *playback]))
        self._devices = [
            DeviceInfo(name, name, int(name in capture), int(name in playback), 0.0, self.name)
            for name in names
        ]

    def devices(self) -> list[DeviceInfo]:
        return list(self._devices)

    def default_device(self, kind: DeviceKind) -> DeviceInfo | None:
        return next((device for device in self._devices if device.supports(kind)), None)

    def _check(self, device: DeviceInfo, kind: DeviceKind) -> str:
        if device not in self._devices or not device.supports(kind):
            raise DeviceNotFound(f"{self.name} has no {kind.name.lower()} device {device.name!r}")
        return device.name

    def close(self) -> None:
        """Nothing to release."""


class NullBackend(_VirtualBackend):
    """Silence in, playback discarded (and counted per device in ``discarded``)."""

    name = "null"

    def __init__(self, names: tuple[str, ...] = ("Null",)) -> None:
        if not names:
            raise LocalProtocolError("a null backend needs at least one device name")
        super().__init__(list(names), list(names))
        self.discarded: dict[str, int] = dict.fromkeys(names, 0)

    def open_capture(
        self, device: DeviceInfo, ring: SampleRing, *, rate: int, samples_per_frame: int
    ) -> DeviceStream:
        self._check(device, DeviceKind.CAPTURE)
        return _ClocklessStream(device, lambda count: ring.write(silence(count)))

    def open_playback(
        self, device: DeviceInfo, ring: SampleRing, *, rate: int, samples_per_frame: int
    ) -> DeviceStream:
        name = self._check(device, DeviceKind.PLAYBACK)

        def move(count: int) -> None:
            self.discarded[name] += len(ring.read(count))

        return _ClocklessStream(device, move)


class LoopbackBackend(_VirtualBackend):
    """Each device plays back into its own loop; capturing from it returns what was played.

    ``played[name]`` counts the samples played on each device and
    ``history(name)`` returns the most recent of them (up to ``history_samples``),
    so a test can check what reached a device even when nobody captures it.
    """

    name = "loopback"

    def __init__(
        self,
        names: tuple[str, ...] = ("Loopback",),
        *,
        loop_samples: int = 48000,
        history_samples: int = 480000,
    ) -> None:
        if not names:
            raise LocalProtocolError("a loopback backend needs at least one device name")
        super().__init__(list(names), list(names))
        self._loops = {name: SampleRing(loop_samples) for name in names}
        self._history = {name: SampleRing(history_samples) for name in names}
        self.played: dict[str, int] = dict.fromkeys(names, 0)

    def history(self, name: str) -> AudioFrame:
        """The most recent samples played on device ``name`` (without consuming them)."""
        return self._history[name].peek()

    def open_capture(
        self, device: DeviceInfo, ring: SampleRing, *, rate: int, samples_per_frame: int
    ) -> DeviceStream:
        loop = self._loops[self._check(device, DeviceKind.CAPTURE)]
        return _ClocklessStream(device, lambda count: ring.write(loop.take(count)))

    def open_playback(
        self, device: DeviceInfo, ring: SampleRing, *, rate: int, samples_per_frame: int
    ) -> DeviceStream:
        name = self._check(device, DeviceKind.PLAYBACK)
        loop, history = self._loops[name], self._history[name]

        def move(count: int) -> None:
            samples = ring.read(count)
            loop.write(samples)
            history.write(samples)
            self.played[name] += len(samples)

        return _ClocklessStream(device, move)


class WavFileBackend(_VirtualBackend):
    """Capture devices read WAV files, playback devices record into WAV files.

    ``inputs`` and ``outputs`` map device names to file paths.  A file is
    opened when its device is first opened and stays open (a reopened
    capture device continues where it was, a reopened playback device keeps
    appending) until :meth:`close`.  Capture files may have any rate and
    channel count (converted by :class:`~sansip.audio.wavfile.WavPlayer`);
    at their end capture is silence unless ``loop`` is set.  Playback files
    are 16-bit mono at the pipeline rate.
    """

    name = "wavfile"

    def __init__(
        self,
        inputs: Mapping[str, str | Path] | None = None,
        outputs: Mapping[str, str | Path] | None = None,
        *,
        loop: bool = False,
    ) -> None:
        self._inputs = dict(inputs or {})
        self._outputs = dict(outputs or {})
        if not self._inputs and not self._outputs:
            raise LocalProtocolError("a WAV file backend needs at least one input or output")
        super().__init__(list(self._inputs), list(self._outputs))
        self.loop = loop
        self.players: dict[str, WavPlayer] = {}
        self.recorders: dict[str, WavRecorder] = {}
        self._leftover: dict[str, AudioFrame] = {}

    def open_capture(
        self, device: DeviceInfo, ring: SampleRing, *, rate: int, samples_per_frame: int
    ) -> DeviceStream:
        name = self._check(device, DeviceKind.CAPTURE)
        player = self.players.get(name)
        if player is None:
            player = WavPlayer(self._inputs[name], rate, loop=self.loop)
            self.players[name] = player
            self._leftover[name] = silence(0)
        elif player.rate != rate:
            raise LocalProtocolError(f"{name!r} was opened at {player.rate} Hz, not {rate} Hz")

        def move(count: int) -> None:
            pending = self._leftover[name]
            parts = [pending]
            have = len(pending)
            while have < count:
                frame = player.read()
                parts.append(frame)
                have += len(frame)
            joined = np.concatenate(parts)
            ring.write(joined[:count])
            self._leftover[name] = joined[count:]

        return _ClocklessStream(device, move)

    def open_playback(
        self, device: DeviceInfo, ring: SampleRing, *, rate: int, samples_per_frame: int
    ) -> DeviceStream:
        name = self._check(device, DeviceKind.PLAYBACK)
        recorder = self.recorders.get(name)
        if recorder is None:
            recorder = WavRecorder(FileSink(self._outputs[name]), rate)
            self.recorders[name] = recorder
        elif recorder.rate != rate:
            raise LocalProtocolError(f"{name!r} was opened at {recorder.rate} Hz, not {rate} Hz")
        return _ClocklessStream(device, lambda count: recorder.write(ring.read(count)))

    def close(self) -> None:
        """Close every file (the recordings are complete afterwards)."""
        for player in self.players.values():
            player.close()
        for recorder in self.recorders.values():
            recorder.close()
        self.players.clear()
        self.recorders.clear()
