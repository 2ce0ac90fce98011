"""Minimisation glue: a checked message (:class:`~gateway.validation.Checked`) in, a result out.

    Checked -> adapter (line views) -> opt-out answers -> policy engine -> billing records,
                                                                          filtered message, audit,
                                                                          restricted originals

:class:`Minimiser` is pure apart from the opt-out lookup it is handed (an :class:`OptoutLookup`, e.g. the
SQLite register opened read-only, or an in-memory one). Which lines are minimised:

* a valid declaration: every line;
* a declaration that failed business rules: the lines its 325 grants (clarifications 10), decided by the
  same answer plan the 325 is built from (:func:`gateway.retour.plan.plan_answer`); a message rejected as a
  whole yields no billing;
* transport or schema failures, answers (325) and types without an adapter: no billing.

The filtered message is produced for valid messages only (an invalid one is not forwarded).

The second half of the module, :func:`minimise_items`, runs validation + minimisation over many messages
on all cores (the CLI adapter's batch runner); it is the only part that opens anything (the opt-out
register, read-only, in each worker).
"""

from __future__ import annotations

import argparse
import getpass
import json
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple, TextIO

import structlog
from lxml import etree

from filters.adapters import ADAPTERS, Adapter, OptoutSubject, Position, UnsupportedChange
from filters.adapters.xml32 import XML_DECLARATION
from filters.engine import Engine, FieldTuple, LineResult, LineView
from filters.fields import POLICY_SET_FIELDS, Value
from filters.policy import Policy, PolicyError, default_policy_text, parse_policy
from filters.products import EMPTY, ProductTable, ProductTableError, default_products_text, parse_products
from gateway.argtypes import positive_int
from gateway.billing import BILLING_FIELDS, record_from_values, record_text
from gateway.config import Settings
from gateway.intake.sources import Item, expand, iter_items
from gateway.intake.transport import Limits
from gateway.logs import configure_logging
from gateway.pipeline import Environment, Minimised
from gateway.registry import default_registry
from gateway.results import Stage, Verdict
from gateway.retour.plan import ALL_GRANTED, NO_REMARKS, AnswerPlan, plan_answer
from gateway.stores import default_optouts_path
from gateway.stores.keys import KEY_FILE, KeyFileError, resolve_key
from gateway.stores.optouts import EMPTY_OPTOUTS, OptoutError, OptoutLookup, SqliteOptoutRegister
from gateway.stores.restricted import RestrictedLine, SqliteRestrictedStore
from gateway.stores.sqlite import StoreError
from gateway.validation import Checked, Validator

__all__ = [
    "AuditEntry",
    "MinimiseResult",
    "MinimiseSetup",
    "Minimiser",
    "Processed",
    "SetupError",
    "add_parser",
    "default_pipeline_step",
    "minimise_items",
    "pipeline_step",
    "restricted_json",
    "run",
]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What the policy did: rule id, location and action. Never a value."""

    rule: str
    path: str
    action: str

    def to_json(self) -> dict[str, str]:
        return {"rule": self.rule, "path": self.path, "action": self.action}


class MinimiseResult(NamedTuple):
    """The outcome of minimising one message (immutable).

    ``records`` holds one billing record per minimised line as values in contract order (see
    :attr:`billing` for the JSON objects). ``filtered`` is the filtered message text (valid messages only).
    ``restricted_lines`` carries the originals of restricted lines for the restricted store; it is never
    part of the JSON output.
    """

    verdict: Verdict
    records: tuple[tuple[Value, ...], ...] = ()
    audit: tuple[AuditEntry, ...] = ()
    restricted_lines: tuple[RestrictedLine, ...] = ()
    renderer: Callable[[], str] | None = None

    def __repr__(self) -> str:  # records hold BSNs: show counts only
        v = self.verdict
        return (
            f"MinimiseResult({v.source!r}, {v.message_type}, valid={v.valid}, records={len(self.records)}, "
            f"audit={len(self.audit)}, restricted={len(self.restricted_lines)})"
        )

    @property
    def billing(self) -> list[dict[str, Any]]:
        """The billing records as the contract's JSON objects (fresh copies)."""
        return [record_from_values(r) for r in self.records]

    @property
    def filtered(self) -> str | None:
        """The filtered message, serialised on request (a pipeline that forwards only billing records
        never pays for it)."""
        return None if self.renderer is None else self.renderer()

    @property
    def restricted(self) -> bool:
        return any(r[_RESTRICTED] for r in self.records)

    def billing_lines(self) -> list[str]:
        """One JSON text per billing record (the ``billing.jsonl`` / billing-topic form)."""
        return [record_text(r) for r in self.records]

    def to_json(self) -> dict[str, Any]:
        """The ``minimise --json`` object: the ``validate`` object + billing, filtered, audit, restricted."""
        out = self.verdict.to_json()
        out["billing"] = self.billing
        out["filtered"] = self.filtered
        out["audit"] = [a.to_json() for a in self.audit]
        out["restricted"] = self.restricted
        return out

    def json_line(self) -> str:
        """``json.dumps(self.to_json(), ensure_ascii=False)``, built faster (billing records pre-encoded)."""
        head = json.dumps(self.verdict.to_json(), ensure_ascii=False)[:-1]
        billing = ", ".join(record_text(r) for r in self.records)
        filtered = json.dumps(self.filtered, ensure_ascii=False)
        audit = json.dumps([a.to_json() for a in self.audit], ensure_ascii=False)
        restricted = "true" if self.restricted else "false"
        return (
            f'{head}, "billing": [{billing}], "filtered": {filtered}, "audit": {audit}, '
            f'"restricted": {restricted}}}'
        )


