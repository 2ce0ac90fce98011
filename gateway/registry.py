"""The schema registry: which message type a root namespace means, and its compiled XSD.

The built-in types come from ``schemas/catalog.toml``; compiled schemas are built once per process and
reused. Several types may share a namespace (the 2.x declaration and invoice, JW303D and JW303F): the
BerichtCode then chooses, and the entry marked ``default`` takes any other code (its XSD then rejects it).
Fixed-width types (JW321/JW322) are validated as a canonical XML tree in a namespace of their own.

Operators can add or override schemas with extra directories (``--schema-dir`` /
``JWMO_SCHEMA_DIR``): every ``*.xsd`` there that declares a ``Bericht`` root element is keyed by its
target namespace. A namespace the catalogue knows is overridden (its rules still apply); an unknown
namespace of the iStandaarden form ``.../<ijw|iwmo>/<major>_<minor>/<jw|wmo><nnn>/schema`` is added as
that message type of that release (schema validation only: business rules are registered per release).
"""

from __future__ import annotations

import re
import threading
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Literal

from lxml import etree

__all__ = [
    "MessageSpec",
    "SchemaLoadError",
    "SchemaRegistry",
    "default_registry",
    "schema_root",
]

Kind = Literal["declaration", "answer"]
Format = Literal["xml", "ei"]
XS = "http://www.w3.org/2001/XMLSchema"
_ISTANDAARD_NS = re.compile(r"\Ahttp://www\.istandaarden\.nl/(ijw|iwmo)/(\d+)_(\d+)/(jw|wmo)(\d{3})/schema\Z")


class SchemaLoadError(Exception):
    """An XSD (built-in or from an override directory) could not be loaded. Our fault or the operator's."""


@dataclass(frozen=True, slots=True)
class MessageSpec:
    """One message type the gateway can validate."""

    name: str
    standard: str
    release: str
    bericht_code: str
    kind: Kind
    namespace: str
    schema_path: Path
    answer: str | None = None
    overridden: bool = False
    bericht_codes: tuple[str, ...] = ()
    default: bool = True
    format: Format = "xml"


def schema_root() -> Path:
    """Where the shipped schemas live: inside the installed package, or at the source tree's top."""
    here = Path(__file__).resolve().parent
    installed = here / "schemas"
    if (installed / "catalog.toml").is_file():
        return installed
    return here.parent / "schemas"


def _read_catalog(root: Path) -> list[MessageSpec]:
    with (root / "catalog.toml").open("rb") as fh:
        data = tomllib.load(fh)
    return [
        MessageSpec(
            name=entry["name"],
            standard=entry["standard"],
            release=entry["release"],
            bericht_code=entry["bericht_code"],
            kind=entry["kind"],
            namespace=entry["namespace"],
            schema_path=root / entry["schema"],
            answer=entry.get("answer"),
            bericht_codes=tuple(entry.get("bericht_codes", [entry["bericht_code"]])),
            default=entry.get("default", True),
            format=entry.get("format", "xml"),
        )
        for entry in data["message"]
    ]


def _safe_parse_file(path: Path) -> etree._ElementTree:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    return etree.parse(str(path), parser)


def _declares_bericht(tree: etree._ElementTree) -> str | None:
    """The target namespace if this XSD declares a global ``Bericht`` element, else None."""
    root = tree.getroot()
    if root.tag != f"{{{XS}}}schema":
        return None
    for child in root:
        if child.tag == f"{{{XS}}}element" and child.get("name") == "Bericht":
            return root.get("targetNamespace")
    return None


