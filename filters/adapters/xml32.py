"""Adapter for the 3.2 declarations (JW323, WMO323): records + parsed tree <-> neutral line views.

The line views are built from the records the validation core already read
(:class:`gateway.model.Declaration`), so minimising a message reads no XML twice. The filtered message is
the parsed tree (comments and processing instructions were dropped at intake) serialised again, with the
policy's changes written into a copy of the tree; the tree of the check is never modified.

What the format can carry: every 323 element is mandatory or tied to another by a rule (CD087: a tariff
exactly when the unit is not euro), so the only field a policy may change in the filtered message is
``ProductCode`` (``neutralise``/``coarsen`` to another code of 1-5 characters). Everything else can be
changed in billing only (``target = "billing"``); :meth:`Xml32Adapter.check` rejects a policy that asks
for more, naming the rule.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Final

from lxml import etree

from filters.adapters.base import OptoutSubject, Position, UnsupportedChange
from filters.engine import FieldTuple, LineView, MessageView
from filters.fields import Value
from filters.policy import Policy, PolicyError, Rule
from filters.products import ProductInfo, ProductTable
from gateway.model import Declaration, Line, client_path, line_path

__all__ = [
    "FIELD_LEAVES",
    "MESSAGE_TYPES",
    "PRODUCT_CODE",
    "XML_DECLARATION",
    "Xml32Adapter",
    "check_writable",
]

MESSAGE_TYPES: Final = frozenset({"JW323", "WMO323"})
DECL: Final = "/Bericht/Declaratie"
XML_DECLARATION: Final = '<?xml version="1.0" encoding="UTF-8"?>\n'

#: Where each field lives: absolute paths for message-level fields, leaves below the Prestatie otherwise.
_MESSAGE_PATHS: Final[Mapping[str, str]] = {
    "message_type": "/Bericht/Header/BerichtCode",
    "message_id": "/Bericht/Header/BerichtIdentificatie/Identificatie",
    "sender_agb": "/Bericht/Header/Afzender",
    "municipality": "/Bericht/Header/Ontvanger",
    "declaration_number": f"{DECL}/DeclaratieNummer",
    "declaration_period": f"{DECL}/DeclaratiePeriode",
}
FIELD_LEAVES: Final[Mapping[str, str]] = {
    "reference": "ProductReferentie/ReferentieNummer",
    "previous_reference": "ProductReferentie/VorigReferentieNummer",
    "allocation_number": "ToewijzingNummer",
    "product_category": "ProductCategorie",
    "product_code": "ProductCode",
    "product_period": "ProductPeriode",
    "volume": "GeleverdVolume",
    "unit": "Eenheid",
    "tariff_cents": "ProductTarief",
    "amount_cents": "IngediendBedrag/Bedrag",
    "debit_credit": "IngediendBedrag/DebetCredit",
}
_KNOWN_FIELDS: Final = frozenset(_MESSAGE_PATHS) | frozenset(FIELD_LEAVES) | {"client_bsn"}

# The one field a policy may rewrite in the filtered 323, with its allowed actions and value check.
PRODUCT_CODE = re.compile(r"(?=.*\S)[!-~ ]{1,5}\Z")  # LDT_ProductCode, printable ASCII
_WRITABLE: Final[Mapping[str, frozenset[str]]] = {"product_code": frozenset({"neutralise", "coarsen"})}
_PRODUCT_CODE_INDEX = 3  # position of ProductCode among the children of a Prestatie

_NO_PRODUCT = ProductInfo(reveals_disorder=False, neutral_code=None, special_category=False)
_ATTRS_CACHE_LIMIT = 4096
# Attributes of a line depend only on the product (and table, type, municipality): built once per
# distinct product and shared, read-only, by the views of every message (the engine never mutates them).
AttrsKey = tuple[ProductTable, str, str, str, str, str, str]


def _applies_to(rule: Rule, message_types: frozenset[str]) -> bool:
    return all(name != "message_type" or allowed & message_types for name, allowed in rule.match)


def check_writable(policy: Policy, message_types: frozenset[str], known_fields: frozenset[str]) -> None:
    """Reject a policy that would change, in a message of these (XML) types, a field other than a
    ProductCode, or a ProductCode other than by a replacement code (every other element is mandatory or
    tied to another by a rule). Fields the format does not have are ignored (the rule never applies)."""
    names = "/".join(sorted(message_types))
    problems: list[str] = []
    for rule in policy.line_rules:
        if rule.action in ("keep", "tag", "restrict") or not rule.changes_message:
            continue
        if not _applies_to(rule, message_types):
            continue
        for name in rule.fields:
            if name not in known_fields:
                continue
            actions = _WRITABLE.get(name)
            if actions is None:
                problems.append(
                    f'{rule.label}: "{name}" cannot be changed in a {names} message; '
                    'add target = "billing" or limit match.message_type'
                )
            elif rule.action not in actions:
                problems.append(
                    f'{rule.label}: "{name}" in a {names} can only be replaced by another code '
                    f"({' or '.join(sorted(actions))}), not {rule.action}"
                )
            elif rule.value is not None and (
                not isinstance(rule.value, str) or not PRODUCT_CODE.match(rule.value)
            ):
                problems.append(f"{rule.label}: value is not a ProductCode (1-5 printable characters)")
    if problems:
        raise PolicyError(
            f"policy {policy.name} cannot be applied to {names} messages: " + "; ".join(problems)
        )


class Xml32Adapter:
    """Adapter for JW323 / WMO323. One instance serves every message (it only memoises attributes)."""

    message_types: frozenset[str] = MESSAGE_TYPES

    def __init__(self) -> None:
        self._attrs: dict[AttrsKey, dict[str, Value]] = {}

    def check(self, policy: Policy) -> None:
        check_writable(policy, MESSAGE_TYPES, _KNOWN_FIELDS)

    def prepare(
        self,
        message: object,
        root: object,
        *,
        message_type: str,
        products: ProductTable,
        include: Callable[[Position], bool] | None = None,
    ) -> Prepared32:
        if not isinstance(message, Declaration) or not isinstance(root, etree._Element):
            raise TypeError("the 3.2 adapter needs a Declaration record and its parsed tree")
        return Prepared32(message, root, message_type, products, include=include, attrs_cache=self._attrs)


class Prepared32:
    """A 323 read for the engine."""

    __slots__ = ("_declaration", "_lines", "_root", "lines", "message_type", "optout_subjects")

    def __init__(
        self,
        declaration: Declaration,
        root: etree._Element,
        message_type: str,
        products: ProductTable,
        *,
        include: Callable[[Position], bool] | None,
        attrs_cache: dict[AttrsKey, dict[str, Value]],
    ) -> None:
        self._declaration = declaration
        self._root = root
        self.message_type = message_type
        header = declaration.header
        municipality = header.receiver
        period = (declaration.period_start.isoformat(), declaration.period_end.isoformat())
        number = declaration.number
        message_id = header.message_id
        sender = header.sender
        lookup = products.lookup
        iso: dict[date, str] = {}
        views: list[LineView] = []
        lines: list[Line] = []
        subjects: list[OptoutSubject | None] = []
        for client in declaration.clients:
            subject = OptoutSubject(client.bsn, header.sender, declaration.declaration_date)
            bsn = client.bsn
            for line in client.lines:
                if include is not None and not include((line.client, line.position)):
                    continue
                category, code = line.category, line.code
                unit, debit_credit = line.unit, line.debit_credit
                start, end = line.period_start, line.period_end
                start_text = iso.get(start) or iso.setdefault(start, start.isoformat())
                end_text = iso.get(end) or iso.setdefault(end, end.isoformat())
                fields = FieldTuple(
                    (
                        message_type,
                        message_id,
                        sender,
                        municipality,
                        number,
                        period,
                        bsn,
                        line.reference,
                        line.previous_reference,
                        line.allocation,
                        category,
                        code,
                        (start_text, end_text),
                        line.volume,
                        unit,
                        line.tariff,
                        line.amount,
                        debit_credit,
                        None,  # special_category: set by the policy
                        None,  # diagnosis_main_group: JW321 only
                        None,  # dbc_prestatiecode: JW321 only
                        None,  # restricted: set by the policy
                    )
                )
                key = (products, message_type, municipality, category, code, unit, debit_credit)
                attrs = attrs_cache.get(key)
                if attrs is None:
                    if len(attrs_cache) >= _ATTRS_CACHE_LIMIT:
                        attrs_cache.clear()
                    info = lookup(municipality, category, code) or _NO_PRODUCT
                    attrs = attrs_cache[key] = {
                        "message_type": message_type,
                        "municipality": municipality,
                        "product_category": category,
                        "product_code": code,
                        "unit": unit,
                        "debit_credit": debit_credit,
                        "reveals_disorder": info.reveals_disorder,
                        "has_neutral_code": info.neutral_code is not None,
                        "neutral_code": info.neutral_code,
                        "municipal_special": info.special_category,
                    }
                views.append(LineView(fields, attrs))
                lines.append(line)
                subjects.append(subject)
        # Lists, not tuples: read-only by contract, and copying them would cost on every message.
        self.lines: Sequence[LineView] = views
        self._lines: Sequence[Line] = lines
        self.optout_subjects: Sequence[OptoutSubject | None] = subjects

    @property
    def positions(self) -> tuple[Position, ...]:
        return tuple((line.client, line.position) for line in self._lines)

    @property
    def message_view(self) -> MessageView | None:
        return None  # a 323 has no message-level fields a policy could change

    def paths(self, line: int | None, field: str | None) -> tuple[str, ...]:
        if field is not None and field in _MESSAGE_PATHS:
            return (_MESSAGE_PATHS[field],)
        if line is None:
            return (DECL,)
        clients = self._declaration.clients
        record = self._lines[line]
        if field == "client_bsn":
            return (f"{client_path(DECL, clients, record.client)}/Bsn",)
        leaf = FIELD_LEAVES.get(field or "", "")
        return (line_path(DECL, clients, record, leaf),)

    def render(
        self, line_changes: Sequence[Mapping[str, Value]], message_changes: Mapping[str, Value]
    ) -> str:
        root = self._root
        if any(line_changes):
            root = copy.deepcopy(root)
            clienten = root[1][4]
            for index, changes in enumerate(line_changes):
                if not changes:
                    continue
                record = self._lines[index]
                prestatie = clienten[record.client][1][record.position]
                for name, value in changes.items():
                    if name != "product_code" or not isinstance(value, str) or not PRODUCT_CODE.match(value):
                        raise UnsupportedChange(
                            f'the policy produced a value for "{name}" that a JW323/WMO323 cannot carry'
                        )
                    prestatie[_PRODUCT_CODE_INDEX].text = value
        return XML_DECLARATION + etree.tostring(root, encoding="unicode")

    def fragment(self, line: int) -> str:
        record = self._lines[line]
        prestatie = self._root[1][4][record.client][1][record.position]
        return etree.tostring(prestatie, encoding="unicode")