_RESTRICTED = BILLING_FIELDS.index("restricted")


def _granted(plan: AnswerPlan) -> Callable[[Position], bool]:
    def include(position: Position) -> bool:
        if len(position) == 2:
            return plan.line(position[0], position[1]).granted
        # a fixed-width record (its line number): granted when the message is not rejected as a whole,
        # nothing rejects the declaration part, and the record itself has no finding (as the JW322 says)
        codes = plan.declaration_codes
        if codes is None or (codes and codes[0] not in (NO_REMARKS, ALL_GRANTED)):
            return False
        return position[0] not in plan.record_codes

    return include


def _asker(optouts: OptoutLookup, subject: OptoutSubject) -> Callable[[], bool]:
    """A lazy, remembered answer of the register for one client and provider (asked at most once)."""
    answer: list[bool] = []

    def active() -> bool:
        if not answer:
            answer.append(optouts.is_active(subject.bsn, subject.agb, subject.on))
        return answer[0]

    return active


def _json_value(value: Value) -> object:
    return {"start": value[0], "end": value[1]} if isinstance(value, tuple) else value


def _original_json(fields: Mapping[str, Value]) -> str:
    """Every field of a line as received, as JSON text (for the restricted store only)."""
    if isinstance(fields, FieldTuple):  # the fast form: one zip instead of 22 mapping look-ups
        data = record_from_values(fields.row)
        for name in POLICY_SET_FIELDS:
            del data[name]
        if fields.extra:
            data.update({k: _json_value(v) for k, v in fields.extra.items()})
    else:
        data = {k: _json_value(v) for k, v in fields.items()}
    return json.dumps(data, ensure_ascii=False)


