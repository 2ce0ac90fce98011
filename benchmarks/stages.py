"""The pipeline stage by stage, and billing serialisation: timed rounds shared by the suites and the harness.

Stage rounds (:func:`stage_rounds`), each over every message of a corpus, each one step further than
the one before:

``raw_lxml``
    the baseline of :mod:`benchmarks.messages` (parse + XSD validate);
``validate``
    ``Validator.check`` (transport, parse, XSD, records, rules);
``+answer``
    ``pipeline.process`` without a minimiser: + de-duplication key, answer plan, the 325 answer;
``+minimise``
    ``pipeline.process`` with the production minimiser: + billing records, filtered message, audit;
``pipeline``
    + every billing record as the JSON line the file outbox writes: the full pipeline.

Billing rounds (:func:`billing_rounds`), over every billing record of a corpus (prepared beforehand):

``record_text``
    ``gateway.billing.record_text(values)``: the gateway's pre-encoded template (``billing_lines()``);
``outbox_json``
    ``json.dumps({"message_key": ..., **record}, ensure_ascii=False)``: what the file outbox writes for
    each record of ``Outcome.minimised.billing`` (and what the pipeline variant times);
``stdlib_json``
    ``json.dumps(record_from_values(values))``: the plain standard-library baseline;
``raw_lxml``
    the corpus's raw lxml round, for scale: the figure is per *record* here as well.
"""

from __future__ import annotations

import json
from typing import Final

from benchmarks.messages import (
    BENCH_HMAC_KEY,
    SOURCE,
    TODAY,
    Corpus,
    Round,
    make_round,
    pipeline_environment,
)
from gateway.billing import record_from_values, record_text
from gateway.outbox.files import message_key_text
from gateway.pipeline import Environment, process
from gateway.validation import Validator

__all__ = ["BILLING_VARIANTS", "STAGE_VARIANTS", "Timed", "billing_rounds", "records_of", "stage_rounds"]

STAGE_VARIANTS: Final = ("raw_lxml", "validate", "+answer", "+minimise", "pipeline")
BILLING_VARIANTS: Final = ("record_text", "outbox_json", "stdlib_json", "raw_lxml")

#: (round, expected return value, units per round)
Timed = tuple[Round, int, int]


def stage_rounds(c: Corpus) -> dict[str, Timed]:
    """One round per pipeline stage over ``c`` (see the module docstring); each returns the valid count."""
    messages = c.messages
    count = c.count
    full = pipeline_environment()
    validator = full.validator
    answer_only = Environment(validator, TODAY)

    def validate() -> int:
        check = validator.check
        return sum(check(data, SOURCE, today=TODAY).verdict.valid for data in messages)

    def answer() -> int:
        return sum(process(data, SOURCE, answer_only).verdict.valid for data in messages)

    def minimise() -> int:
        return sum(process(data, SOURCE, full).verdict.valid for data in messages)

    return {
        "raw_lxml": (make_round("raw_lxml", c), count, count),
        "validate": (validate, count, count),
        "+answer": (answer, count, count),
        "+minimise": (minimise, count, count),
        "pipeline": (make_round("pipeline", c), count, count),
    }


def records_of(c: Corpus) -> tuple[list[tuple[str, dict[str, object]]], list[tuple[object, ...]]]:
    """The billing records of a corpus: (message key, JSON object) pairs and the value tuples."""
    from filters.policy import default_policy  # noqa: PLC0415
    from filters.products import default_products  # noqa: PLC0415
    from gateway.minimise import Minimiser  # noqa: PLC0415

    env = pipeline_environment()
    objects: list[tuple[str, dict[str, object]]] = []
    for data in c.messages:
        outcome = process(data, SOURCE, env)
        key = message_key_text(outcome.dedup_key)
        objects.extend((key, dict(record)) for record in outcome.minimised.billing)
    minimiser = Minimiser(default_policy(), default_products(), key=BENCH_HMAC_KEY.encode())
    validator = Validator()
    values: list[tuple[object, ...]] = []
    for data in c.messages:
        values.extend(minimiser.minimise(validator.check(data, SOURCE, today=TODAY)).records)
    return objects, values


def billing_rounds(c: Corpus) -> dict[str, Timed]:
    """One round per billing serialisation over every record of ``c``; each returns the record count."""
    objects, values = records_of(c)
    n = len(values)
    dumps = json.dumps

    def text() -> int:
        return len([record_text(v) for v in values])  # type: ignore[arg-type]

    def outbox() -> int:
        return len([dumps({"message_key": key, **record}, ensure_ascii=False) for key, record in objects])

    def stdlib() -> int:
        return len([dumps(record_from_values(v)) for v in values])  # type: ignore[arg-type]

    raw = make_round("raw_lxml", c)
    per_message = n // c.count if c.count else 0

    def raw_scaled() -> int:
        return raw() * per_message

    rounds: dict[str, Timed] = {
        "record_text": (text, n, n),
        "outbox_json": (outbox, len(objects), len(objects)),
        "stdlib_json": (stdlib, n, n),
        "raw_lxml": (raw_scaled, c.count * per_message, n),
    }
    return rounds
