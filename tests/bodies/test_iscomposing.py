"""RFC 3994 isComposing indications (application/im-iscomposing+xml)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sansip.bodies import (
    BodyError,
    IsComposing,
    build_iscomposing,
    parse_body,
    parse_iscomposing,
)
from sansip.errors import LocalProtocolError
from tests.bodies.strategies import FUZZ, ROUND_TRIP, junk, mutated, xml_text

RFC_ACTIVE = b"""<?xml version="1.0" encoding="UTF-8"?>
<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="urn:ietf:params:xml:ns:im-composing iscomposing.xsd">
  <state>active</state>
  <contenttype>text/plain</contenttype>
  <refresh>90</refresh>
</isComposing>
"""

RFC_IDLE = b"""<?xml version="1.0" encoding="UTF-8"?>
<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="urn:ietf:params:xml:ns:im-composing iscomposing.xsd">
  <state>idle</state>
  <lastactive>2003-01-27T10:43:00Z</lastactive>
  <contenttype>audio</contenttype>
</isComposing>
"""

# A softphone's compact indication, with an offset time and fractions.
SOFTPHONE = (
    b'<?xml version="1.0" encoding="UTF-8"?><isComposing '
    b'xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state> Idle </state>'
    b"<lastactive>2024-03-05T08:15:30.250+01:00</lastactive></isComposing>"
)


def test_rfc_active() -> None:
    indication = parse_iscomposing(RFC_ACTIVE)
    assert indication == IsComposing("active", None, "text/plain", 90)
    assert indication.active
    assert parse_body("application/im-iscomposing+xml", RFC_ACTIVE) == indication


def test_rfc_idle() -> None:
    indication = parse_iscomposing(RFC_IDLE)
    assert indication == IsComposing("idle", datetime(2003, 1, 27, 10, 43, tzinfo=UTC), "audio")
    assert not indication.active


def test_softphone_idle() -> None:
    indication = parse_iscomposing(SOFTPHONE)
    assert indication.state == "idle"
    assert indication.lastactive == datetime(
        2024, 3, 5, 8, 15, 30, 250000, tzinfo=timezone(timedelta(hours=1))
    )


def test_build() -> None:
    body = build_iscomposing(IsComposing("active", contenttype="text/plain", refresh=60))
    assert body == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing">\n'
        b"  <state>active</state>\n  <contenttype>text/plain</contenttype>\n"
        b"  <refresh>60</refresh>\n</isComposing>\n"
    )
    idle = IsComposing("idle", datetime(2003, 1, 27, 10, 43, tzinfo=UTC))
    assert b"<lastactive>2003-01-27T10:43:00+00:00</lastactive>" in build_iscomposing(idle)


@pytest.mark.parametrize(
    "indication",
    [
        IsComposing("typing"),
        IsComposing("Active"),
        IsComposing("active", refresh=0),
        IsComposing("active", refresh=2**31),
        IsComposing("active", contenttype="text/\x00"),
    ],
)
def test_builder_refusals(indication: IsComposing) -> None:
    with pytest.raises(LocalProtocolError):
        build_iscomposing(indication)


_ROOT = b'<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing">'
MALFORMED = {
    "wrong root": b'<composing xmlns="urn:ietf:params:xml:ns:im-iscomposing"/>',
    "no namespace": b"<isComposing><state>active</state></isComposing>",
    "no state": _ROOT + b"</isComposing>",
    "bad state": _ROOT + b"<state>typing</state></isComposing>",
    "bad refresh": _ROOT + b"<state>active</state><refresh>soon</refresh></isComposing>",
    "zero refresh": _ROOT + b"<state>active</state><refresh>0</refresh></isComposing>",
    "huge refresh": _ROOT + b"<state>active</state><refresh>99999999999</refresh></isComposing>",
    "bad lastactive": _ROOT + b"<state>idle</state><lastactive>yesterday</lastactive>"
    b"</isComposing>",
    "not XML": b"active",
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_indications_raise_body_error(body: bytes) -> None:
    with pytest.raises(BodyError):
        parse_iscomposing(body)


# Fixed offsets: a zone's ambiguous hour never compares equal across zones.
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
indications = st.builds(
    IsComposing,
    st.sampled_from(["active", "idle"]),
    st.none() | st.datetimes(timezones=st.none() | offsets),
    st.none() | xml_text(),
    st.none() | st.integers(1, 2**31 - 1),
)


@ROUND_TRIP
@given(indications)
def test_build_then_parse_round_trips(indication: IsComposing) -> None:
    parsed = parse_iscomposing(build_iscomposing(indication))
    assert parsed == indication
    if indication.lastactive is not None:
        assert parsed.lastactive is not None
        assert parsed.lastactive.utcoffset() == indication.lastactive.utcoffset()


@FUZZ
@given(junk)
def test_arbitrary_bytes_raise_only_body_error(data: bytes) -> None:
    with contextlib.suppress(BodyError):
        parse_iscomposing(data)


@FUZZ
@given(mutated(st.sampled_from([RFC_ACTIVE, RFC_IDLE, SOFTPHONE])))
def test_mutated_indications_raise_only_body_error(data: bytes) -> None:
    with contextlib.suppress(BodyError):
        parse_iscomposing(data)
