"""The policy engine over neutral line views: rule order, allow-list, actions, audit, opt-out, purity."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from filters.engine import Engine, FieldTuple, LineView, MessageView
from filters.fields import BILLING_FIELDS, Value
from filters.policy import Policy, PolicyError, default_policy, parse_policy

HEAD = 'policy_version = "t"\n'


def policy(rules: str, tables: str = "") -> Policy:
    return parse_policy(HEAD + tables + rules, name="t.toml")


def view(attrs: Mapping[str, Value] | None = None, **fields: Value) -> LineView:
    base: dict[str, Value] = {
        "message_type": "JW323",
        "reference": "R1",
        "product_category": "45",
        "product_code": "45A03",
        "client_bsn": "999900006",
        "amount_cents": 5000,
        "debit_credit": "D",
        "tariff_cents": 1250,
    }
    base.update(fields)
    return LineView(base, dict(attrs or {"message_type": "JW323", "product_category": "45"}))


KEEP_ALL = (
    '[[rule]]\nid = "keep"\naction = "keep"\nfield = ['
    + ", ".join(f'"{f}"' for f in BILLING_FIELDS if f not in ("special_category", "restricted"))
    + "]\n"
)


class TestAllowList:
    def test_unkept_fields_are_null(self) -> None:
        """A billing field that no rule keeps is null, even when the line has a value for it."""
        engine = Engine(policy('[[rule]]\nid = "k"\naction = "keep"\nfield = ["reference"]\n'))
        billing = engine.line(view()).billing
        assert billing["reference"] == "R1"
        assert billing["client_bsn"] is None
        assert billing["product_code"] is None
        assert list(billing) == list(BILLING_FIELDS)

    def test_flags_default_false(self) -> None:
        """special_category and restricted are false unless a tag/restrict rule sets them."""
        billing = Engine(policy(KEEP_ALL)).line(view()).billing
        assert billing["special_category"] is False
        assert billing["restricted"] is False


class TestOrder:
    def test_first_matching_rule_decides_a_field(self) -> None:
        """For each field the first matching rule wins; later rules do not touch it."""
        rules = (
            '[[rule]]\nid = "n1"\naction = "neutralise"\nfield = "product_code"\nvalue = "AAAAA"\n'
            '[[rule]]\nid = "n2"\naction = "neutralise"\nfield = "product_code"\nvalue = "BBBBB"\n' + KEEP_ALL
        )
        result = Engine(policy(rules)).line(view())
        assert result.billing["product_code"] == "AAAAA"
        assert result.changes == {"product_code": "AAAAA"}
        assert [a.rule for a in result.audit] == ["n1"]

    def test_non_matching_rule_is_skipped(self) -> None:
        """A rule whose match fails is skipped; the next one decides."""
        rules = (
            '[[rule]]\nid = "wmo"\nmatch = { message_type = "WMO323" }\naction = "drop"\n'
            'field = "reference"\n' + KEEP_ALL
        )
        assert Engine(policy(rules)).line(view()).billing["reference"] == "R1"

    def test_absent_attribute_matches_nothing(self) -> None:
        """An attribute the view does not have (e.g. a JW321 class on a 323) never matches."""
        rules = '[[rule]]\nid = "c"\nmatch = { ggz_class = "other" }\naction = "drop"\nfield = "reference"\n'
        assert Engine(policy(rules + KEEP_ALL)).line(view()).billing["reference"] == "R1"

    def test_tag_visible_to_later_rules(self) -> None:
        """A tag sets a flag that later rules can match on."""
        rules = (
            '[[rule]]\nid = "t"\nmatch = { product_category = "45" }\naction = "tag"\n'
            'field = "special_category"\n'
            '[[rule]]\nid = "d"\nmatch = { special_category = true }\naction = "drop"\nfield = "reference"\n'
            + KEEP_ALL
        )
        billing = Engine(policy(rules)).line(view()).billing
        assert billing["special_category"] is True
        assert billing["reference"] is None


class TestActions:
    def test_drop_audited_only_when_a_value_was_removed(self) -> None:
        """drop nulls the field; the audit entry appears only if there was a value."""
        engine = Engine(policy('[[rule]]\nid = "d"\naction = "drop"\nfield = "previous_reference"\n'))
        assert engine.line(view(previous_reference=None)).audit == ()
        result = engine.line(view(previous_reference="R0"))
        assert [(a.rule, a.action, a.field) for a in result.audit] == [("d", "drop", "previous_reference")]
        assert result.changes == {"previous_reference": None}

    def test_neutralise_value_from_with_fallback(self) -> None:
        """value_from takes an attribute's value; without it, the fixed value."""
        rules = (
            '[[rule]]\nid = "n"\naction = "neutralise"\nfield = "product_code"\n'
            'value_from = "neutral_code"\nvalue = "00000"\n'
        )
        engine = Engine(policy(rules))
        with_code = engine.line(view({"message_type": "JW323", "neutral_code": "45N01"}))
        without = engine.line(view({"message_type": "JW323"}))
        assert with_code.changes["product_code"] == "45N01"
        assert without.changes["product_code"] == "00000"

    def test_neutralise_to_same_value_is_no_change(self) -> None:
        """Neutralising a value that already is the neutral value changes and audits nothing."""
        rules = '[[rule]]\nid = "n"\naction = "neutralise"\nfield = "zorgvraagzwaarte"\nvalue = "000"\n'
        result = Engine(policy(rules)).line(view(zorgvraagzwaarte="000"))
        assert result.changes == {}
        assert result.audit == ()

    @pytest.mark.parametrize(
        ("unmapped", "value_line", "old", "new", "action"),
        [
            ("keep", "", "110", "101", "coarsen"),
            ("keep", "", "202", "202", "coarsen"),
            ("drop", "", "999", None, "drop"),
            ("neutralise", 'value = "000"\n', "999", "000", "neutralise"),
        ],
    )
    def test_coarsen_via_table(
        self, unmapped: str, value_line: str, old: str, new: str | None, action: str
    ) -> None:
        """coarsen maps through a named table; unmapped codes are kept, dropped or neutralised."""
        tables = '[tables.j]\n"110" = "101"\n'
        rules = (
            f'[[rule]]\nid = "c"\naction = "coarsen"\nfield = "zorgtype"\ntable = "j"\n'
            f'unmapped = "{unmapped}"\n' + value_line
        )
        result = Engine(policy(rules, tables)).line(view(zorgtype=old))
        assert result.changes.get("zorgtype", old) == new
        if new != old:
            assert [(a.action, a.field) for a in result.audit] == [(action, "zorgtype")]
        else:
            assert result.audit == ()

    def test_coarsen_from_source_attribute(self) -> None:
        """coarsen can read another field or attribute (the JW321 main group -> triplet 2)."""
        tables = '[tables.g]\nHG08 = "008"\n'
        rules = (
            '[[rule]]\nid = "c"\naction = "coarsen"\nfield = "diagnosis"\nsource = "main_group"\n'
            'table = "g"\n'
        )
        result = Engine(policy(rules, tables)).line(
            LineView({"diagnosis": "015"}, {"message_type": "JW321", "main_group": "HG08"})
        )
        assert result.changes == {"diagnosis": "008"}

    def test_pseudonymise_is_keyed(self) -> None:
        """pseudonymise replaces a value by a keyed HMAC: stable per key, different across keys."""
        rules = (
            '[[rule]]\nid = "p"\naction = "pseudonymise"\nfield = "client_bsn"\ntarget = "billing"\n'
            + KEEP_ALL
        )
        p = policy(rules)
        a1 = Engine(p, key=b"k" * 32).line(view()).billing["client_bsn"]
        a2 = Engine(p, key=b"k" * 32).line(view()).billing["client_bsn"]
        b = Engine(p, key=b"j" * 32).line(view()).billing["client_bsn"]
        assert isinstance(a1, str)
        assert a1 == a2 != b
        assert "999900006" not in str(a1)
        assert len(a1) == 64

    def test_pseudonymise_without_key_rejected(self) -> None:
        """A policy that pseudonymises cannot be evaluated without a key."""
        rules = '[[rule]]\nid = "p"\naction = "pseudonymise"\nfield = "client_bsn"\n'
        with pytest.raises(PolicyError, match='rule "p"'):
            Engine(policy(rules))

    def test_target_billing_leaves_message_alone(self) -> None:
        """target = billing changes the billing record only; target = message only the filtered message."""
        rules = (
            '[[rule]]\nid = "b"\naction = "drop"\nfield = "reference"\ntarget = "billing"\n'
            '[[rule]]\nid = "m"\naction = "neutralise"\nfield = "product_code"\nvalue = "00000"\n'
            'target = "message"\n' + KEEP_ALL
        )
        result = Engine(policy(rules)).line(view())
        assert result.billing["reference"] is None
        assert "reference" not in result.changes
        assert result.changes == {"product_code": "00000"}
        assert result.billing["product_code"] == "45A03"  # kept by the later keep rule

    def test_audit_false_suppresses_entry(self) -> None:
        """A rule with audit = false changes the value without its own audit entry."""
        rules = (
            '[[rule]]\nid = "n"\naction = "neutralise"\nfield = "productgroep"\nvalue = "000"\n'
            "audit = false\n"
        )
        result = Engine(policy(rules)).line(view(productgroep="144"))
        assert result.changes == {"productgroep": "000"}
        assert result.audit == ()


