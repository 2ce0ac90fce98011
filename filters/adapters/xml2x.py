"""Adapter for the 2.x declarations and invoices (JW303D/F, WMO303D/F): records + tree <-> line views.

Billing fields per legacy-formats.md A.7: the message id and the declaration number are both the
DeclarantFactuurNummer, the period is the header's DeclaratiePeriode, ToewijzingNummer and ProductCode may
be absent (null). The opt-out register is asked on the FactuurDagtekening (clarifications 14).

As for 3.2, the only field a policy may change in the filtered message is ``ProductCode``
(``neutralise``/``coarsen`` to another code of 1-5 characters); on a line without a ProductCode there is
nothing to replace and the element is not added. Birth date and gender stay in the filtered 303 (part of
its element set, minimisation.md §6 row 7) and never reach billing (no billing field holds them).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Final

from lxml import etree

from filters.adapters.base import OptoutSubject, Position, UnsupportedChange
from filters.adapters.xml32 import FIELD_LEAVES, PRODUCT_CODE, XML_DECLARATION, check_writable
from filters.engine import FieldTuple, LineView, MessageView
from filters.fields import Value
from filters.policy import Policy
from filters.products import ProductInfo, ProductTable
from gateway.model_2x import CONTAINER, Declaration2x, Line2x, client_path_2x, line_path_2x

__all__ = ["MESSAGE_TYPES", "Xml2xAdapter"]

MESSAGE_TYPES: Final = frozenset({"JW303D", "JW303F", "WMO303D", "WMO303F"})
_IDENT = "/Bericht/Header/DeclaratieFactuurIdentificatie/DeclarantFactuurNummer"
_MESSAGE_PATHS: Final[Mapping[str, str]] = {
    "message_type": "/Bericht/Header/BerichtCode",
    "message_id": _IDENT,
    "sender_agb": "/Bericht/Header/Afzender",
    "municipality": "/Bericht/Header/Ontvanger",
    "declaration_number": _IDENT,
    "declaration_period": "/Bericht/Header/DeclaratiePeriode",
}
_LEAVES: Final[Mapping[str, str]] = {
    **FIELD_LEAVES,
    "amount_cents": "IngediendeBedragPrestatie/DeclaratieFactuurBedrag/Bedrag",
    "debit_credit": "IngediendeBedragPrestatie/DeclaratieFactuurBedrag/DebetCredit",
}
_NO_PRODUCT = ProductInfo(reveals_disorder=False, neutral_code=None, special_category=False)
_ATTRS_CACHE_LIMIT = 4096
AttrsKey = tuple[ProductTable, str, str, str, str | None, str, str]


class Xml2xAdapter:
    """Adapter for the 2.x 303 types. One instance serves every message (it only memoises attributes)."""

    message_types: frozenset[str] = MESSAGE_TYPES

    def __init__(self) -> None:
        self._attrs: dict[AttrsKey, dict[str, Value]] = {}

    def check(self, policy: Policy) -> None:
        check_writable(policy, MESSAGE_TYPES, frozenset(_MESSAGE_PATHS) | frozenset(_LEAVES) | {"client_bsn"})

    def prepare(
        self,
        message: object,
        root: object,
        *,
        message_type: str,
        products: ProductTable,
        include: Callable[[Position], bool] | None = None,
    ) -> Prepared2x:
        if not isinstance(message, Declaration2x) or not isinstance(root, etree._Element):
            raise TypeError("the 2.x adapter needs a Declaration2x record and its parsed tree")
        return Prepared2x(message, root, message_type, products, include=include, attrs_cache=self._attrs)


class Prepared2x:
    """A 303 read for the engine."""

    __slots__ = ("_declaration", "_lines", "_root", "lines", "message_type", "optout_subjects")

    def __init__(
        self,
        declaration: Declaration2x,
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
        municipality, sender, number = header.receiver, header.sender, declaration.number
        period = (declaration.period_start.isoformat(), declaration.period_end.isoformat())
        iso: dict[date, str] = {}
        views: list[LineView] = []
        lines: list[Line2x] = []
        subjects: list[OptoutSubject | None] = []
        for client in declaration.clients:
            subject = OptoutSubject(client.bsn, sender, declaration.declaration_date)
            for line in client.lines:
                if include is not None and not include((line.client, line.position)):
                    continue
                category, code, unit, debit_credit = line.category, line.code, line.unit, line.debit_credit
                start, end = line.period_start, line.period_end
                start_text = iso.get(start) or iso.setdefault(start, start.isoformat())
                end_text = iso.get(end) or iso.setdefault(end, end.isoformat())
                fields = FieldTuple(
                    (
                        message_type,
                        number,  # message_id: the DeclarantFactuurNummer identifies a 2.x message
                        sender,
                        municipality,
                        number,
                        period,
                        client.bsn,
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
                        None,
                        None,
                        None,
                        None,
                    )
                )
                key = (products, message_type, municipality, category, code, unit, debit_credit)
                attrs = attrs_cache.get(key)
                if attrs is None:
                    if len(attrs_cache) >= _ATTRS_CACHE_LIMIT:
                        attrs_cache.clear()
                    found = products.lookup(municipality, category, code) if code else None
                    info = found or _NO_PRODUCT
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
        self.lines: Sequence[LineView] = views
        self._lines: Sequence[Line2x] = lines
        self.optout_subjects: Sequence[OptoutSubject | None] = subjects

    @property
    def positions(self) -> tuple[Position, ...]:
        return tuple((line.client, line.position) for line in self._lines)

    @property
    def message_view(self) -> MessageView | None:
        return None

    def paths(self, line: int | None, field: str | None) -> tuple[str, ...]:
        if field is not None and field in _MESSAGE_PATHS:
            return (_MESSAGE_PATHS[field],)
        if line is None:
            return (CONTAINER,)
        clients = self._declaration.clients
        record = self._lines[line]
        if field == "client_bsn":
            return (f"{client_path_2x(clients, record.client)}/Bsn",)
        return (line_path_2x(clients, record, _LEAVES.get(field or "", "")),)

    def _prestatie(self, root: etree._Element, record: Line2x) -> etree._Element:
        return root[1][record.client][3][record.position]  # Clienten/Client/Prestaties/Prestatie

    def render(
        self, line_changes: Sequence[Mapping[str, Value]], message_changes: Mapping[str, Value]
    ) -> str:
        root = self._root
        if any(line_changes):
            root = copy.deepcopy(root)
            tag = f"{root.tag[: root.tag.index('}') + 1]}ProductCode"
            for index, changes in enumerate(line_changes):
                if not changes:
                    continue
                prestatie = self._prestatie(root, self._lines[index])
                for name, value in changes.items():
                    if name != "product_code" or not isinstance(value, str) or not PRODUCT_CODE.match(value):
                        raise UnsupportedChange(
                            f'the policy produced a value for "{name}" that a 2.x declaration cannot carry'
                        )
                    element = prestatie.find(tag)
                    if element is not None:  # a line without a ProductCode has nothing to replace
                        element.text = value
        return XML_DECLARATION + etree.tostring(root, encoding="unicode")

    def fragment(self, line: int) -> str:
        return etree.tostring(self._prestatie(self._root, self._lines[line]), encoding="unicode")
