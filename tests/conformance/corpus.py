"""Valid messages of the four 3.2 types, built with :mod:`gateway.testing.builders`.

Every sample is XSD-valid; the differential test mutates them. The corpus covers both serialisation
styles (prefixed and default namespace), CRLF and LF, indented and single-line output, declarations with
credit lines (VorigReferentieNummer) and unit 83 lines (no ProductTarief), and answers with and without
DeclaratieAntwoord, Clienten and XsltVersie.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

from gateway.testing.builders import Declaration, Family, answer_for, random_declaration, render

KINDS = ("JW323", "JW325", "WMO323", "WMO325")
FAMILY_OF: dict[str, Family] = {"JW323": "ijw", "JW325": "ijw", "WMO323": "iwmo", "WMO325": "iwmo"}


@dataclass(frozen=True, slots=True)
class Sample:
    """One valid message of a given type."""

    kind: str
    label: str
    data: bytes


def _is_rich(d: Declaration) -> bool:
    """At least two clients, a credit line, a unit 83 line and a line with a tariff."""
    lines = [line for c in d.clients for line in c.lines]
    return (
        len(d.clients) >= 2
        and any(line.previous_reference is not None for line in lines)
        and any(line.tariff is None for line in lines)
        and any(line.tariff is not None for line in lines)
    )


def rich_declarations(family: Family, count: int) -> list[tuple[int, Declaration]]:
    """The first ``count`` seeds (from 0) whose 3-client, 4-line declaration is rich (deterministic)."""
    found: list[tuple[int, Declaration]] = []
    seed = 0
    while len(found) < count:
        d = random_declaration(random.Random(seed), family=family, clients=3, lines_per_client=4)
        if _is_rich(d):
            found.append((seed, d))
        seed += 1
    return found


def _declarations(family: Family, kind: str) -> list[Sample]:
    (s1, rich1), (s2, rich2) = rich_declarations(family, 2)
    plain3 = random_declaration(random.Random(1003), family=family)
    plain4 = random_declaration(random.Random(1004), family=family)
    return [
        Sample(kind, f"seed{s1}-prefixed-crlf", render(rich1, prefixed=True, crlf=True)),
        Sample(kind, f"seed{s2}-default-lf", render(rich2, prefixed=False, crlf=False)),
        Sample(kind, "seed1003-prefixed-lf-flat", render(plain3, prefixed=True, crlf=False, indent=False)),
        Sample(kind, "seed1004-default-crlf-flat", render(plain4, prefixed=False, crlf=True, indent=False)),
    ]


def _answers(family: Family, kind: str) -> list[Sample]:
    ((_, rich),) = rich_declarations(family, 1)
    lines = [line for c in rich.clients for line in c.lines]
    credit = next(line for line in lines if line.previous_reference is not None)
    no_tariff = next(line for line in lines if line.tariff is None)
    with_tariff = next(line for line in lines if line.tariff is not None)
    rejected = {
        credit.reference: ("9390",),
        no_tariff.reference: ("9338", "9340"),
        with_tariff.reference: ("0611",),
    }
    header_only = answer_for(
        rich, message_id="R1", body=False, header_retourcodes=("0001",), xslt_version="1.0.0"
    )
    granted = answer_for(rich, message_id="R2")
    partial_xslt = answer_for(rich, message_id="R3", rejected=rejected, xslt_version="3.2.1")
    partial = answer_for(rich, message_id="R4", rejected=rejected)
    return [
        Sample(kind, "header-only-xslt-prefixed-crlf", render(header_only, prefixed=True, crlf=True)),
        Sample(kind, "granted-no-clienten-default-lf", render(granted, prefixed=False, crlf=False)),
        Sample(kind, "rejected-lines-xslt-prefixed-crlf", render(partial_xslt, prefixed=True, crlf=True)),
        Sample(
            kind, "rejected-lines-default-lf-flat", render(partial, prefixed=False, crlf=False, indent=False)
        ),
    ]


@functools.cache
def valid_corpus() -> tuple[Sample, ...]:
    """All valid samples of all four types (built once per process)."""
    samples: list[Sample] = []
    for kind in KINDS:
        family = FAMILY_OF[kind]
        samples += _declarations(family, kind) if kind.endswith("323") else _answers(family, kind)
    return tuple(samples)