class TestRestrict:
    RULES = (
        '[[rule]]\nid = "r"\nmatch = { optout = true }\naction = "restrict"\n'
        'withhold = ["product_code", "tariff_cents"]\n' + KEEP_ALL
    )

    def test_restrict_nulls_withheld_fields(self) -> None:
        """A restricted line keeps its payable fields; the withheld ones are null; restricted is true."""
        result = Engine(policy(self.RULES)).line(view(), lambda: True)
        assert result.restricted
        assert result.restricted_by == ("r",)
        assert result.billing["restricted"] is True
        assert result.billing["product_code"] is None
        assert result.billing["tariff_cents"] is None
        assert result.billing["amount_cents"] == 5000
        assert [(a.rule, a.action, a.field) for a in result.audit] == [("r", "restrict", None)]

    def test_optout_asked_only_when_it_matters(self) -> None:
        """The lazy opt-out answer is requested only for lines whose outcome depends on it."""
        asked: list[int] = []

        def answer() -> bool:
            asked.append(1)
            return False

        rules = (
            '[[rule]]\nid = "r"\nmatch = { reveals_disorder = true, optout = true }\naction = "restrict"\n'
            + KEEP_ALL
        )
        engine = Engine(policy(rules))
        plain: dict[str, Value] = {"message_type": "JW323", "reveals_disorder": False}
        disorder: dict[str, Value] = {"message_type": "JW323", "reveals_disorder": True}
        assert not engine.depends_on_optout(plain)
        assert engine.depends_on_optout(disorder)
        engine.line(view(plain), answer)
        assert asked == []
        engine.line(view(disorder), answer)
        assert asked == [1]

    def test_explicit_optout_attribute_wins(self) -> None:
        """An ``optout`` attribute in the view is used as is (no question asked)."""
        engine = Engine(policy(self.RULES))
        result = engine.line(view({"message_type": "JW323", "optout": True}), lambda: False)
        assert result.restricted

    def test_no_answer_means_no_optout(self) -> None:
        """Without an opt-out answer, a line is treated as without opt-out."""
        assert not Engine(policy(self.RULES)).line(view()).restricted


