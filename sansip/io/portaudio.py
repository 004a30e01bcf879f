"""The PortAudio backend of the audio devices: sounddevice is imported
only when a real device is used, and a missing PortAudio library gives an
error naming what to install (see :data:`~sansip.io.audio_backends.PORTAUDIO_HINT`)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sansip.audio.frames import AudioFrame
from sansip.audio.wavfile import LinearResampler
from sansip.io.audio_backends import (
    PORTAUDIO_HINT,
    AudioBackendUnavailable,
    AudioDeviceError,
    DeviceInfo,
    DeviceKind,
    DeviceNotFound,
    DeviceStream,
    SampleRing,
)

__all__ = ["SoundDeviceBackend", "load_sounddevice"]


def load_sounddevice() -> ModuleType:
    """Import ``sounddevice``, or raise :class:`AudioBackendUnavailable` naming what to install."""
    try:
        return importlib.import_module("sounddevice")
    except ImportError as error:
        raise AudioBackendUnavailable(
            f"the sounddevice module is missing: {PORTAUDIO_HINT}"
        ) from error
    except OSError as error:  # sounddevice raises this when libportaudio cannot be loaded
        raise AudioBackendUnavailable(
            f"the PortAudio library cannot be loaded ({error}): {PORTAUDIO_HINT}"
        ) from error


def _to_int16(samples: NDArray[np.float64]) -> AudioFrame:
    out: AudioFrame = np.clip(np.rint(samples), -32768, 32767).astype(np.int16)
    return out


class _PortAudioStream:
    """One PortAudio stream moving samples between a device and a ring in its callback thread.

    When the device runs at another rate than the pipeline, the callback
    converts with a streaming resampler.  Errors inside the callback are
    counted in ``callback_errors`` (the device then gets silence); PortAudio's
    own over/underflow flags are counted in ``device_xruns``.
    """

    def __init__(
        self,
        sd: Any,
        device: DeviceInfo,
        ring: SampleRing,
        *,
        capture: bool,
        rate: int,
        device_rate: int,
        channels: int,
        samples_per_frame: int,
        latency: str | float,
    ) -> None:
        self.device = device
        self.device_rate = device_rate
        self.channels = channels
        self.callback_errors = 0
        self.device_xruns = 0
        self.callbacks = 0
        self._ring = ring
        self._samples_per_frame = samples_per_frame
        self._resampler: LinearResampler | None = None
        if device_rate != rate:
            pair = (device_rate, rate) if capture else (rate, device_rate)
            self._resampler = LinearResampler(*pair)
        self._pending = np.zeros(0)
        blocksize = max(1, round(samples_per_frame * device_rate / rate))
        kind = sd.InputStream if capture else sd.OutputStream
        callback = self._capture_callback if capture else self._playback_callback
        self._stream: Any = kind(
            device=device.key,
            samplerate=device_rate,
            channels=channels,
            dtype="int16",
            blocksize=blocksize,
            latency=latency,
            callback=callback,
        )
        self._stream.start()

    def _capture_callback(self, indata: Any, frames: int, time: Any, status: Any) -> None:
        self.callbacks += 1
        if status:
            self.device_xruns += 1
        try:
            block = np.asarray(indata)
            if self.channels == 1 and self._resampler is None:
                self._ring.write(block[:, 0])
            else:
                samples = block.astype(np.float64).mean(axis=1)
                if self._resampler is not None:
                    samples = self._resampler.process(samples)
                self._ring.write(_to_int16(samples))
        except Exception:  # a callback must never raise into PortAudio
            self.callback_errors += 1

    def _playback_callback(self, outdata: Any, frames: int, time: Any, status: Any) -> None:
        self.callbacks += 1
        if status:
            self.device_xruns += 1
        try:
            if self._resampler is None:
                samples = self._ring.read(frames)
            else:
                while len(self._pending) < frames:
                    chunk = self._ring.read(self._samples_per_frame).astype(np.float64)
                    converted = self._resampler.process(chunk)
                    self._pending = np.concatenate((self._pending, converted))
                samples = _to_int16(self._pending[:frames])
                self._pending = self._pending[frames:]
            outdata[:] = samples.reshape(-1, 1)
        except Exception:  # a callback must never raise into PortAudio
            self.callback_errors += 1
            outdata.fill(0)

    def pump(self, samples: int) -> None:
        """Nothing to do: the device's clock drives the callback."""

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
            finally:
                stream.close()


