"""The municipal product-code table: format checks, lookup with the "*" fallback, the shipped examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from filters.products import ProductTableError, default_products, load_products, parse_products

ENTRY = '[[product]]\nmunicipality = "0014"\ncategory = "45"\ncode = "45D01"\nreveals_disorder = true\n'


class TestLookup:
    def test_municipality_entry_before_wildcard(self) -> None:
        """A municipality's own entry wins over the "*" entry for the same category and code."""
        table = parse_products(
            'table_version = "t"\n'
            + ENTRY
            + '[[product]]\nmunicipality = "*"\ncategory = "45"\ncode = "45D01"\n'
            "reveals_disorder = false\n"
        )
        own = table.lookup("0014", "45", "45D01")
        fallback = table.lookup("0363", "45", "45D01")
        assert own is not None
        assert own.reveals_disorder
        assert fallback is not None
        assert not fallback.reveals_disorder
        assert table.lookup("0014", "45", "45D02") is None
        assert table.lookup("0014", "46", "45D01") is None

    def test_special_defaults_to_reveals(self) -> None:
        """special_category defaults to reveals_disorder; neutral_code is optional."""
        info = parse_products('table_version = "t"\n' + ENTRY).lookup("0014", "45", "45D01")
        assert info is not None
        assert info.special_category is True
        assert info.neutral_code is None

    def test_shipped_examples(self) -> None:
        """The shipped table holds the documented dyslexia examples (with and without neutral code)."""
        table = default_products()
        groningen = table.lookup("0014", "45", "45D01")
        tilburg = table.lookup("0855", "45", "45D01")
        assert groningen is not None
        assert (groningen.reveals_disorder, groningen.neutral_code) == (True, "45N01")
        assert tilburg is not None
        assert (tilburg.reveals_disorder, tilburg.neutral_code) == (True, None)
        national = table.lookup("0599", "54", "54004")
        assert national is not None
        assert (national.reveals_disorder, national.special_category) == (False, True)
        assert len(table) >= 5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("table_version = 't'\n[[product]\n", "not valid TOML"),
        (ENTRY, "table_version is required"),
        ('table_version = "t"\ncolour = 1\n', "unknown key(s) colour"),
        ('table_version = "t"\n' + ENTRY.replace('"0014"', '"14"'), "product #1: municipality"),
        ('table_version = "t"\n' + ENTRY.replace('category = "45"', "category = 45"), "product #1: category"),
        ('table_version = "t"\n' + ENTRY.replace('"45D01"', '"TOOLONG"'), "product #1: code"),
        ('table_version = "t"\n' + ENTRY.replace("true", '"yes"'), "reveals_disorder must be"),
        ('table_version = "t"\n' + ENTRY + 'neutral_code = ""\n', "neutral_code must be"),
        ('table_version = "t"\n' + ENTRY + "special_category = 1\n", "special_category must be"),
        ('table_version = "t"\n' + ENTRY + "name = 3\n", "name must be a string"),
        ('table_version = "t"\n' + ENTRY + 'colour = "x"\n', "unknown key(s) colour"),
        ('table_version = "t"\n' + ENTRY + ENTRY, "product #2: the same municipality"),
        ('table_version = "t"\nproduct = 3\n', "array of tables"),
    ],
)
def test_broken_tables_rejected(text: str, expected: str) -> None:
    """A broken table is rejected naming the entry and the problem."""
    with pytest.raises(ProductTableError) as info:
        parse_products(text, name="p.toml")
    assert expected in str(info.value)
    assert "p.toml" in str(info.value)


def test_load_from_file(tmp_path: Path) -> None:
    """load_products reads a file; an unreadable one is an error naming it."""
    path = tmp_path / "mine.toml"
    path.write_text('table_version = "v9"\n' + ENTRY, encoding="utf-8")
    assert load_products(path).version == "v9"
    with pytest.raises(ProductTableError, match="cannot read"):
        load_products(tmp_path / "absent.toml")