class Minimiser:
    """Applies one policy with one product table (and key) to checked messages. Reusable."""

    def __init__(
        self,
        policy: Policy,
        products: ProductTable = EMPTY,
        *,
        key: bytes | None = None,
        adapters: Mapping[str, Adapter] = ADAPTERS,
    ) -> None:
        self.policy = policy
        self.products = products
        self._engine = Engine(policy, key=key)
        self._adapters = adapters
        for adapter in {id(a): a for a in adapters.values()}.values():
            adapter.check(policy)  # PolicyError naming the rule when a format cannot carry a change

    def minimise(  # noqa: PLR0912 - the per-message hot path, kept in one place on purpose
        self, checked: Checked, optouts: OptoutLookup = EMPTY_OPTOUTS
    ) -> MinimiseResult:
        verdict = checked.verdict
        spec = checked.spec
        if spec is None or checked.root is None:
            return MinimiseResult(verdict)
        adapter = self._adapters.get(spec.name)
        if adapter is None or checked.message is None:
            if verdict.valid and spec.kind == "answer" and spec.format == "xml":
                # An answer goes back to the provider; it bills nothing (messages.md §3, §6 row 12).
                root = checked.root
                return MinimiseResult(
                    verdict, renderer=lambda: XML_DECLARATION + etree.tostring(root, encoding="unicode")
                )
            return MinimiseResult(verdict)
        include: Callable[[Position], bool] | None = None
        if not verdict.valid:
            plan = plan_answer(verdict) if verdict.stage == Stage.RULES else None
            if plan is None or plan.rejected_as_a_whole:
                return MinimiseResult(verdict)
            include = _granted(plan)
        prepared = adapter.prepare(
            checked.message, checked.root, message_type=spec.name, products=self.products, include=include
        )
        engine = self._engine
        answers: dict[int, Callable[[], bool]] = {}  # per subject object (alive in ``prepared``)
        records: list[tuple[Value, ...]] = []
        audit: list[AuditEntry] = []
        restricted: list[RestrictedLine] = []
        line_changes: list[Mapping[str, Value]] = []
        for index, (view, subject) in enumerate(zip(prepared.lines, prepared.optout_subjects, strict=True)):
            if subject is None:
                result = engine.line(view)
            else:
                asker = answers.get(id(subject))
                if asker is None:
                    asker = answers[id(subject)] = _asker(optouts, subject)
                result = engine.line(view, asker)
            records.append(result.values)
            line_changes.append(result.changes)
            for item in result.audit:
                audit.extend(AuditEntry(item.rule, p, item.action) for p in prepared.paths(index, item.field))
            if result.restricted_by:
                restricted.append(self._original(view, prepared.fragment(index), result))
        message_changes: Mapping[str, Value] = {}
        message_view = prepared.message_view
        if message_view is not None:
            message_result = engine.message(message_view)
            message_changes = message_result.changes
            for item in message_result.audit:
                audit.extend(AuditEntry(item.rule, p, item.action) for p in prepared.paths(None, item.field))
        renderer = partial(prepared.render, line_changes, message_changes) if verdict.valid else None
        return MinimiseResult(verdict, tuple(records), tuple(audit), tuple(restricted), renderer)

    def _original(self, view: LineView, fragment: str, result: LineResult) -> RestrictedLine:
        fields = view.fields

        def text(name: str) -> str:
            value = fields.get(name)
            return "" if value is None else str(value)

        return RestrictedLine(
            message_type=text("message_type"),
            message_id=text("message_id"),
            sender_agb=text("sender_agb"),
            municipality=text("municipality"),
            declaration_number=text("declaration_number"),
            reference=text("reference"),
            rules=result.restricted_by,
            policy_version=self.policy.version,
            original=_original_json(fields),
            fragment=fragment,
        )


# --------------------------------------------------------------------------------------------------
# The pipeline's minimisation step (gateway.pipeline.Minimiser) for process, serve and the Kafka worker


class _CallableLookup:
    __slots__ = ("_is_active",)

    def __init__(self, is_active: Callable[[str, str, date], bool]) -> None:
        self._is_active = is_active

    def is_active(self, bsn: str, agb: str, on: date) -> bool:
        return self._is_active(bsn, agb, on)


def restricted_json(line: RestrictedLine) -> dict[str, Any]:
    """The full original of a restricted line as a JSON object (restricted store/topic only)."""
    return {
        "message_type": line.message_type,
        "message_id": line.message_id,
        "sender_agb": line.sender_agb,
        "municipality": line.municipality,
        "declaration_number": line.declaration_number,
        "reference": line.reference,
        "rules": list(line.rules),
        "policy_version": line.policy_version,
        "original": json.loads(line.original),
        "fragment": line.fragment,
    }


