"""Safe XML for bodies that come from the network, and a small writer.

:func:`parse_xml` builds an :class:`xml.etree.ElementTree.Element` tree with
the stdlib expat parser, refusing what makes XML dangerous: any DOCTYPE (so
no DTD, no entity declarations, no "billion laughs" expansion), external
entities, and documents beyond a size, depth or element-count bound.  Tags
and attribute names in a namespace come out as ``"{ns}local"``.  Anything
wrong raises :class:`BodyError`, never another exception.

:func:`serialize_xml` writes a tree built by the body builders (prefixed tag
names with explicit ``xmlns`` attributes) as UTF-8, escaping what XML
whitespace normalization would otherwise change, and raising
:class:`LocalProtocolError` for text XML 1.0 cannot carry.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from xml.parsers import expat

from sansip.bodies.errors import BodyError
from sansip.errors import LocalProtocolError

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_ELEMENTS",
    "XML_SPACE",
    "children",
    "first_child",
    "local_name",
    "namespace",
    "parse_xml",
    "serialize_xml",
    "text_of",
]

#: Default bounds of :func:`parse_xml`.
MAX_BYTES = 65536
MAX_DEPTH = 32
MAX_ELEMENTS = 10000

#: XML's own white space (not Python's wider notion of it).
XML_SPACE = " \t\r\n"

# expat joins a namespace URI and a local name with this; a local name never
# holds a space, so the last space splits them even in a strange URI.
_SEPARATOR = " "

# Characters XML 1.0 cannot hold, even escaped.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _qualified(name: str) -> str:
    ns, sep, local = name.rpartition(_SEPARATOR)
    return f"{{{ns}}}{local}" if sep else name


class _TreeBuilder:
    """Turns expat's callbacks into an element tree, within the bounds."""

    def __init__(self, max_depth: int, max_elements: int) -> None:
        self.max_depth = max_depth
        self.max_elements = max_elements
        self.root: ET.Element | None = None
        self._stack: list[ET.Element] = []
        self._count = 0
        self._text: list[str] = []
        self._tail_of: ET.Element | None = None  # text goes to its tail, else to the open element

    def start(self, name: str, attributes: dict[str, str]) -> None:
        self._flush()
        self._tail_of = None
        self._count += 1
        if self._count > self.max_elements:
            raise BodyError(f"XML body has more than {self.max_elements} elements")
        if len(self._stack) >= self.max_depth:
            raise BodyError(f"XML body nested deeper than {self.max_depth}")
        element = ET.Element(_qualified(name), {_qualified(k): v for k, v in attributes.items()})
        if self._stack:
            self._stack[-1].append(element)
        else:
            self.root = element
        self._stack.append(element)

    def end(self, _name: str) -> None:
        self._flush()
        self._tail_of = self._stack.pop()

    def data(self, text: str) -> None:
        self._text.append(text)

    def _flush(self) -> None:
        if not self._text:
            return
        text = "".join(self._text)
        self._text = []
        if self._tail_of is not None:
            self._tail_of.tail = text
            self._tail_of = None
        elif self._stack:
            self._stack[-1].text = text


def _refuse(what: str) -> BodyError:
    return BodyError(f"XML body with {what} refused")


def parse_xml(
    data: bytes,
    *,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    max_elements: int = MAX_ELEMENTS,
) -> ET.Element:
    """Parse an XML body from the network into its root element.

    Raises :class:`BodyError`: status 413 for more than ``max_bytes`` octets,
    400 for malformed XML, a DOCTYPE, an entity declaration or reference to
    an external entity, more than ``max_depth`` levels or ``max_elements``
    elements.
    """
    if len(data) > max_bytes:
        raise BodyError(f"XML body larger than {max_bytes} bytes", 413)
    builder = _TreeBuilder(max_depth, max_elements)
    parser = expat.ParserCreate(None, _SEPARATOR)

    def doctype(*_args: object) -> None:
        raise _refuse("a DOCTYPE")

    def entity(*_args: object) -> None:
        raise _refuse("an entity declaration")

    def declaration(*_args: object) -> None:
        raise _refuse("a DTD declaration")

    def external(*_args: object) -> int:
        raise _refuse("an external entity")

    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = entity
    parser.UnparsedEntityDeclHandler = entity
    parser.NotationDeclHandler = declaration
    parser.ElementDeclHandler = declaration
    parser.AttlistDeclHandler = declaration
    parser.ExternalEntityRefHandler = external
    parser.SkippedEntityHandler = external
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.buffer_text = True
    try:
        parser.Parse(bytes(data), True)
    except expat.ExpatError as exc:
        raise BodyError(f"malformed XML body: {exc}") from None
    except (ValueError, LookupError, TypeError) as exc:  # e.g. an unusable encoding
        raise BodyError(f"unreadable XML body: {type(exc).__name__}") from None
    if builder.root is None:  # pragma: no cover - expat requires a root element
        raise BodyError("XML body without a root element")
    return builder.root


# ------------------------------------------------------------ reading helpers


def local_name(tag: str) -> str:
    """The local part of ``"{ns}local"`` (or of an unqualified name)."""
    return tag.rpartition("}")[2]


def namespace(tag: str) -> str:
    """The namespace URI of ``"{ns}local"``, or ``""`` when there is none."""
    return tag[1:].rpartition("}")[0] if tag.startswith("{") else ""


def children(element: ET.Element, tag: str) -> Iterator[ET.Element]:
    """The direct children of ``element`` whose tag is ``tag``, in order."""
    return (child for child in element if child.tag == tag)


def first_child(element: ET.Element, tag: str) -> ET.Element | None:
    """The first direct child with tag ``tag``, or None."""
    return next(children(element, tag), None)


def text_of(element: ET.Element | None) -> str | None:
    """All the text inside ``element`` without surrounding XML white space,
    or None when there is no element."""
    if element is None:
        return None
    return "".join(element.itertext()).strip(XML_SPACE)


# -------------------------------------------------------------------- writing

_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTR_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;", "\n": "&#10;",
     "\t": "&#9;"}
)  # fmt: skip


def _checked(value: str) -> str:
    bad = _NOT_XML.search(value)
    if bad is not None:
        raise LocalProtocolError(f"character U+{ord(bad.group()):04X} cannot be sent in XML")
    return value


def _write(element: ET.Element, out: list[str], indent: str) -> None:
    out.append(f"{indent}<{element.tag}")
    for name, value in element.attrib.items():
        out.append(f' {name}="{_checked(value).translate(_ATTR_ESCAPES)}"')
    if element.text:
        out.append(f">{_checked(element.text).translate(_TEXT_ESCAPES)}</{element.tag}>\n")
    elif len(element):
        out.append(">\n")
        for child in element:
            _write(child, out, indent + "  ")
        out.append(f"{indent}</{element.tag}>\n")
    else:
        out.append("/>\n")


def serialize_xml(root: ET.Element) -> bytes:
    """The document of ``root`` as UTF-8 with an XML declaration.

    Tags and attribute names are written as they are (the builders use
    prefixes and ``xmlns`` attributes); an element holds either text or
    child elements, never both.  Raises :class:`LocalProtocolError` for a
    character XML 1.0 cannot carry.
    """
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n']
    _write(root, out, "")
    return "".join(out).encode("utf-8")
