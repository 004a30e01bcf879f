"""A headless baresip on loopback for media interop tests.

:func:`start_baresip` writes a config directory (``config``, ``accounts``,
``contacts``), generates the WAV tone baresip sends, and starts ``baresip``
bound to 127.0.0.1.  The account auto-answers calls to
``sip:baresip@127.0.0.1:PORT``.  No audio device is used: the source is the
``aufile`` module playing the WAV, the player is ``aubridge`` (discarded),
and the ``sndfile`` audio filter writes each call's sent (``-enc``) and
received, decoded (``-dec``) audio as WAV files into ``record_dir``.

:class:`BaresipControl` talks to the ``ctrl_tcp`` module: netstring-framed
JSON commands (``dial``, ``hangup``, ...) and the events baresip pushes to
every connected client (``CALL_ESTABLISHED``, ``CALL_DTMF_START``, ...).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import threading
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.interop.peers import free_udp_port, require, stop, wait_listening, wait_tcp

#: Where distributions put baresip's loadable modules.
BARESIP_MODULE_DIRS = (
    "/usr/lib/baresip/modules",
    "/usr/local/lib/baresip/modules",
    "/usr/lib/x86_64-linux-gnu/baresip/modules",
    "/usr/lib/aarch64-linux-gnu/baresip/modules",
)

#: Each codec: the module providing it and its name/rate/channels in baresip's spelling.
CODECS = {
    "pcmu": ("g711", "PCMU/8000/1"),
    "pcma": ("g711", "PCMA/8000/1"),
    "g722": ("g722", "G722/16000/1"),
    "opus": ("opus", "opus/48000/2"),
}

#: The modules every test instance loads (besides the codec modules).
BASE_MODULES = ("aufile", "aubridge", "sndfile")

#: The account's ``mediaenc`` values baresip's ``srtp`` module registers (SDES,
#: RFC 4568): ``srtp`` offers RTP/AVP with keys and takes plain RTP too,
#: ``srtp-mand`` offers RTP/SAVP and refuses a plain offer (488),
#: ``srtp-mandf`` likewise with RTP/SAVPF.
SRTP_MEDIAENC = ("srtp", "srtp-mand", "srtp-mandf")

#: The account's ``mediaenc`` value baresip's ``dtls_srtp`` module registers
#: (DTLS-SRTP, RFC 5763/5764).  In baresip 1.0 it is the only one (no
#: ``dtls_srtpf``): it offers UDP/TLS/RTP/SAVPF with a session-level
#: ``a=fingerprint`` and ``a=setup``, and makes its own self-signed RSA
#: certificate at load time (no config option).
DTLS_MEDIAENC = ("dtls_srtp",)

#: The module each ``mediaenc`` value needs.
MEDIAENC_MODULES = {**dict.fromkeys(SRTP_MEDIAENC, "srtp"), "dtls_srtp": "dtls_srtp"}


def module_dir() -> Path:
    """Baresip's module directory (``BARESIP_MODULES`` overrides); skips/fails if absent."""
    configured = os.environ.get("BARESIP_MODULES")
    candidates = (configured,) if configured else BARESIP_MODULE_DIRS
    for directory in candidates:
        if directory and Path(directory, "g711.so").is_file():
            return Path(directory)
    message = "baresip modules not found (apt-get install baresip-core, or set BARESIP_MODULES)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def require_module(modules: Path, name: str, package: str = "baresip-core") -> None:
    """Skip (fail in CI) unless baresip's module ``name`` is in ``modules``."""
    if (modules / f"{name}.so").is_file():
        return
    message = f"baresip module {name}.so missing in {modules} (apt-get install {package})"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def write_tone_wav(path: Path, frequency: float, seconds: float, rate: int = 8000) -> Path:
    """A 16-bit mono sine WAV at ``rate`` Hz, about -12 dBFS."""
    t = np.arange(round(seconds * rate)) / rate
    samples = np.rint(8000.0 * np.sin(2.0 * np.pi * frequency * t)).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


