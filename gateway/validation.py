"""The validation core: bytes of one message in, an immutable verdict out.

    bytes -> transport checks + hardened parse -> message type by root namespace -> XSD -> rules

Pure: no file, socket, clock or database access. The date used by clock rules (TR135) is passed in.
Later stages (minimisation, retour building) reuse the parsed tree and records from :class:`Checked`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import NamedTuple

from lxml import etree

from gateway.fixedwidth.stage import check_ei, looks_like_ei
from gateway.intake.transport import Limits, TransportError, parse_xml, transport_finding
from gateway.model import Context, Declaration, Subject, answer_subject, declaration_subject
from gateway.model_2x import answer_subject_2x, declaration_subject_2x
from gateway.registry import MessageSpec, SchemaRegistry, default_registry
from gateway.results import Stage, Verdict
from gateway.rules import run_rules
from gateway.schema import schema_findings

__all__ = ["READERS", "Checked", "Validator", "validate"]

# How to read a schema-valid message of a (kind, release) into the records its rules check.
READERS: dict[tuple[str, str], Callable[[etree._Element], Subject]] = {
    ("declaration", "3.2"): declaration_subject,
    ("answer", "3.2"): answer_subject,
    ("declaration", "2.1"): declaration_subject_2x,
    ("answer", "2.1"): answer_subject_2x,
}


class Checked(NamedTuple):
    """A verdict plus what later stages need: the message type, the parsed tree and the records.

    ``root`` is the parsed tree (comments and processing instructions already dropped); callers must
    treat it as read-only. ``message`` is set when the message reached the rule stage.
    """

    verdict: Verdict
    spec: MessageSpec | None
    root: etree._Element | None
    message: object  # the record of the whole message (e.g. a Declaration) once it reached the rules


class Validator:
    """Validates messages against one schema registry and set of limits. Reusable and thread-safe."""

    def __init__(self, registry: SchemaRegistry | None = None, limits: Limits | None = None) -> None:
        self.registry = registry if registry is not None else default_registry()
        self.limits = limits if limits is not None else Limits()
        self._known = self.registry.element_names()
        self._expected = ", ".join(sorted({s.name for s in self.registry.specs}))

    def check(
        self, data: bytes, source: str, *, today: date, declaration: Declaration | None = None
    ) -> Checked:
        """Run every stage; ``declaration`` (a 323 read earlier) adds the 325 echo rules."""
        if looks_like_ei(data):  # fixed-width EI file (JW321/JW322): starts with its header record
            return check_ei(self, data, source, today=today)
        try:
            root = parse_xml(data, self.limits)
        except TransportError as exc:
            return Checked(Verdict(source, None, False, Stage.TRANSPORT, (exc.finding,)), None, None, None)
        spec = self._spec_of(root)
        if spec is not None and spec.format != "xml":
            spec = None  # the canonical tree of an EI file is internal, not an XML message format
        if spec is None:
            finding = transport_finding(
                "UNKNOWN_TYPE",
                f"the root element is not a supported message; expected one of {self._expected} "
                "(identified by the namespace of the root element)",
            )
            return Checked(Verdict(source, None, False, Stage.TRANSPORT, (finding,)), None, root, None)
        errors = schema_findings(root, self.registry.schema(spec), self._known)
        if errors:
            return Checked(Verdict(source, spec.name, False, Stage.SCHEMA, errors), spec, root, None)
        return self._rules(source, spec, root, today, declaration)

    def _spec_of(self, root: etree._Element) -> MessageSpec | None:
        tag = root.tag
        namespace = tag[1 : tag.find("}")] if isinstance(tag, str) and tag.startswith("{") else ""
        spec = self.registry.spec_for_namespace(namespace)
        if spec is not None and self.registry.shares_namespace(spec):
            # JW303D / JW303F share a namespace: Header/BerichtCode chooses (a wrong code fails the XSD).
            header = root[0] if len(root) else None
            code = header[0].text if header is not None and len(header) else None
            spec = self.registry.spec_for_namespace(namespace, (code or "").strip())
        return spec

    def _rules(
        self,
        source: str,
        spec: MessageSpec,
        root: etree._Element,
        today: date,
        declaration: Declaration | None,
    ) -> Checked:
        reader = READERS.get((spec.kind, spec.release))
        if reader is None:
            # A release added through --schema-dir: schema validation only (rules are per release).
            return Checked(Verdict(source, spec.name, True, None), spec, root, None)
        subject = reader(root)
        context = Context(today=today, declaration=declaration)
        findings = run_rules(spec.kind, spec.release, subject, context)
        if declaration is not None and spec.kind == "answer":
            findings += run_rules("echo", spec.release, subject, context)
        if findings:
            return Checked(
                Verdict(source, spec.name, False, Stage.RULES, findings), spec, root, subject.message
            )
        return Checked(Verdict(source, spec.name, True, None), spec, root, subject.message)

    def validate(
        self, data: bytes, source: str = "-", *, today: date, declaration: Declaration | None = None
    ) -> Verdict:
        return self.check(data, source, today=today, declaration=declaration).verdict


def validate(data: bytes, source: str = "-", *, today: date | None = None) -> Verdict:
    """Convenience: validate one message with the built-in schemas and default limits."""
    return Validator().validate(data, source, today=today if today is not None else date.today())
