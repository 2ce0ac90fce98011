"""The schema registry: detection by namespace, compiled-once schemas, operator override directories."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from gateway.registry import SchemaLoadError, SchemaRegistry, default_registry, schema_root
from gateway.results import Stage
from gateway.testing.builders import render
from gateway.validation import Validator
from tests.helpers import BASE, LINE_A, TODAY

JW323_NS = "http://www.istandaarden.nl/ijw/3_2/jw323/schema"


class TestBuiltIn:
    def test_four_types_by_namespace(self) -> None:
        """The catalogue maps the four 3.2 namespaces to the contract's type names."""
        reg = SchemaRegistry()
        names = {s.namespace.split("/")[-2]: s.name for s in reg.specs if s.release == "3.2"}
        assert names == {"jw323": "JW323", "jw325": "JW325", "wmo323": "WMO323", "wmo325": "WMO325"}
        spec = reg.spec_for_namespace(JW323_NS)
        assert spec is not None
        assert (spec.bericht_code, spec.kind, spec.answer, spec.release) == (
            "490",
            "declaration",
            "JW325",
            "3.2",
        )

    def test_schema_compiled_once(self) -> None:
        """The compiled schema is built once and the same object is reused."""
        reg = SchemaRegistry()
        spec = reg.spec_named("WMO323")
        assert spec is not None
        assert reg.schema(spec) is reg.schema(spec)

    def test_default_registry_is_shared(self) -> None:
        """One registry per process and set of override directories."""
        assert default_registry() is default_registry()

    def test_schema_files_ship_with_the_catalogue(self) -> None:
        """Every catalogue entry points at an existing XSD under the schema root."""
        for spec in SchemaRegistry().specs:
            assert spec.schema_path.is_file()
            assert spec.schema_path.is_relative_to(schema_root())

    def test_known_element_names(self) -> None:
        """Element names come from our XSDs (used to mask sender-chosen names in paths)."""
        names = SchemaRegistry().element_names()
        assert {"Bericht", "Bsn", "ReferentieNummer", "DeclaratieAntwoord", "RetourCode"} <= names
        assert "Foo" not in names


class TestOverrides:
    def test_official_files_override_ours(self, tmp_path: Path, reference_dir: Path) -> None:
        """Dropping the official iJw files in a directory makes the registry use them, rules included."""
        for f in (reference_dir / "xsd" / "ijw-3.2").iterdir():
            shutil.copy(f, tmp_path / f.name)
        reg = SchemaRegistry([tmp_path])
        spec = reg.spec_for_namespace(JW323_NS)
        assert spec is not None
        assert spec.overridden
        assert spec.schema_path.parent == tmp_path
        example = (reference_dir / "examples" / "JW323.xml").read_bytes()
        verdict = Validator(reg).validate(example, today=date(2026, 6, 1))  # the example is dated 2026-05-06
        assert verdict.stage is Stage.RULES
        assert {e.code for e in verdict.errors} == {"TR101", "TR314", "TR416"}

    def test_new_release_is_added_by_namespace(self, tmp_path: Path) -> None:
        """A schema for a release the catalogue lacks (3_3) becomes that type; rules are per release."""
        ours = schema_root() / "ijw" / "3.2"
        for name in ("JW323.xsd", "basisschema.xsd"):
            text = (ours / name).read_text(encoding="utf-8").replace("/ijw/3_2/", "/ijw/3_3/")
            (tmp_path / name).write_text(text, encoding="utf-8")
        reg = SchemaRegistry([tmp_path])
        spec = reg.spec_for_namespace(JW323_NS.replace("3_2", "3_3"))
        assert spec is not None
        assert (spec.name, spec.release) == ("JW323", "3.3")
        # A duplicated reference would fail TR314 in 3.2; release 3.3 has no registered rules.
        dup = replace(BASE, clients=(replace(BASE.clients[0], lines=(LINE_A, LINE_A)),))
        data = render(dup).replace(b"/ijw/3_2/", b"/ijw/3_3/")
        verdict = Validator(reg).validate(data, today=TODAY)
        assert verdict.valid
        assert verdict.message_type == "JW323"
        assert Validator(SchemaRegistry()).validate(data, today=TODAY).stage is Stage.TRANSPORT

    def test_missing_directory_is_refused(self, tmp_path: Path) -> None:
        """An override directory that does not exist is a clear load error."""
        with pytest.raises(SchemaLoadError, match="does not exist"):
            SchemaRegistry([tmp_path / "nope"])

    def test_unmappable_namespace_is_refused(self, tmp_path: Path) -> None:
        """A message schema with a namespace the gateway cannot map is refused at start-up."""
        (tmp_path / "x.xsd").write_text(
            '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:other">'
            '<xs:element name="Bericht"/></xs:schema>',
            encoding="utf-8",
        )
        with pytest.raises(SchemaLoadError, match="cannot map"):
            SchemaRegistry([tmp_path])

    def test_broken_schema_is_refused_when_compiled(self, tmp_path: Path) -> None:
        """An override that does not compile fails with a load error naming the file."""
        (tmp_path / "JW323.xsd").write_text(
            '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
            f'targetNamespace="{JW323_NS}"><xs:element name="Bericht" type="nope:T"/></xs:schema>',
            encoding="utf-8",
        )
        reg = SchemaRegistry([tmp_path])
        spec = reg.spec_for_namespace(JW323_NS)
        assert spec is not None
        with pytest.raises(SchemaLoadError, match=r"JW323\.xsd"):
            reg.schema(spec)

    def test_not_xml_is_refused(self, tmp_path: Path) -> None:
        """A file that is not XML in the override directory is a load error, not a crash."""
        (tmp_path / "bad.xsd").write_bytes(b"not xml")
        with pytest.raises(SchemaLoadError, match="cannot read schema"):
            SchemaRegistry([tmp_path])