def pipeline_step(
    minimiser: Minimiser, optouts: OptoutLookup | None = None
) -> Callable[[Checked, AnswerPlan | None, Environment], Minimised]:
    """``minimiser`` as the pipeline's minimisation step.

    Opt-outs are answered by ``Environment.optout`` when the environment has one, else by ``optouts``
    (e.g. the embedded register opened read-only by the worker), else nobody has opted out.
    """
    fallback = optouts if optouts is not None else EMPTY_OPTOUTS

    def step(checked: Checked, plan: AnswerPlan | None, env: Environment) -> Minimised:
        optouts = _CallableLookup(env.optout) if env.optout is not None else fallback
        result = minimiser.minimise(checked, optouts)
        # No pipeline output carries the filtered message (billing, answers, restricted originals and audit
        # do); it is rendered on request by ``minimise --json``, so the pipeline does not render it.
        return Minimised(
            billing=tuple(result.billing),
            filtered=None,
            audit=tuple(a.to_json() for a in result.audit),
            restricted=tuple(restricted_json(r) for r in result.restricted_lines),
        )

    return step


def default_pipeline_step() -> Callable[[Checked, AnswerPlan | None, Environment], Minimised]:
    """A module-level (picklable) factory for ``minimiser_factory``: the policy of ``JWMO_POLICY`` (else
    the default policy), the shipped product table, the HMAC key of the configuration or data directory,
    and the data directory's opt-out register (read-only) when it exists. Raises PolicyError /
    ProductTableError / OptoutError on a broken file or a key that does not fit the register."""
    settings = Settings.from_env()
    policy = (
        parse_policy(settings.policy.read_text(encoding="utf-8"), name=settings.policy.name)
        if settings.policy is not None
        else parse_policy(default_policy_text(), name="default.toml")
    )
    register = default_optouts_path(settings.data_dir)
    key = resolve_key(settings.hmac_key, settings.data_dir, create=policy.pseudonymises or register.is_file())
    products = parse_products(default_products_text(), name="products.toml")
    optouts: OptoutLookup | None = None
    if register.is_file() and key is not None:  # the embedded register of this data directory, read-only
        optouts = SqliteOptoutRegister(register, key, readonly=True)
    return pipeline_step(Minimiser(policy, products, key=key), optouts)


# --------------------------------------------------------------------------------------------------
# Batch runner (adapter side): validation + minimisation over many messages, output in input order.


@dataclass(frozen=True, slots=True)
class MinimiseSetup:
    """Everything a worker needs to build its minimiser (picklable: texts, not parsed objects)."""

    policy_text: str
    policy_name: str
    products_text: str | None = None
    products_name: str = "products.toml"
    key: bytes | None = field(default=None, repr=False)
    optouts_db: Path | None = None
    schema_dirs: tuple[Path, ...] = ()
    max_bytes: int = Limits().max_message_bytes
    today: date = field(default_factory=date.today)

    def minimiser(self) -> Minimiser:
        policy = parse_policy(self.policy_text, name=self.policy_name)
        products = (
            parse_products(self.products_text, name=self.products_name)
            if self.products_text is not None
            else EMPTY
        )
        return Minimiser(policy, products, key=self.key)

    def optouts(self) -> OptoutLookup:
        if self.optouts_db is None:
            return EMPTY_OPTOUTS
        if self.key is None:
            raise ValueError("an opt-out register needs the HMAC key")
        return SqliteOptoutRegister(self.optouts_db, self.key, readonly=True)


@dataclass(frozen=True, slots=True)
class Processed:
    """One message done: its verdict, its ``minimise --json`` line and what goes to the restricted store."""

    verdict: Verdict
    json_line: str
    billing_count: int
    restricted_count: int
    audit_count: int
    restricted_lines: tuple[RestrictedLine, ...] = field(repr=False)


_worker: tuple[Validator, Minimiser, OptoutLookup, date] | None = None


def _build(setup: MinimiseSetup) -> tuple[Validator, Minimiser, OptoutLookup, date]:
    validator = Validator(default_registry(setup.schema_dirs), Limits(max_message_bytes=setup.max_bytes))
    return validator, setup.minimiser(), setup.optouts(), setup.today


def _init(setup: MinimiseSetup) -> None:
    global _worker  # noqa: PLW0603 - per-process state of a pool worker
    _worker = _build(setup)