class TestDerivedAndMessageScope:
    def test_derived_field_uses_minimised_values(self) -> None:
        """A derived billing field is computed from the values after the policy changed them."""
        rules = (
            '[[rule]]\nid = "z"\naction = "neutralise"\nfield = "zorgvraagzwaarte"\nvalue = "000"\n'
            '[[rule]]\nid = "k"\naction = "keep"\nfield = "dbc_prestatiecode"\n'
        )

        def code(f: Mapping[str, Value]) -> Value:
            return f"{f['zorgtype']}{f['diagnosis']}{f['zorgvraagzwaarte']}{f['productgroep']}"

        line = LineView(
            {"zorgtype": "101", "diagnosis": "008", "zorgvraagzwaarte": "003", "productgroep": "144"},
            {"message_type": "JW321"},
            {"dbc_prestatiecode": code},
        )
        assert Engine(policy(rules)).line(line).billing["dbc_prestatiecode"] == "101008000144"

    def test_derived_field_needs_a_keep(self) -> None:
        """A derived field that no rule keeps stays null (allow-list)."""
        line = LineView({}, {"message_type": "JW321"}, {"dbc_prestatiecode": lambda _: "x"})
        rules = '[[rule]]\nid = "k"\naction = "keep"\nfield = "reference"\n'
        assert Engine(policy(rules)).line(line).billing["dbc_prestatiecode"] is None

    def test_message_scope(self) -> None:
        """Message-scope rules act on message fields, first match per field, audited when changed."""
        rules = (
            '[[rule]]\nid = "c"\nscope = "message"\nmatch = { message_type = "JW321" }\naction = "drop"\n'
            'field = "comments"\n' + KEEP_ALL
        )
        engine = Engine(policy(rules))
        result = engine.message(MessageView({"comments": 2}, {"message_type": "JW321"}))
        assert result.changes == {"comments": None}
        assert [(a.rule, a.action, a.field) for a in result.audit] == [("c", "drop", "comments")]
        assert engine.message(MessageView({"comments": 2}, {"message_type": "JW323"})).changes == {}


