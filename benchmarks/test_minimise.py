"""Minimisation overhead: validation alone vs validation + minimisation (+ JSON) on 3 KB JW323 messages.

Run with ``.venv/bin/pytest benchmarks/test_minimise.py -p no:randomly --benchmark-only`` (one
pytest-benchmark group, ``minimise 3KB``), or ``.venv/bin/python -m benchmarks.test_minimise`` for the
interleaved CPU-time comparison alone. The target: minimisation adds at most 25 % to validation time.

Variants (every one validates each message of the 3KB corpus of ``benchmarks/messages.py`` once a round):

``validate``
    ``Validator.check`` only: the reference.
``minimise+billing``
    + ``Minimiser.minimise`` with the default policy and the shipped product table, + every billing
    record as JSON text (what ``billing.jsonl`` and the billing topic carry).
``minimise+json``
    + the complete ``minimise --json`` line (billing records, the filtered message re-serialised from
    the tree, audit).
``minimise``
    + ``Minimiser.minimise`` only (billing records as values, no JSON): the policy's own cost.
``floor: records+JSON``
    no policy at all: + one record per line built straight from the 323 records and written as JSON -
    the least any minimising gateway in Python has to do for billing (it bounds the target).
``minimise+billing (opt-outs)``
    as ``minimise+billing`` on a corpus where every line carries a disorder-naming code and every client
    an opt-out (in memory): every line is restricted, and its original prepared for the restricted store.

The ratio test runs the variants interleaved (round by round, CPU time, medians), which is the figure to
quote; pytest-benchmark's own rows measure one variant after the other (wall time).
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from functools import cache

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks.messages import SOURCE, TODAY, corpus
from filters.policy import default_policy
from filters.products import default_products, parse_products
from gateway.billing import record_text
from gateway.minimise import Minimiser
from gateway.model import Declaration
from gateway.stores.optouts import MemoryOptouts
from gateway.testing.builders import Client, random_declaration, render
from gateway.validation import Validator

Round = Callable[[], int]
TARGET = 1.25
_OPTOUT_PRODUCTS = parse_products(
    'table_version = "bench"\n[[product]]\nmunicipality = "*"\ncategory = "45"\ncode = "45D01"\n'
    'reveals_disorder = true\nneutral_code = "45N01"\n'
)


@cache
def _optout_corpus() -> tuple[tuple[bytes, ...], MemoryOptouts]:
    """3 KB messages whose every line names a disorder, and an opt-out for every client."""
    register = MemoryOptouts()
    messages = []
    for i in range(50):
        d = random_declaration(random.Random(40_000 + i), clients=1, lines_per_client=2, today=TODAY)
        clients = tuple(
            Client(c.bsn, tuple(replace(x, category="45", code="45D01") for x in c.lines)) for c in d.clients
        )
        for c in clients:
            register.add(c.bsn, d.sender, date(2020, 1, 1))
        messages.append(render(replace(d, clients=clients)))
    return tuple(messages), register


def make_rounds() -> dict[str, tuple[Round, int]]:
    """Each variant's round and the number of messages it handles."""
    validator = Validator()
    minimiser = Minimiser(default_policy(), default_products())
    opted = Minimiser(default_policy(), _OPTOUT_PRODUCTS)
    messages = corpus("3KB").messages
    optout_messages, register = _optout_corpus()
    check = validator.check

    def validate() -> int:
        ok = 0
        for data in messages:
            ok += check(data, SOURCE, today=TODAY).verdict.valid
        return ok

    def minimise_only() -> int:
        ok = 0
        for data in messages:
            ok += bool(minimiser.minimise(check(data, SOURCE, today=TODAY)).records)
        return ok

    def floor() -> int:
        ok = 0
        for data in messages:
            m = check(data, SOURCE, today=TODAY).message
            assert isinstance(m, Declaration)
            h = m.header
            period = (m.period_start.isoformat(), m.period_end.isoformat())
            texts = [
                record_text(
                    (
                        "JW323", h.message_id, h.sender, h.receiver, m.number, period, c.bsn, x.reference,
                        x.previous_reference, x.allocation, x.category, x.code,
                        (x.period_start.isoformat(), x.period_end.isoformat()), x.volume, x.unit, x.tariff,
                        x.amount, x.debit_credit, False, None, None, False,
                    )
                )
                for c in m.clients
                for x in c.lines
            ]  # fmt: skip
            ok += bool(texts)
        return ok

    def billing() -> int:
        ok = 0
        for data in messages:
            result = minimiser.minimise(check(data, SOURCE, today=TODAY))
            ok += bool(result.billing_lines())
        return ok

    def full_json() -> int:
        ok = 0
        for data in messages:
            ok += bool(minimiser.minimise(check(data, SOURCE, today=TODAY)).json_line())
        return ok

    def optouts() -> int:
        ok = 0
        for data in optout_messages:
            result = opted.minimise(check(data, SOURCE, today=TODAY), register)
            ok += bool(result.billing_lines()) and result.restricted
        return ok

    return {
        "validate": (validate, len(messages)),
        "minimise": (minimise_only, len(messages)),
        "floor: records+JSON": (floor, len(messages)),
        "minimise+billing": (billing, len(messages)),
        "minimise+json": (full_json, len(messages)),
        "minimise+billing (opt-outs)": (optouts, len(optout_messages)),
    }


