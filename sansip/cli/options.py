"""Command-line values shared by the ``sansip`` commands."""

from __future__ import annotations

from sansip.transport.types import Address

__all__ = ["parse_hostport", "parse_params"]


def parse_hostport(text: str, default_port: int) -> Address:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` as an address."""
    host, sep, port = text.rpartition(":")
    if not sep or "]" in port or not port.isdigit():
        return text.strip("[]"), default_port
    return host.strip("[]"), int(port)


def parse_params(pairs: list[str]) -> dict[str, str]:
    """``-p name=value`` arguments as a dict (names lower-cased)."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"sansip: -p wants name=value, got {pair!r}")
        out[name.strip().lower()] = value.strip()
    return out
