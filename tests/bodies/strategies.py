"""Hypothesis settings and strategies shared by the body tests."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.conftest import examples

ROUND_TRIP = settings(max_examples=examples(100), deadline=None)
FUZZ = settings(
    max_examples=examples(300),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

XML_SPACE = " \t\r\n"

# Characters XML 1.0 can carry (no C0 controls but TAB/CR/LF, no surrogates,
# no U+FFFE/U+FFFF), XML-escaped or not.
XML_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\ufffe\uffff").filter(
    lambda c: c >= " " or c in "\t\r\n"
)


def xml_text(min_size: int = 0, max_size: int = 30) -> st.SearchStrategy[str]:
    """Element text as the parsers return it: no surrounding XML white space."""
    return (
        st.text(XML_CHARS, max_size=max_size)
        .map(lambda s: s.strip(XML_SPACE))
        .filter(lambda s: len(s) >= min_size)
    )


def attribute(max_size: int = 30) -> st.SearchStrategy[str]:
    """Attribute values: any XML text, kept exactly."""
    return st.text(XML_CHARS, max_size=max_size)


uris = st.from_regex(r"sips?:[a-z0-9.]{1,10}@[a-z0-9.\-]{1,15}(:[0-9]{1,5})?", fullmatch=True)

# One-line text (header values, reason phrases): no control characters but
# TAB, no surrounding white space.
line_text = st.text(
    st.characters(blacklist_categories=("Cs",)).filter(lambda c: c >= " " and c != "\x7f"),
    max_size=30,
).map(lambda s: s.strip(" \t"))
TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~"
tokens = st.text(TOKEN_CHARS, min_size=1, max_size=15)

# Arbitrary bytes, and bytes that look like the bodies, for the fuzz tests.
junk = st.binary(max_size=300)


@st.composite
def mutated(draw: st.DrawFn, valid: st.SearchStrategy[bytes]) -> bytes:
    """A valid body with a few bytes replaced, inserted or deleted."""
    data = bytearray(draw(valid))
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["replace", "insert", "delete"]))
        byte = draw(st.integers(0, 255))
        if action == "insert" or pos == len(data):
            data.insert(pos, byte)
        elif action == "replace":
            data[pos] = byte
        else:
            del data[pos]
    return bytes(data)