def _process(state: tuple[Validator, Minimiser, OptoutLookup, date], item: Item) -> Processed:
    validator, minimiser, optouts, today = state
    if item.finding is not None or item.data is None:
        errors = (item.finding,) if item.finding is not None else ()
        result = MinimiseResult(Verdict(item.source, None, False, Stage.TRANSPORT, errors))
    else:
        result = minimiser.minimise(validator.check(item.data, item.source, today=today), optouts)
    return Processed(
        verdict=result.verdict,
        json_line=result.json_line(),
        billing_count=len(result.records),
        restricted_count=sum(1 for r in result.records if r[_RESTRICTED]),
        audit_count=len(result.audit),
        restricted_lines=result.restricted_lines,
    )


def _work(item: Item) -> Processed:
    assert _worker is not None  # noqa: S101 - set by the pool initializer
    return _process(_worker, item)


def minimise_items(
    items: Iterable[Item], *, workers: int, file_count: int, setup: MinimiseSetup, pool_threshold: int = 16
) -> Iterator[Processed]:
    """Validate and minimise ``items``; results in input order. Small batches run in-process."""
    if workers <= 1 or file_count < pool_threshold:
        state = _build(setup)
        try:
            for item in items:
                yield _process(state, item)
        finally:
            close = getattr(state[2], "close", None)
            if close is not None:
                close()
        return
    with multiprocessing.get_context("spawn").Pool(
        processes=workers, initializer=_init, initargs=(setup,)
    ) as pool:
        yield from pool.imap(_work, items, chunksize=8)


# --------------------------------------------------------------------------------------------------
# Command line: ``jwmo-gateway minimise`` (registered by gateway/cli.py)

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
_SHOWN_ERRORS = 3


def add_parser(commands: Any) -> None:
    """Add the ``minimise`` subcommand to the CLI's subparsers."""
    p = commands.add_parser(
        "minimise",
        help="validate and minimise messages: billing records, filtered message, audit",
        description="Validate each message and apply the minimisation policy: billing records (allow-list), "
        "the filtered message, audit entries; restricted lines are marked and their originals kept out of "
        "every output.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--json", action="store_true", help="one JSON object per message per line")
    p.add_argument(
        "--policy",
        metavar="FILE",
        help="policy file (default: $JWMO_POLICY, else the built-in default policy)",
    )
    p.add_argument(
        "--products",
        metavar="FILE",
        help="municipal product-code table (default: the built-in examples, filters/municipal/products.toml)",
    )
    p.add_argument(
        "--optouts",
        metavar="DB",
        help="opt-out register (default: optouts.sqlite3 in $JWMO_DATA_DIR when it exists, else none)",
    )
    p.add_argument(
        "--restricted-db",
        metavar="DB",
        help="store the originals of restricted lines in this restricted store (default: not stored)",
    )
    p.add_argument("--schema-dir", action="append", default=None, metavar="DIR", help="extra XSDs")
    p.add_argument(
        "--workers", type=positive_int, default=os.cpu_count() or 1, help="worker processes (default: CPUs)"
    )
    p.add_argument("--max-message-bytes", type=positive_int, default=None, help="size limit")


def _human_line(processed: Processed) -> str:
    verdict = processed.verdict
    kind = verdict.message_type or "unknown type"
    billed = (
        f"{processed.billing_count} billing record(s), {processed.restricted_count} restricted, "
        f"{processed.audit_count} audit entr{'y' if processed.audit_count == 1 else 'ies'}"
    )
    if verdict.valid:
        return f"{verdict.source}: {kind} valid; {billed}"
    stage = verdict.stage.value if verdict.stage is not None else "?"
    shown = []
    for e in verdict.errors[:_SHOWN_ERRORS]:
        code = f"{e.code}/{e.retourcode}" if e.retourcode else e.code
        where = f" at {e.path}" if e.path else ""
        shown.append(f"{code}{where}: {e.message}")
    more = len(verdict.errors) - _SHOWN_ERRORS
    suffix = f" (+{more} more)" if more > 0 else ""
    return f"{verdict.source}: {kind} INVALID ({stage}) " + "; ".join(shown) + suffix + f"; {billed}"


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no user name in this environment
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SetupError(f"cannot read the {what} {path}: {type(exc).__name__}") from None


