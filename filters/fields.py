"""The neutral vocabulary of the policy engine: field names, match attributes and their kinds.

Every message format reaches the engine through an adapter that describes each declaration line as a
*line view*: a mapping of the field names below to values, plus match attributes. A policy file may only
name fields and attributes listed here, so a typo is an error at load time instead of a rule that silently
never applies.

* **Billing fields** are the fields of the billing record (names fixed by the interface contract, in that
  order). ``special_category`` is set by ``tag`` rules and ``restricted`` by ``restrict`` rules; neither
  can be kept or changed by other actions.
* **Source fields** exist in a message but not in the billing record (today: the JW321 DBC parts). Rules
  may change them in the filtered message; they never reach billing.
* **Message fields** belong to the message as a whole (rules with ``scope = "message"``).
* **Attributes** are what ``match`` tests. ``str`` attributes match a string or a list of strings,
  ``bool`` attributes match ``true``/``false``. ``special_category`` is also an attribute: it is true once
  an earlier ``tag`` rule set it for the line.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "ATTRIBUTES",
    "BILLING_FIELDS",
    "FLAG_FIELDS",
    "LINE_FIELDS",
    "MESSAGE_FIELDS",
    "POLICY_SET_FIELDS",
    "SOURCE_FIELDS",
    "AttributeKind",
    "Value",
]

#: A field value in a line view: JSON-ready scalars, or a (start, end) pair of ISO dates for periods.
Value = str | int | bool | tuple[str, str] | None

#: The billing record, in output order (interfaces.md, "Billing record").
BILLING_FIELDS: tuple[str, ...] = (
    "message_type",
    "message_id",
    "sender_agb",
    "municipality",
    "declaration_number",
    "declaration_period",
    "client_bsn",
    "reference",
    "previous_reference",
    "allocation_number",
    "product_category",
    "product_code",
    "product_period",
    "volume",
    "unit",
    "tariff_cents",
    "amount_cents",
    "debit_credit",
    "special_category",
    "diagnosis_main_group",
    "dbc_prestatiecode",
    "restricted",
)

#: Boolean billing fields set by ``tag`` rules (false unless a rule tags the line).
FLAG_FIELDS: frozenset[str] = frozenset({"special_category"})

#: Billing fields only the engine itself sets (flags by ``tag``, ``restricted`` by ``restrict``).
POLICY_SET_FIELDS: frozenset[str] = FLAG_FIELDS | {"restricted"}

#: Line fields that are not part of the billing record (JW321 prestatiecode parts and record fields).
SOURCE_FIELDS: frozenset[str] = frozenset(
    {
        "zorgtype",  # DBC prestatiecode triplet 1
        "diagnosis",  # triplet 2, diagnoseclassificatie
        "zorgvraagzwaarte",  # triplet 3
        "productgroep",  # triplet 4
        "dsm_code",  # DIAGNOSECODE_DSM4
        "type_verwijzer",  # TYPE_VERWIJZER
    }
)

#: Every field a line rule may name.
LINE_FIELDS: frozenset[str] = (frozenset(BILLING_FIELDS) - {"restricted"}) | SOURCE_FIELDS

#: Fields of a whole message (``scope = "message"``): JW321 98 comment records.
MESSAGE_FIELDS: frozenset[str] = frozenset({"comments"})

AttributeKind = Literal["str", "bool"]

#: Match attributes and their kinds.
ATTRIBUTES: dict[str, AttributeKind] = {
    "message_type": "str",  # JW323, WMO323, JW303D, ..., JW321
    "municipality": "str",  # CBS code of the receiving municipality
    "product_category": "str",
    "product_code": "str",
    "unit": "str",
    "debit_credit": "str",
    "reveals_disorder": "bool",  # municipal product table: the code names or implies a disorder
    "has_neutral_code": "bool",  # municipal product table: a neutral code exists for the entry
    "neutral_code": "str",  # municipal product table: the neutral code itself (for value_from)
    "municipal_special": "bool",  # municipal product table: health or vulnerability revealing
    "ggz_class": "str",  # JW321 line class: basis, diagnostiek, crisis, behandeling-kort, other, neutral
    "zorgtype": "str",  # JW321 triplet 1 as received
    "zorgtype_judicial": "bool",  # JW321: triplet 1 is a judicial zorgtype
    "main_group": "str",  # JW321 "main group in": HG01..HG14, ADJ, VCODE, NONE
    "optout": "bool",  # the opt-out register holds an active entry for this client and provider
    "special_category": "bool",  # set by an earlier tag rule
}