@cache
def _rounds() -> dict[str, tuple[Round, int]]:
    return make_rounds()


def interleaved(rounds: int = 25) -> dict[str, float]:
    """CPU time per message (median over ``rounds`` interleaved rounds), in microseconds."""
    variants = _rounds()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for run, _ in variants.values():
        run()  # warm-up
    for _ in range(rounds):
        for name, (run, count) in variants.items():
            start = time.process_time()
            run()
            times[name].append((time.process_time() - start) / count * 1e6)
    return {name: statistics.median(values) for name, values in times.items()}


def report(medians: dict[str, float]) -> list[str]:
    base = medians["validate"]
    lines = [f"{'variant':<30} {'us/msg':>8} {'x validate':>11}"]
    lines += [f"{name:<30} {us:>8.1f} {us / base:>11.3f}" for name, us in medians.items()]
    ratio = medians["minimise+billing"] / base
    lines.append(
        f"minimisation + billing JSON adds {ratio - 1:.0%} to validation (target <= {TARGET - 1:.0%}); "
        f"minimisation alone {medians['minimise'] / base - 1:.0%}; with the filtered message "
        f"{medians['minimise+json'] / base - 1:.0%}; floor without any policy "
        f"{medians['floor: records+JSON'] / base - 1:.0%}"
    )
    return lines


@pytest.mark.parametrize("variant", list(_rounds()))
def test_minimise(benchmark: BenchmarkFixture, variant: str) -> None:
    """One pytest-benchmark group: the variants over the same 3 KB corpus; every message handled."""
    run, count = _rounds()[variant]
    assert run() == count
    benchmark.group = "minimise 3KB"
    benchmark.extra_info.update({"variant": variant, "messages_per_round": count})
    assert benchmark(run) == count


def test_overhead_ratio(benchmark: BenchmarkFixture, capsys: pytest.CaptureFixture[str]) -> None:
    """The interleaved comparison: prints the ratio; fails only on a gross regression (over 2x)."""
    benchmark.group = "minimise 3KB ratio"
    medians: dict[str, float] = benchmark.pedantic(  # type: ignore[no-untyped-call]
        interleaved, rounds=1, iterations=1
    )
    ratio = medians["minimise+billing"] / medians["validate"]
    benchmark.extra_info.update({f"us_per_message[{k}]": v for k, v in medians.items()})
    benchmark.extra_info["ratio_minimise_billing_vs_validate"] = ratio
    with capsys.disabled():
        print()
        for line in report(medians):
            print(line)
    assert ratio < 2.0


if __name__ == "__main__":
    for line in report(interleaved()):
        print(line)