class TestImmutability:
    def test_results_cannot_be_changed(self) -> None:
        """Line results are tuples and read-only mappings."""
        result = Engine(policy(KEEP_ALL)).line(view())
        assert isinstance(result.values, tuple)
        assert isinstance(result.changes, MappingProxyType)
        with pytest.raises(TypeError):
            result.billing["reference"] = "X"  # type: ignore[index]
        with pytest.raises(AttributeError):
            result.values = ()  # type: ignore[misc]

    def test_engine_does_not_modify_the_view(self) -> None:
        """The view passed in is left exactly as it was."""
        line = view(previous_reference="R0")
        before = dict(line.fields), dict(line.attrs)
        Engine(policy('[[rule]]\nid = "d"\naction = "drop"\nfield = "previous_reference"\n')).line(line)
        assert (dict(line.fields), dict(line.attrs)) == before


FIELD_VALUES = st.one_of(st.none(), st.text(max_size=6), st.integers(min_value=0, max_value=10**6))


class TestFieldTuple:
    @given(
        values=st.lists(FIELD_VALUES, min_size=len(BILLING_FIELDS), max_size=len(BILLING_FIELDS)),
        optout=st.booleans(),
        reveals=st.booleans(),
    )
    def test_same_result_as_a_dict(self, values: list[Value], optout: bool, reveals: bool) -> None:
        """The fast tuple form gives exactly the result of the same fields as a plain dict."""
        engine = Engine(default_policy())
        row = tuple(values)
        fields = dict(zip(BILLING_FIELDS, row, strict=True))
        attrs: dict[str, Value] = {
            "message_type": "JW323",
            "product_category": "54",
            "reveals_disorder": reveals,
            "neutral_code": None,
        }
        fast = engine.line(LineView(FieldTuple(row), attrs), lambda: optout)
        slow = engine.line(LineView(fields, attrs), lambda: optout)
        assert fast.values == slow.values
        assert dict(fast.changes) == dict(slow.changes)
        assert fast.audit == slow.audit

    def test_mapping_behaviour_and_private_repr(self) -> None:
        """A FieldTuple reads like a mapping (with extra fields) and never prints its values."""
        row = tuple("v" if f == "client_bsn" else None for f in BILLING_FIELDS)
        fields = FieldTuple(row, {"zorgtype": "110"})
        assert fields["client_bsn"] == "v"
        assert fields["zorgtype"] == "110"
        assert fields.get("nothing", "d") == "d"
        assert "zorgtype" in fields
        assert len(fields) == len(BILLING_FIELDS) + 1
        assert "v" not in repr(fields)
        with pytest.raises(KeyError):
            fields["nothing"]
        with pytest.raises(ValueError, match="values"):
            FieldTuple(("x",))