class SchemaRegistry:
    """Message types by root namespace, with compiled schemas cached for the life of the process."""

    def __init__(self, override_dirs: Sequence[Path] = (), root: Path | None = None) -> None:
        base = root if root is not None else schema_root()
        self._specs: dict[str, list[MessageSpec]] = {}
        for spec in _read_catalog(base):
            self._specs.setdefault(spec.namespace, []).append(spec)
        templates = self.specs
        for directory in override_dirs:
            self._add_directory(Path(directory), templates)
        self._trees: dict[str, etree._ElementTree] = {}
        self._local = threading.local()
        self._lock = threading.Lock()
        self._element_names: frozenset[str] | None = None

    def _add_directory(self, directory: Path, templates: tuple[MessageSpec, ...]) -> None:
        if not directory.is_dir():
            raise SchemaLoadError(f"schema directory {directory} does not exist")
        for path in sorted(directory.glob("*.xsd")):
            try:
                namespace = _declares_bericht(_safe_parse_file(path))
            except (OSError, etree.XMLSyntaxError) as exc:
                raise SchemaLoadError(f"cannot read schema {path}: {exc}") from None
            if namespace is None:
                continue  # a basisschema or other include: loaded through the message schema's import
            known = self._specs.get(namespace)
            if known is not None:
                self._specs[namespace] = [replace(k, schema_path=path, overridden=True) for k in known]
                continue
            match = _ISTANDAARD_NS.match(namespace)
            if match is None:
                raise SchemaLoadError(
                    f"schema {path} has a namespace the gateway cannot map to a message type"
                )
            standard, major, minor, prefix, number = match.groups()
            name = f"{'JW' if prefix == 'jw' else 'WMO'}{number}"
            matching = [t for t in templates if t.format == "xml" and t.name.rstrip("DF") == name]
            if not matching:
                raise SchemaLoadError(
                    f"schema {path} is for {name}, a message type the gateway does not handle"
                )
            self._specs[namespace] = [
                replace(
                    t,
                    standard=standard,
                    release=f"{major}.{minor}",
                    namespace=namespace,
                    schema_path=path,
                    overridden=True,
                )
                for t in matching
            ]

    @property
    def specs(self) -> tuple[MessageSpec, ...]:
        return tuple(spec for group in self._specs.values() for spec in group)

    def expected_namespaces(self) -> Iterable[str]:
        return self._specs.keys()

    def spec_for_namespace(self, namespace: str, bericht_code: str | None = None) -> MessageSpec | None:
        """The type of a root namespace; where several share it, the one whose BerichtCode matches."""
        group = self._specs.get(namespace)
        if group is None:
            return None
        if len(group) > 1:
            for spec in group:
                if bericht_code in spec.bericht_codes:
                    return spec
            return next((spec for spec in group if spec.default), group[0])
        return group[0]

    def shares_namespace(self, spec: MessageSpec) -> bool:
        """True when the BerichtCode is needed to tell this type from another one."""
        return len(self._specs.get(spec.namespace, ())) > 1

    def spec_named(self, name: str) -> MessageSpec | None:
        specs = self.specs
        for spec in specs:
            if spec.name == name and not spec.overridden:
                return spec
        return next((spec for spec in specs if spec.name == name), None)

    def schema(self, spec: MessageSpec) -> etree.XMLSchema:
        """The compiled schema of a message type: built on first use, then reused by this thread.

        Each thread gets its own compiled object: lxml keeps a validation's errors on the schema object,
        so two threads validating with one object could read each other's (or no) errors.
        """
        key = str(spec.schema_path)
        compiled: dict[str, etree.XMLSchema] | None = getattr(self._local, "compiled", None)
        if compiled is None:
            compiled = self._local.compiled = {}
        schema = compiled.get(key)
        if schema is None:
            tree = self._trees.get(key)
            if tree is None:
                with self._lock:
                    try:
                        tree = self._trees[key] = _safe_parse_file(spec.schema_path)
                    except (OSError, etree.XMLSyntaxError) as exc:
                        raise SchemaLoadError(f"cannot read schema {spec.schema_path}: {exc}") from None
            try:
                schema = compiled[key] = etree.XMLSchema(tree)
            except etree.XMLSchemaParseError as exc:
                raise SchemaLoadError(f"cannot compile schema {spec.schema_path}: {exc}") from None
        return schema

    def element_names(self) -> frozenset[str]:
        """Every element name declared in the registered schemas (and the files they import).

        Used to keep sender-chosen element names out of error paths: a name that no schema knows is
        shown as ``*``.
        """
        if self._element_names is None:
            names: set[str] = set()
            seen: set[Path] = set()
            pending = [s.schema_path for s in self.specs]
            while pending:
                path = pending.pop().resolve()
                if path in seen or not path.is_file():
                    continue
                seen.add(path)
                tree = _safe_parse_file(path)
                for el in tree.iter(f"{{{XS}}}element", f"{{{XS}}}import", f"{{{XS}}}include"):
                    if el.tag == f"{{{XS}}}element" and el.get("name"):
                        names.add(str(el.get("name")))
                    location = el.get("schemaLocation")
                    if location:
                        pending.append(path.parent / location)
            self._element_names = frozenset(names)
        return self._element_names


@cache
def default_registry(override_dirs: tuple[Path, ...] = ()) -> SchemaRegistry:
    """One registry per process and set of override directories."""
    return SchemaRegistry(override_dirs)
