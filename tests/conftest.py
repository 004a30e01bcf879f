"""Shared fixtures: where the conformance data lives.

The RFC torture messages live in the repository, under ``conformance/data``
(see its README for where they came from).  ``SANSIP_CONFORMANCE_DATA`` names
another directory with the same layout to use instead.  Outside CI a missing
directory skips those tests with a message; in CI (``CI=true``) it fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# CI runs the same examples every time (a failure there must be reproducible);
# elsewhere they are drawn at random, and `make soak` draws many more.
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: ``make soak`` multiplies every property test's example count by this.
EXAMPLE_SCALE = int(os.environ.get("SANSIP_EXAMPLE_SCALE", "1"))


def examples(count: int) -> int:
    """The number of Hypothesis examples a property runs (``count`` times the soak scale)."""
    return count * EXAMPLE_SCALE


settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")

REPO = Path(__file__).resolve().parent.parent

#: The RFC 4475/5118 torture messages kept in the repository.
CONFORMANCE_DATA = REPO / "conformance" / "data"


def _conformance_data_path() -> Path:
    configured = os.environ.get("SANSIP_CONFORMANCE_DATA")
    return Path(configured) if configured else CONFORMANCE_DATA


def conformance_data_dir() -> Path | None:
    """The conformance data directory, or None if it cannot be found."""
    path = _conformance_data_path()
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def conformance_data() -> Path:
    """Path of the conformance data; skip (fail in CI) when it is absent."""
    path = conformance_data_dir()
    if path is None:
        message = (
            f"conformance data not found at {_conformance_data_path()}: restore "
            "conformance/data or set SANSIP_CONFORMANCE_DATA to a directory holding "
            "rfc4475/ and rfc5118/"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path