def render_config(
    *,
    sip_port: int,
    ctrl_port: int,
    modules: Path,
    source_wav: Path,
    source_rate: int,
    record_dir: Path,
    codecs: tuple[str, ...],
    extra_modules: tuple[str, ...] = (),
) -> str:
    """The text of baresip's ``config`` file for one loopback instance
    (loading ``extra_modules`` too, e.g. ``srtp``)."""
    loaded = [*BASE_MODULES, *dict.fromkeys(CODECS[c][0] for c in codecs), *extra_modules]
    lines = [
        ("poll_method", "epoll"),
        ("sip_listen", f"127.0.0.1:{sip_port}"),
        ("dns_server", "127.0.0.1:53"),
        ("net_interface", "127.0.0.1"),
        ("call_local_timeout", "120"),
        ("call_max_calls", "4"),
        ("audio_player", "aubridge,discard"),
        ("audio_source", f"aufile,{source_wav}"),
        ("audio_alert", "aubridge,discard"),
        ("ausrc_srate", str(source_rate)),
        ("ausrc_channels", "1"),
        ("auplay_srate", str(source_rate)),
        ("auplay_channels", "1"),
        ("audio_buffer", "20-160"),
        ("rtp_ports", "20000-29999"),
        ("rtp_timeout", "0"),
        ("rtcp_mux", "no"),
        ("jitter_buffer_delay", "1-10"),
        ("snd_path", str(record_dir)),
        ("module_path", str(modules)),
        *(("module", f"{name}.so") for name in loaded),
        ("module_tmp", "account.so"),
        ("module_app", "menu.so"),
        ("module_app", "ctrl_tcp.so"),
        ("ctrl_tcp_listen", f"127.0.0.1:{ctrl_port}"),
    ]
    return "".join(f"{key}\t\t{value}\n" for key, value in lines)


@dataclass
class Baresip:
    """A running baresip: its ports, files and process."""

    proc: subprocess.Popen[bytes]
    sip_port: int
    ctrl_port: int
    directory: Path
    record_dir: Path
    log: Path
    #: The ctrl_tcp connection opened at start, so it has every event.
    ctrl: BaresipControl | None = None

    @property
    def uri(self) -> str:
        """The SIP URI its account answers."""
        return f"sip:baresip@127.0.0.1:{self.sip_port}"

    @property
    def control(self) -> BaresipControl:
        """The ctrl_tcp connection (commands, and the events since start)."""
        assert self.ctrl is not None, "baresip was not started by start_baresip()"
        return self.ctrl

    def recordings(self, kind: str = "dec") -> list[Path]:
        """The WAV files sndfile wrote: ``dec`` = received audio, ``enc`` = sent audio."""
        return sorted(self.record_dir.glob(f"dump-*-{kind}.wav"))

    def log_text(self) -> str:
        """What baresip printed so far, without its once-per-tick status lines."""
        lines = self.log.read_text(errors="replace").replace("\r", "\n").splitlines()
        return "\n".join(x for x in lines if x.strip() and not x.startswith("[0:"))

    def decoders(self) -> list[str]:
        """The audio decoders baresip set up, in order (e.g. ``["PCMU 8000Hz 1ch"]``)."""
        marker = "audio: Set audio decoder: "
        return [x.split(marker, 1)[1].strip() for x in self.log_text().splitlines() if marker in x]

    def stop(self) -> None:
        """Close the control connections and end the process."""
        stop(self.proc)
        if self.ctrl is not None:
            self.ctrl.close()