class SoundDeviceBackend:
    """Real devices through PortAudio (the ``sounddevice`` module).

    Streams are mono int16 at the pipeline rate when the device accepts it;
    otherwise stereo and/or the device's default rate (or ``device_rate``
    when given) with conversion in the callback.  ``latency`` is passed to
    PortAudio (``"low"``, ``"high"`` or seconds).  PortAudio enumerates
    devices when it is loaded: devices plugged in later appear after a new
    process starts.
    """

    name = "sounddevice"

    def __init__(
        self,
        *,
        latency: str | float = "low",
        device_rate: int | None = None,
        loader: Callable[[], ModuleType] = load_sounddevice,
    ) -> None:
        self.latency = latency
        self.device_rate = device_rate
        self._loader = loader
        self._sd: Any = None

    @property
    def module(self) -> Any:
        """The ``sounddevice`` module, imported on first use."""
        if self._sd is None:
            self._sd = self._loader()
        return self._sd

    def devices(self) -> list[DeviceInfo]:
        sd = self.module
        found = []
        for index, entry in enumerate(sd.query_devices()):
            try:
                host = str(sd.query_hostapis(entry["hostapi"])["name"])
            except (KeyError, IndexError, TypeError, ValueError, sd.PortAudioError):
                host = ""
            found.append(
                DeviceInfo(
                    name=str(entry["name"]),
                    key=index,
                    input_channels=int(entry["max_input_channels"]),
                    output_channels=int(entry["max_output_channels"]),
                    default_rate=float(entry["default_samplerate"]),
                    host_api=host,
                )
            )
        return found

    def default_device(self, kind: DeviceKind) -> DeviceInfo | None:
        defaults = self.module.default.device
        index = defaults[0] if kind is DeviceKind.CAPTURE else defaults[1]
        devices = self.devices()
        if isinstance(index, int) and 0 <= index < len(devices):
            return devices[index]
        return None

    def open_capture(
        self, device: DeviceInfo, ring: SampleRing, *, rate: int, samples_per_frame: int
    ) -> DeviceStream:
        return self._open(device, ring, True, rate, samples_per_frame)

    def open_playback(
        self, device: DeviceInfo, ring: SampleRing, *, rate: int, samples_per_frame: int
    ) -> DeviceStream:
        return self._open(device, ring, False, rate, samples_per_frame)

    def close(self) -> None:
        """Nothing to release (PortAudio stays loaded for the process)."""

    def _open(
        self, device: DeviceInfo, ring: SampleRing, capture: bool, rate: int, spf: int
    ) -> _PortAudioStream:
        sd = self.module
        direction = "capture" if capture else "playback"
        if not device.supports(DeviceKind.CAPTURE if capture else DeviceKind.PLAYBACK):
            raise DeviceNotFound(f"{device.name!r} is not a {direction} device")
        check = sd.check_input_settings if capture else sd.check_output_settings
        rates = [self.device_rate] if self.device_rate else [rate, round(device.default_rate)]
        problems = []
        for device_rate in dict.fromkeys(r for r in rates if r > 0):
            for channels in (1, 2):
                try:
                    check(
                        device=device.key, channels=channels, dtype="int16", samplerate=device_rate
                    )
                    return _PortAudioStream(
                        sd,
                        device,
                        ring,
                        capture=capture,
                        rate=rate,
                        device_rate=device_rate,
                        channels=channels,
                        samples_per_frame=spf,
                        latency=self.latency,
                    )
                except (sd.PortAudioError, ValueError) as error:
                    problems.append(f"{device_rate} Hz x{channels}: {error}")
        raise AudioDeviceError(f"cannot open {direction} device {device.name!r}: {problems}")
