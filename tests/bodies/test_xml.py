"""The safe XML parser and the writer under the XML bodies."""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sansip.bodies import BodyError
from sansip.bodies.xml import (
    children,
    first_child,
    local_name,
    namespace,
    parse_xml,
    serialize_xml,
    text_of,
)
from sansip.errors import LocalProtocolError, RemoteProtocolError
from tests.bodies.strategies import FUZZ, ROUND_TRIP, XML_CHARS, attribute, junk

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@b"><note>&lol9;</note></presence>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE presence [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@b"><note>&xxe;</note></presence>
"""

REFUSED = {
    "billion laughs": BILLION_LAUGHS,
    "external entity": EXTERNAL_ENTITY,
    "external DTD": b'<!DOCTYPE a SYSTEM "http://example.com/a.dtd"><a/>',
    "parameter entity": b'<!DOCTYPE a [<!ENTITY % p SYSTEM "http://example.com/p">%p;]><a/>',
    "bare DOCTYPE": b"<!DOCTYPE a><a/>",
    "element declaration": b"<!DOCTYPE a [<!ELEMENT a ANY>]><a/>",
    "attribute default": b'<!DOCTYPE a [<!ATTLIST a b CDATA "x">]><a/>',
    "unparsed entity": b'<!DOCTYPE a [<!NOTATION n SYSTEM "x"><!ENTITY e SYSTEM "y" NDATA n>]><a/>',
    "undefined entity": b"<a>&nope;</a>",
    "unbound prefix": b"<p:a/>",
    "two roots": b"<a/><b/>",
    "unclosed": b"<a><b></a>",
    "empty": b"",
    "text only": b"hello",
    "bad UTF-8": b"<a>\xff</a>",
    "unknown encoding": b'<?xml version="1.0" encoding="x-nope"?><a/>',
    "multi-byte codec": b'<?xml version="1.0" encoding="shift_jis"?><a/>',
    "text codec": b'<?xml version="1.0" encoding="rot13"?><a/>',
    "control character": b"<a>\x01</a>",
}


@pytest.mark.parametrize("body", REFUSED.values(), ids=REFUSED.keys())
def test_dangerous_or_malformed_xml_is_refused(body: bytes) -> None:
    with pytest.raises(BodyError) as raised:
        parse_xml(body)
    assert raised.value.status == 400
    assert raised.value.reason.isascii() and "\n" not in raised.value.reason


def test_body_error_is_a_remote_protocol_error() -> None:
    with pytest.raises(RemoteProtocolError):
        parse_xml(BILLION_LAUGHS)


def test_the_entity_expansion_never_happens() -> None:
    """Refused at the DOCTYPE, before any entity is declared."""
    with pytest.raises(BodyError, match="DOCTYPE"):
        parse_xml(BILLION_LAUGHS, max_bytes=1 << 20)


def test_namespaces_come_out_in_clark_notation() -> None:
    root = parse_xml(
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:rpid="urn:r" entity="sip:a@b">'
        b'<rpid:mood rpid:id="m">happy</rpid:mood><tuple id="t"/></presence>'
    )
    assert root.tag == "{urn:ietf:params:xml:ns:pidf}presence"
    assert root.get("entity") == "sip:a@b"  # unprefixed attributes have no namespace
    mood, tuple_ = list(root)
    assert mood.tag == "{urn:r}mood" and mood.get("{urn:r}id") == "m"
    assert mood.text == "happy"
    assert tuple_.tag == "{urn:ietf:params:xml:ns:pidf}tuple"
    assert local_name(mood.tag) == "mood" and namespace(mood.tag) == "urn:r"
    assert local_name("plain") == "plain" and namespace("plain") == ""


def test_text_tails_references_comments_and_processing_instructions() -> None:
    root = parse_xml(
        b"<a><!-- comment --><?app ignored?>one &amp; &lt;two&gt; &#x41;&#66;"
        b"<b>in b</b>after b<![CDATA[<raw>]]></a>"
    )
    assert root.text == "one & <two> AB"
    (b,) = list(root)
    assert b.text == "in b" and b.tail == "after b<raw>"
    assert text_of(root) == "one & <two> ABin bafter b<raw>"
    assert text_of(None) is None


def test_compact_documents_put_text_in_the_right_element() -> None:
    root = parse_xml(b"<r><a>1</a><b>2</b><c><d>3</d>4</c>5<e/><f>6</f></r>")
    a, b, c, e, f = list(root)
    assert (a.text, a.tail, b.text, b.tail) == ("1", None, "2", None)
    assert (c.text, c[0].text, c[0].tail, c.tail) == (None, "3", "4", "5")
    assert (e.text, e.tail, f.text, f.tail) == (None, None, "6", None)


def test_encodings() -> None:
    utf16 = '<?xml version="1.0" encoding="UTF-16"?><a>é€</a>'.encode("utf-16")
    assert parse_xml(utf16).text == "é€"
    latin1 = '<?xml version="1.0" encoding="ISO-8859-1"?><a>é</a>'.encode("latin-1")
    assert parse_xml(latin1).text == "é"
    assert parse_xml(b"\xef\xbb\xbf<a>\xc3\xa9</a>").text == "é"


def test_size_depth_and_element_bounds() -> None:
    with pytest.raises(BodyError) as raised:
        parse_xml(b"<a>" + b" " * 100 + b"</a>", max_bytes=50)
    assert raised.value.status == 413
    assert parse_xml(b"<a/>" + b" " * 46, max_bytes=50).tag == "a"
    deep = b"<a>" * 10 + b"</a>" * 10
    assert parse_xml(deep, max_depth=10).tag == "a"
    with pytest.raises(BodyError, match="deeper"):
        parse_xml(deep, max_depth=9)
    many = b"<a>" + b"<b/>" * 20 + b"</a>"
    assert len(parse_xml(many, max_elements=21)) == 20
    with pytest.raises(BodyError, match="elements"):
        parse_xml(many, max_elements=20)


def test_default_bounds() -> None:
    with pytest.raises(BodyError):
        parse_xml(b"<a>" * 33 + b"</a>" * 33)
    with pytest.raises(BodyError):
        parse_xml(b"<a>" + b"<b/>" * 10000 + b"</a>")
    with pytest.raises(BodyError) as raised:
        parse_xml(b"<a>" + b"x" * 65536 + b"</a>")
    assert raised.value.status == 413


def test_child_helpers() -> None:
    root = parse_xml(b'<r xmlns="urn:n"><x i="1"/><y/><x i="2"/></r>')
    assert [x.get("i") for x in children(root, "{urn:n}x")] == ["1", "2"]
    found = first_child(root, "{urn:n}y")
    assert found is not None and found.tag == "{urn:n}y"
    assert first_child(root, "y") is None


def test_serialize_escapes_and_declares() -> None:
    root = ET.Element("a", {"xmlns": "urn:n", "v": 'q"<&>\t\n\r'})
    ET.SubElement(root, "b").text = "x < y & z > w\r\n]]>"
    ET.SubElement(root, "c")
    data = serialize_xml(root)
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<a xmlns="urn:n" v="')
    parsed = parse_xml(data)
    assert parsed.get("v") == 'q"<&>\t\n\r'
    b, c = list(parsed)
    assert b.text == "x < y & z > w\r\n]]>"
    assert c.tag == "{urn:n}c" and c.text is None


@pytest.mark.parametrize("bad", ["\x00", "\x1b", "\ud800", "\uffff"])
def test_serialize_refuses_what_xml_cannot_carry(bad: str) -> None:
    with pytest.raises(LocalProtocolError):
        serialize_xml(ET.Element("a", {"v": bad}))
    root = ET.Element("a")
    root.text = f"x{bad}"
    with pytest.raises(LocalProtocolError):
        serialize_xml(root)


NAMES = st.sampled_from(["a", "b", "c-d", "e.f", "g_h"])


def trees(depth: int = 3) -> st.SearchStrategy[ET.Element]:
    def element(kids: list[ET.Element], tag: str, attrib: dict[str, str], text: str) -> ET.Element:
        node = ET.Element(tag, attrib)
        if kids:
            node.extend(kids)
        else:
            node.text = text
        return node

    leaf = st.builds(
        element,
        st.just([]),
        NAMES,
        st.dictionaries(NAMES, attribute(), max_size=3),
        st.text(XML_CHARS, max_size=20),
    )
    return st.recursive(
        leaf,
        lambda inner: st.builds(
            element,
            st.lists(inner, min_size=1, max_size=4),
            NAMES,
            st.dictionaries(NAMES, attribute(), max_size=3),
            st.just(""),
        ),
        max_leaves=12,
    )


def _same(parsed: ET.Element, built: ET.Element) -> None:
    assert parsed.tag == built.tag
    assert parsed.attrib == built.attrib
    assert len(parsed) == len(built)
    if len(built):
        for got, want in zip(parsed, built, strict=True):
            _same(got, want)
    else:
        assert (parsed.text or "") == (built.text or "")


@ROUND_TRIP
@given(trees())
def test_serialize_then_parse_round_trips(tree: ET.Element) -> None:
    _same(parse_xml(serialize_xml(tree), max_bytes=1 << 20), tree)


NO_CR_TEXT = st.text(XML_CHARS.filter(lambda c: c != "\r"), max_size=8)


def mixed_trees() -> st.SearchStrategy[ET.Element]:
    """Trees with mixed content: text and tails anywhere, or none."""

    def element(tag: str, text: str, kids: list[tuple[ET.Element, str]]) -> ET.Element:
        node = ET.Element(tag)
        node.text = text or None
        for kid, tail in kids:
            kid.tail = tail or None
            node.append(kid)
        return node

    leaf = st.builds(element, NAMES, NO_CR_TEXT, st.just([]))
    return st.recursive(
        leaf,
        lambda inner: st.builds(
            element, NAMES, NO_CR_TEXT, st.lists(st.tuples(inner, NO_CR_TEXT), max_size=4)
        ),
        max_leaves=15,
    )


def _same_mixed(parsed: ET.Element, built: ET.Element) -> None:
    assert (parsed.tag, parsed.text or "", parsed.tail or "") == (
        built.tag,
        built.text or "",
        built.tail or "",
    )
    assert len(parsed) == len(built)
    for got, want in zip(parsed, built, strict=True):
        _same_mixed(got, want)


@ROUND_TRIP
@given(mixed_trees())
def test_mixed_content_parses_exactly(tree: ET.Element) -> None:
    _same_mixed(parse_xml(ET.tostring(tree, encoding="utf-8")), tree)


@FUZZ
@given(junk)
def test_arbitrary_bytes_raise_only_body_error(data: bytes) -> None:
    with contextlib.suppress(BodyError):
        parse_xml(data)


@FUZZ
@given(st.text(st.sampled_from("<>/=\"'&;!?[]-:# axmlns\n"), max_size=80))
def test_xml_like_text_raises_only_body_error(text: str) -> None:
    for encoding in ("utf-8", "utf-16"):
        with contextlib.suppress(BodyError):
            parse_xml(text.encode(encoding))
