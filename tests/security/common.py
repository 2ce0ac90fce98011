"""Shared material of the security tests: canaries, planted messages, the pipeline with the real policy.

Canaries are values a sender controls that must never leave the gateway except where the contract puts
them (the BSN in ``client_bsn`` of a billing record and in the answer to the sender; the full original in
the restricted channel). Failure messages name the canary kind, never the canary.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import date
from functools import cache
from typing import Any

from filters.policy import default_policy
from filters.products import default_products_text, parse_products
from gateway.minimise import Minimiser, pipeline_step
from gateway.pipeline import Environment, Minimised
from gateway.retour.plan import AnswerPlan
from gateway.stores.optouts import MemoryOptouts
from gateway.testing.builders import Client, render
from gateway.testing.builders_ei import b7_declaration, render_ei
from gateway.validation import Checked, Validator
from tests.helpers import BASE, LINE_A, LINE_B, LINE_C, LINE_D, TODAY

CANARY_BSN = "999912343"  # 9999-range test BSN passing the eleven-test: messages carrying it stay valid
CANARY_NAME = "Pietje-Kanarie"
CANARY_DIAG = "F90.0"  # an ICD-10 diagnosis written into a comment (OP191: expect it there)
CANARY_DSM = "296.32"  # the DSM-IV code of the first JW321 line (legacy-formats.md B.7)
DISORDER_CODE = "53A01"  # names a disorder for municipality 0384 in the shipped product table
SENDER = BASE.sender  # 12345678
HMAC_KEY = b"security-tests-hmac-key-0123456789"

CANARIES: dict[str, str] = {
    "bsn": CANARY_BSN,
    "name": CANARY_NAME,
    "diagnosis": CANARY_DIAG,
    "dsm": CANARY_DSM,
}


def leaks(text: str, canaries: Mapping[str, str] = CANARIES) -> list[str]:
    """The kinds of canary found in ``text`` (never the canary itself), also URL-encoded."""
    found = []
    for kind, canary in canaries.items():
        if canary in text or canary.replace(".", "%2E") in text:
            found.append(kind)
    return found


def planted_declaration(message_id: str = "S0001", *, disorder: bool = True, sender: str = SENDER) -> bytes:
    """A valid JW323 whose first client has the canary BSN (line R1 on the disorder code when asked), with
    the name and diagnosis canaries in comments and processing instructions in the header and the client."""
    line_a = replace(LINE_A, category="53", code=DISORDER_CODE) if disorder else LINE_A
    message = replace(
        BASE,
        message_id=message_id,
        sender=sender,
        clients=(Client(CANARY_BSN, (line_a, LINE_B)), Client("999900018", (LINE_C, LINE_D))),
    )
    xml = render(message)
    note = f"<!-- client {CANARY_NAME}, diagnose {CANARY_DIAG} --><?note {CANARY_NAME} {CANARY_DIAG}?>"
    head, _, rest = xml.partition(b"?>")
    xml = head + b"?>" + note.encode() + rest
    bsn = f"<jw323:Bsn>{CANARY_BSN}</jw323:Bsn>".encode()
    assert bsn in xml
    return xml.replace(bsn, note.encode() + bsn, 1)


def planted_jw321() -> bytes:
    """The B.7 JW321 (DSM-IV codes 296.32, 300.02, 314.01 and a comment), valid as it stands."""
    return render_ei(b7_declaration())


def optouts() -> MemoryOptouts:
    """The canary client opted out with the sender, so R1 (disorder-naming code) is restricted."""
    register = MemoryOptouts(HMAC_KEY)
    register.add(CANARY_BSN, SENDER, date(2025, 1, 1))
    return register


Step = Callable[[Checked, AnswerPlan | None, Environment], Minimised]


@cache
def _step() -> Step:
    minimiser = Minimiser(default_policy(), parse_products(default_products_text()), key=HMAC_KEY)
    return pipeline_step(minimiser, optouts())


def minimiser_factory() -> Step:
    """A module-level (picklable) ``minimiser_factory``: default policy, shipped products, the opt-out."""
    return _step()


def environment() -> Environment:
    return Environment(Validator(), TODAY, minimiser=minimiser_factory())


_BSN_FIELD = re.compile(r'"client_bsn":\s*"\d{9}"')


def billing_without_bsn_field(records: Iterable[Mapping[str, Any]]) -> str:
    """Billing records as JSON text with the one field that may carry the BSN blanked out."""
    return _BSN_FIELD.sub('"client_bsn": "-"', "\n".join(json.dumps(dict(r)) for r in records))