def start_baresip(
    directory: Path,
    *,
    tone_hz: float = 440.0,
    wav_rate: int = 16000,
    codecs: tuple[str, ...] = ("pcmu", "pcma", "g722", "opus"),
    answer: str = "auto",
    mediaenc: str | None = None,
    extra_args: tuple[str, ...] = (),
) -> Baresip:
    """Start baresip in ``directory`` with an auto-answering account on a free port.

    It sends a ``tone_hz`` sine read from a ``wav_rate`` WAV, offers
    ``codecs`` in that order and records every call into
    ``directory/recordings``.  ``extra_args`` go to the command line (``-s``
    traces SIP, ``-v`` adds debug output).  ``mediaenc`` (one of
    :data:`SRTP_MEDIAENC`) loads the ``srtp`` module and sets the account's
    media encryption (``dtls_srtp``, :data:`DTLS_MEDIAENC`, loads the
    ``dtls_srtp`` module); without it the calls are plain RTP.  Skips (fails in
    CI) when baresip or a module it needs is missing.
    """
    binary = require("baresip", "baresip baresip-core")
    modules = module_dir()
    for name in (*BASE_MODULES, "account", "menu", "ctrl_tcp"):
        if not (modules / f"{name}.so").is_file():
            pytest.fail(f"baresip module {name}.so missing in {modules}")
    extra_modules: tuple[str, ...] = ()
    if mediaenc is not None:
        assert mediaenc in MEDIAENC_MODULES, f"mediaenc {mediaenc!r} is none of {MEDIAENC_MODULES}"
        require_module(modules, MEDIAENC_MODULES[mediaenc])
        extra_modules = (MEDIAENC_MODULES[mediaenc],)
    directory.mkdir(parents=True, exist_ok=True)
    conf, record_dir = directory / "conf", directory / "recordings"
    conf.mkdir(exist_ok=True)
    record_dir.mkdir(exist_ok=True)
    wav = write_tone_wav(directory / "source.wav", tone_hz, 120.0, wav_rate)
    sip_port, ctrl_port = free_udp_port(), free_udp_port()
    (conf / "config").write_text(
        render_config(sip_port=sip_port, ctrl_port=ctrl_port, modules=modules,
                      source_wav=wav, source_rate=wav_rate, record_dir=record_dir, codecs=codecs,
                      extra_modules=extra_modules)
    )  # fmt: skip
    account = (
        f"<sip:baresip@127.0.0.1:{sip_port}>;regint=0;answermode={answer}"
        f";audio_codecs={','.join(CODECS[c][1] for c in codecs)}"
        + (f";mediaenc={mediaenc}" if mediaenc is not None else "")
    )
    (conf / "accounts").write_text(account + "\n")
    (conf / "contacts").write_text("")
    log = directory / "baresip.log"
    out = log.open("wb")
    proc = subprocess.Popen(
        [binary, "-4", "-f", str(conf), *extra_args],
        stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=directory,
    )  # fmt: skip
    out.close()
    instance = Baresip(proc, sip_port, ctrl_port, directory, record_dir, log)
    try:
        wait_listening(sip_port, proc)
        wait_tcp(ctrl_port, proc)
        instance.ctrl = BaresipControl(ctrl_port)
    except (AssertionError, OSError) as error:
        instance.stop()
        raise AssertionError(f"baresip did not start: {error}\n{instance.log_text()}") from None
    return instance


def _netstring(payload: bytes) -> bytes:
    return b"%d:%s," % (len(payload), payload)


class BaresipControl:
    """A ctrl_tcp client: commands with their responses, and the pushed events.

    A reader thread splits the netstring stream; responses are matched by
    ``token``, events are kept in :attr:`events` in arrival order.
    """

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self._sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self._sock.settimeout(None)
        self._changed = threading.Condition()
        self._responses: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._closed = False
        self._next_token = 0
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    def _read_loop(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = self._sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buffer += chunk
            while b":" in buffer:
                length_text, _, rest = buffer.partition(b":")
                length = int(length_text)
                if len(rest) < length + 1:
                    break
                payload, buffer = rest[:length], rest[length + 1 :]
                self._dispatch(json.loads(payload))
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _dispatch(self, message: dict[str, Any]) -> None:
        with self._changed:
            if message.get("response"):
                self._responses[str(message.get("token", ""))] = message
            elif message.get("event"):
                self.events.append(message)
            self._changed.notify_all()

    def command(self, command: str, params: str = "", timeout: float = 10.0) -> dict[str, Any]:
        """Run one command and return its response object (``ok``, ``data``)."""
        with self._changed:
            self._next_token += 1
            token = str(self._next_token)
        request = {"command": command, "params": params, "token": token}
        self._sock.sendall(_netstring(json.dumps(request).encode()))
        with self._changed:
            if not self._changed.wait_for(
                lambda: token in self._responses or self._closed, timeout
            ):
                raise AssertionError(f"baresip did not answer {command!r} in {timeout} s")
            if token not in self._responses:
                raise AssertionError(f"baresip closed ctrl_tcp during {command!r}")
            return self._responses.pop(token)

    def wait_event(self, event_type: str, timeout: float = 10.0) -> dict[str, Any]:
        """The first event of ``event_type`` (waiting up to ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout

        def found() -> dict[str, Any] | None:
            return next((e for e in self.events if e.get("type") == event_type), None)

        with self._changed:
            while (event := found()) is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    seen = [e.get("type") for e in self.events]
                    raise AssertionError(f"no {event_type} event from baresip; saw {seen}")
                self._changed.wait(remaining)
            return event

    def event_types(self) -> list[str]:
        """The types of the events received so far, in order."""
        with self._changed:
            return [str(e.get("type")) for e in self.events]

    def close(self) -> None:
        """Close the connection."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._reader.join(5)


__all__ = [
    "DTLS_MEDIAENC",
    "MEDIAENC_MODULES",
    "SRTP_MEDIAENC",
    "Baresip",
    "BaresipControl",
    "module_dir",
    "render_config",
    "require_module",
    "start_baresip",
    "write_tone_wav",
]
