"""Reading schema-valid messages into records: the fast leaf-text reader agrees with the tree walk."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.intake.transport import Limits, parse_xml
from gateway.model import (
    _leaf_texts,
    _read_declaration_leaves,
    _read_declaration_tree,
    read_declaration,
    to_date,
)
from gateway.testing.builders import random_declaration, render
from gateway.validation import Validator
from tests.helpers import TODAY

_LEAF = re.compile(rb"(<(?:[\w.-]+:)?(\w+)>)([^<]+)(</)")


def disguise(data: bytes, rng: random.Random) -> bytes:
    """Rewrite leaf values as XML allows and the schema accepts: CDATA, comments, character references."""

    def one(m: re.Match[bytes]) -> bytes:
        start, _name, text, end = m.group(1), m.group(2), m.group(3), m.group(4)
        choice = rng.randrange(4)
        if choice == 1 and len(text) > 1:
            cut = rng.randrange(1, len(text))
            text = text[:cut] + b"<!-- note -->" + text[cut:]
        elif choice == 2:
            text = b"<![CDATA[" + text + b"]]>"
        elif choice == 3:
            text = b"".join(b"&#%d;" % c for c in text[:1]) + text[1:]
        return start + text + end

    return _LEAF.sub(one, data)


@settings(max_examples=200)
@given(
    seed=st.integers(0, 2**32 - 1), prefixed=st.booleans(), indent=st.booleans(), trick=st.integers(0, 2**16)
)
def test_fast_reader_equals_tree_reader(seed: int, prefixed: bool, indent: bool, trick: int) -> None:
    """For any generated 323 in any XML spelling, the leaf-text reader equals the tree walk."""
    decl = random_declaration(random.Random(seed))
    data = disguise(render(decl, prefixed=prefixed, indent=indent), random.Random(trick))
    root = parse_xml(data, Limits())
    assert Validator().validate(data, today=TODAY).valid
    fast = _read_declaration_leaves(_leaf_texts(root), [len(c[1]) for c in root[1][4]])
    assert fast is not None
    assert fast == _read_declaration_tree(root)
    assert read_declaration(root) == fast


def test_reader_falls_back_when_texts_do_not_fit() -> None:
    """Texts that do not match the structure make the fast reader give up (the caller walks the tree)."""
    root = parse_xml(render(random_declaration(random.Random(7))), Limits())
    texts = _leaf_texts(root)
    counts = [len(c[1]) for c in root[1][4]]
    assert _read_declaration_leaves([*texts, "extra"], counts) is None
    with pytest.raises(IndexError):
        _read_declaration_leaves(texts, [*counts[:-1], counts[-1] + 1])


def test_unrepresentable_years_map_to_extremes() -> None:
    """xs:date allows years beyond 9999 and negative years: they read as date.max / date.min."""
    assert to_date("12026-01-01").year == 9999
    assert to_date("-0001-01-01").year == 1
    assert to_date(" 2026-01-02 ").day == 2
