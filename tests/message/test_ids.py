"""Tags and Call-IDs: drawn only from the injected random source."""

from __future__ import annotations

import random

import pytest

from sansip.message import LocalProtocolError
from sansip.message.fields import parse_call_id
from sansip.message.ids import new_call_id, new_tag


def test_tags_are_deterministic_for_a_seed() -> None:
    first = [new_tag(random.Random(7)) for _ in range(2)]
    assert first[0] == first[1]
    rng = random.Random(7)
    tags = [new_tag(rng) for _ in range(100)]
    assert tags[0] == first[0]
    assert len(set(tags)) == 100
    assert all(len(tag) == 16 and int(tag, 16) >= 0 for tag in tags)


def test_call_ids_are_deterministic_and_valid() -> None:
    a = new_call_id(random.Random(42), "127.0.0.1")
    b = new_call_id(random.Random(42), "127.0.0.1")
    assert a == b
    local, _, host = a.partition("@")
    assert host == "127.0.0.1"
    assert len(local) == 32
    assert parse_call_id(a) == a
    assert "@" not in new_call_id(random.Random(42))
    assert new_call_id(random.Random(1), "[::1]").endswith("@[::1]")
    assert new_call_id(random.Random(1)) != new_call_id(random.Random(2))


def test_a_host_that_cannot_appear_in_a_call_id_is_refused() -> None:
    with pytest.raises(LocalProtocolError):
        new_call_id(random.Random(1), "bad host")
