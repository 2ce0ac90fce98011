"""Adapter for JW321 (fixed-width EI, youth GGZ DBC declarations): records + canonical tree <-> line views.

Inputs of the decision per 04 line (legacy-formats.md D.1): the line class (C.6, through the code tables of
``filters.codetables``), the "main group in" (the DSM-IV code's group when one is given, else the group of
triplet 2) and the opt-out (asked on the 01 record's DAGTEKENING). The line view carries the four triplets
of the prestatiecode, the DSM-IV code, the referrer type and the billing fields of D.4; the billing
``dbc_prestatiecode`` is derived from the *minimised* triplets. The message view carries the 98 comment
records (their count), which the default policy drops.

The filtered JW321 follows D.3: the same records minus the 98 records, DBC_PRESTATIECODE, DECLARATIECODE,
DIAGNOSECODE_DSM4 and TYPE_VERWIJZER as the policy left them, IDENTIFICATIE_DETAILRECORD renumbered,
the 99 record's comment and detail counts updated, amounts unchanged, CR LF record ends.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Final

from lxml import etree

from filters.adapters.base import OptoutSubject, Position, UnsupportedChange
from filters.codetables import CodeTables, load_tables
from filters.engine import FieldTuple, LineView, MessageView
from filters.fields import Value
from filters.policy import Policy
from filters.products import ProductTable
from gateway.fixedwidth.layout import Layout
from gateway.fixedwidth.records import EiMessage, LineRecord
from gateway.fixedwidth.stage import load_definitions
from gateway.fixedwidth.writer import write_tree

__all__ = ["MESSAGE_TYPES", "Jw321Adapter", "prestatiecode"]

MESSAGE_TYPES: Final = frozenset({"JW321"})
_TRIPLETS: Final = ("zorgtype", "diagnosis", "zorgvraagzwaarte", "productgroep")
_HEADER_PATHS: Final[Mapping[str, str]] = {
    "message_type": "/JW321/R01[1]/BERICHTCODE",
    "message_id": "/JW321/R01[1]/IDENTIFICATIE_BERICHT",
    "sender_agb": "/JW321/R01[1]/AGB_ZORGAANBIEDER",
    "municipality": "/JW321/R01[1]/GEMEENTECODE",
    "declaration_number": "/JW321/R01[1]/FACTUURNUMMER",
    "declaration_period": "/JW321/R01[1]/BEGINDATUM_DECLARATIEPERIODE",
}
# Line fields -> the 04 record field that holds them.
_RECORD_FIELDS: Final[Mapping[str, str]] = {
    "client_bsn": "BSN",
    "reference": "REFERENTIENUMMER",
    "previous_reference": "VORIG_REFERENTIENUMMER",
    "product_code": "DECLARATIECODE",
    "product_period": "BEGINDATUM_DBC",
    "tariff_cents": "TARIEF",
    "amount_cents": "DECLARATIEBEDRAG",
    "debit_credit": "INDICATIE_DEBET_CREDIT",
    "zorgtype": "DBC_PRESTATIECODE",
    "diagnosis": "DBC_PRESTATIECODE",
    "zorgvraagzwaarte": "DBC_PRESTATIECODE",
    "productgroep": "DBC_PRESTATIECODE",
    "dsm_code": "DIAGNOSECODE_DSM4",
    "type_verwijzer": "TYPE_VERWIJZER",
}
# What a policy may change in a JW321 (D.3: only these four 04 fields change), with the length it must fit.
_WRITABLE: Final[Mapping[str, int]] = {
    "zorgtype": 3,
    "diagnosis": 3,
    "zorgvraagzwaarte": 3,
    "productgroep": 3,
    "product_code": 6,
    "dsm_code": 10,
    "type_verwijzer": 2,
}
_BLANKABLE: Final = frozenset({"dsm_code"})


def prestatiecode(fields: Mapping[str, Value]) -> Value:
    """The 12-position DBC prestatiecode from the four triplets (the minimised ones, in billing)."""
    return "".join(str(fields.get(name) or "000") for name in _TRIPLETS)


@cache
def _layout() -> Layout:
    return next(layout for layout in load_definitions().layouts if layout.message == "JW321")


def _applies(rule_types: frozenset[Value] | None) -> bool:
    return rule_types is None or "JW321" in rule_types


class Jw321Adapter:
    """Adapter for JW321. Code tables are those of ``filters.codetables`` (shipped, or overridden)."""

    message_types: frozenset[str] = MESSAGE_TYPES

    def __init__(self, tables: CodeTables | None = None) -> None:
        self._tables = tables

    @property
    def tables(self) -> CodeTables:
        if self._tables is None:
            self._tables = load_tables()
        return self._tables

    def check(self, policy: Policy) -> None:
        from filters.policy import PolicyError  # noqa: PLC0415 - keeps the import graph flat

        problems: list[str] = []
        for rule in policy.line_rules:
            if rule.action in ("keep", "tag", "restrict") or not rule.changes_message:
                continue
            types = next((allowed for name, allowed in rule.match if name == "message_type"), None)
            if not _applies(types):
                continue
            for name in rule.fields:
                if name in _WRITABLE:
                    if rule.action == "drop" and name not in _BLANKABLE:
                        problems.append(f'{rule.label}: "{name}" cannot be blank in a JW321')
                    elif rule.action == "pseudonymise":
                        problems.append(f'{rule.label}: "{name}" cannot hold a pseudonym in a JW321')
                elif name in _RECORD_FIELDS or name in _HEADER_PATHS:
                    problems.append(
                        f'{rule.label}: "{name}" cannot be changed in a JW321 (legacy-formats.md D.3); '
                        'add target = "billing" or limit match.message_type'
                    )
        if problems:
            raise PolicyError(f"policy {policy.name} cannot be applied to JW321: " + "; ".join(problems))

    def prepare(
        self,
        message: object,
        root: object,
        *,
        message_type: str,
        products: ProductTable,
        include: Callable[[Position], bool] | None = None,
    ) -> PreparedJw321:
        if not isinstance(message, EiMessage) or not isinstance(root, etree._Element):
            raise TypeError("the JW321 adapter needs an EiMessage record and its canonical tree")
        return PreparedJw321(message, root, message_type, self.tables, include)


class PreparedJw321:
    """A JW321 read for the engine."""

    __slots__ = ("_lines", "_message", "_root", "lines", "message_type", "optout_subjects")

    def __init__(
        self,
        message: EiMessage,
        root: etree._Element,
        message_type: str,
        tables: CodeTables,
        include: Callable[[Position], bool] | None,
    ) -> None:
        self._message = message
        self._root = root
        self.message_type = message_type
        h = message.header
        period = (h.begindatum_declaratieperiode.isoformat(), h.einddatum_declaratieperiode.isoformat())
        derived = {"dbc_prestatiecode": prestatiecode}
        views: list[LineView] = []
        lines: list[LineRecord] = []
        subjects: list[OptoutSubject | None] = []
        for line in message.lines:
            if include is not None and not include((line.line,)):
                continue
            code = line.dbc_prestatiecode
            zorgtype, diagnosis, zvz, productgroep = code[0:3], code[3:6], code[6:9], code[9:12]
            dsm = line.diagnosecode_dsm4
            group = tables.dsm4_group(dsm) if dsm else (tables.group_of_triplet(diagnosis) or "NONE")
            main_group = group if tables.main_groups[group].is_main_group else None
            z = tables.zorgtype(zorgtype)
            fields = FieldTuple(
                (
                    message_type,
                    h.identificatie_bericht.rstrip(),
                    h.agb_zorgaanbieder,
                    h.gemeentecode,
                    h.factuurnummer.rstrip(),
                    period,
                    line.bsn,
                    line.referentienummer,
                    line.vorig_referentienummer,
                    None,  # allocation_number: JW321 has none
                    None,  # product_category: none (D.4)
                    line.declaratiecode,
                    (line.begindatum_dbc.isoformat(), line.einddatum_dbc.isoformat()),
                    None,  # volume
                    None,  # unit
                    line.tarief,
                    line.declaratiebedrag,
                    line.indicatie_debet_credit,
                    None,
                    main_group,
                    code,
                    None,
                ),
                {
                    "zorgtype": zorgtype,
                    "diagnosis": diagnosis,
                    "zorgvraagzwaarte": zvz,
                    "productgroep": productgroep,
                    "dsm_code": dsm,
                    "type_verwijzer": line.type_verwijzer,
                },
            )
            attrs: dict[str, Value] = {
                "message_type": message_type,
                "municipality": h.gemeentecode,
                "product_code": line.declaratiecode,
                "debit_credit": line.indicatie_debet_credit,
                "ggz_class": tables.line_class(zorgtype, productgroep),
                "zorgtype": zorgtype,
                "zorgtype_judicial": bool(z is not None and z.judicial),
                "main_group": group,
            }
            views.append(LineView(fields, attrs, derived))
            lines.append(line)
            subjects.append(OptoutSubject(line.bsn, h.agb_zorgaanbieder, h.dagtekening))
        self.lines: Sequence[LineView] = views
        self._lines: Sequence[LineRecord] = lines
        self.optout_subjects: Sequence[OptoutSubject | None] = subjects

    @property
    def positions(self) -> tuple[Position, ...]:
        return tuple((line.line,) for line in self._lines)

    @property
    def message_view(self) -> MessageView | None:
        count = len(self._message.comments)
        return MessageView({"comments": count or None}, {"message_type": self.message_type})

    def paths(self, line: int | None, field: str | None) -> tuple[str, ...]:
        if field is not None and field in _HEADER_PATHS:
            return (_HEADER_PATHS[field],)
        if line is None:
            if field == "comments":
                return tuple(f"/JW321/R98[{c.line}]" for c in self._message.comments)
            return ("/JW321",)
        base = f"/JW321/R04[{self._lines[line].line}]"
        name = _RECORD_FIELDS.get(field or "")
        return (f"{base}/{name}" if name else base,)

    def render(
        self, line_changes: Sequence[Mapping[str, Value]], message_changes: Mapping[str, Value]
    ) -> str:
        root = copy.deepcopy(self._root)
        ns = str(root.tag)[: str(root.tag).index("}") + 1]
        by_line = {int(e.get("line") or 0): e for e in root}
        for index, changes in enumerate(line_changes):
            if changes:
                self._apply(by_line[self._lines[index].line], ns, changes, self.lines[index].fields)
        if "comments" in message_changes:
            if message_changes["comments"] is not None:
                raise UnsupportedChange("comment records can only be dropped")
            for element in [e for e in root if str(e.tag) == f"{ns}R98"]:
                root.remove(element)
        _renumber(root, ns)
        return write_tree(root, _layout()).decode("ascii")

    def _apply(
        self, record: etree._Element, ns: str, changes: Mapping[str, Value], before: Mapping[str, Value]
    ) -> None:
        def put(name: str, value: Value) -> None:
            child = record.find(f"{ns}{name}")
            if value is None:
                if child is not None:
                    record.remove(child)
                return
            if child is None:
                child = etree.SubElement(record, f"{ns}{name}")
            child.text = str(value)

        for name, value in changes.items():
            width = _WRITABLE.get(name)
            if width is None or (value is None and name not in _BLANKABLE):
                raise UnsupportedChange(f'the policy produced a change of "{name}" that a JW321 cannot carry')
            if value is not None and (
                not isinstance(value, str) or len(value) > width or not value.isascii()
            ):
                raise UnsupportedChange(f'the policy produced a value for "{name}" that does not fit a JW321')
        if any(name in changes for name in _TRIPLETS):
            put("DBC_PRESTATIECODE", prestatiecode({**before, **changes}))
        if "product_code" in changes:
            put("DECLARATIECODE", changes["product_code"])
        if "dsm_code" in changes:
            put("DIAGNOSECODE_DSM4", changes["dsm_code"])
        if "type_verwijzer" in changes:
            put("TYPE_VERWIJZER", changes["type_verwijzer"])

    def fragment(self, line: int) -> str:
        record = next(e for e in self._root if int(e.get("line") or 0) == self._lines[line].line)
        values = {str(c.tag).rpartition("}")[2]: c.text or "" for c in record}
        values.pop("KENMERK_RECORD", None)
        return "04 " + " ".join(f"{k}={v}" for k, v in values.items())


def _renumber(root: etree._Element, ns: str) -> None:
    """D.3: detail records numbered 1, 2, ... in file order; the 99 record's counts follow the file."""
    number = 0
    comments = 0
    for element in root:
        tag = str(element.tag)
        if tag in (f"{ns}R02", f"{ns}R04", f"{ns}R98"):
            number += 1
            comments += tag == f"{ns}R98"
            ident = element.find(f"{ns}IDENTIFICATIE_DETAILRECORD")
            if ident is not None:
                ident.text = str(number)
        elif tag == f"{ns}R99":
            for name, value in (
                ("AANTAL_COMMENTAARRECORDS", comments),
                ("TOTAAL_AANTAL_DETAILRECORDS", number),
            ):
                child = element.find(f"{ns}{name}")
                if child is not None:
                    child.text = str(value)