class SetupError(Exception):
    """The minimise command cannot start (bad policy, table, register or store): exit status 2."""


def _setup(args: argparse.Namespace, settings: Settings) -> MinimiseSetup:
    policy_path = Path(args.policy) if args.policy else settings.policy
    if policy_path is not None:
        policy_text, policy_name = _read(policy_path, "policy"), policy_path.name
    else:
        policy_text, policy_name = default_policy_text(), "default.toml"
    products_text = _read(Path(args.products), "product table") if args.products else default_products_text()
    optouts_db: Path | None
    if args.optouts:
        optouts_db = Path(args.optouts)
        if not optouts_db.is_file():
            raise SetupError(f"the opt-out register {optouts_db} does not exist")
    else:
        candidate = default_optouts_path(settings.data_dir)
        optouts_db = candidate if candidate.is_file() else None
    policy = parse_policy(policy_text, name=policy_name)
    key = resolve_key(settings.hmac_key, settings.data_dir, create=policy.pseudonymises)
    if optouts_db is not None and key is None:
        raise SetupError(
            f"the opt-out register {optouts_db} needs the HMAC key it was created with: set JWMO_HMAC_KEY or "
            f"restore {settings.data_dir / KEY_FILE}"
        )
    schema_dirs = tuple(Path(d) for d in args.schema_dir) if args.schema_dir else settings.schema_dirs
    setup = MinimiseSetup(
        policy_text=policy_text,
        policy_name=policy_name,
        products_text=products_text,
        key=key,
        optouts_db=optouts_db,
        schema_dirs=schema_dirs,
        max_bytes=args.max_message_bytes or settings.max_message_bytes,
        today=date.today(),
    )
    setup.minimiser()  # check policy, table and policy-vs-format before reading any input
    lookup = setup.optouts()  # check the register opens with this key
    close = getattr(lookup, "close", None)
    if close is not None:
        close()
    default_registry(schema_dirs)
    return setup


class _CurrentStderr:
    """A stream that writes to whatever ``sys.stderr`` is at the time of writing."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def ensure_logging() -> None:
    """Log to standard error: standard output carries only the command's results (a key-generation
    warning must not break ``--json`` output). Unconfigured: the redacted JSON-lines set-up of
    :mod:`gateway.logs`; configured already: only the output stream is pointed at standard error."""
    stream = _CurrentStderr()
    if not structlog.is_configured():
        configure_logging(stream=stream)  # type: ignore[arg-type]
    else:
        structlog.configure(logger_factory=structlog.PrintLoggerFactory(stream))  # type: ignore[arg-type]


def run(args: argparse.Namespace, out: TextIO, settings: Settings) -> int:
    """``jwmo-gateway minimise``: exit 0 all valid, 1 some invalid, 2 usage or set-up error."""
    ensure_logging()
    store: SqliteRestrictedStore | None = None
    try:
        setup = _setup(args, settings)
        if args.restricted_db:
            store = SqliteRestrictedStore(Path(args.restricted_db))
    except (SetupError, PolicyError, ProductTableError, OptoutError, StoreError, KeyFileError) as exc:
        print(f"jwmo-gateway: {exc}", file=sys.stderr)
        return EXIT_USAGE
    files = expand(args.paths)
    actor = _actor()
    total = invalid = records = restricted = 0
    try:
        for processed in minimise_items(
            iter_items(files, setup.max_bytes), workers=args.workers, file_count=len(files), setup=setup
        ):
            total += 1
            invalid += not processed.verdict.valid
            records += processed.billing_count
            restricted += processed.restricted_count
            if store is not None and processed.restricted_lines:
                store.put(processed.restricted_lines, actor=actor, purpose="minimise")
            out.write((processed.json_line if args.json else _human_line(processed)) + "\n")
    except (UnsupportedChange, StoreError) as exc:
        print(f"jwmo-gateway: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if store is not None:
            store.close()
    if not args.json:
        out.write(
            f"{total} message(s): {total - invalid} valid, {invalid} invalid; "
            f"{records} billing record(s), {restricted} restricted\n"
        )
    return EXIT_INVALID if invalid else EXIT_OK
