"""The PostgREST query-string grammar of ``/rest/v1`` (runner.serve.rest.parse)."""

from __future__ import annotations

import pytest

from runner.serve.rest.parse import (
    Column,
    Condition,
    Embed,
    Field,
    Logic,
    OrderTerm,
    ParseError,
    Star,
    parse_condition,
    parse_order,
    parse_query,
    parse_select,
)


def test_select_columns_aliases_casts_and_json_paths() -> None:
    """A select list gives stars, aliased columns, casts and JSON arrows in order."""
    items = parse_select("*,id,label:name,total::text,sha:metadata->git->>sha")
    assert items == (
        Star(),
        Column(Field("id")),
        Column(Field("name"), alias="label"),
        Column(Field("total"), cast="text"),
        Column(Field("metadata", (("->", "git"), ("->>", "sha"))), alias="sha"),
    )


def test_select_embeds_with_alias_hint_and_inner() -> None:
    """Embedded resources keep their alias, foreign-key hint, !inner and nested items."""
    (embed,) = parse_select("results:test_results!test_results_run_fkey!inner(id,status)")
    assert embed == Embed(
        relation="test_results",
        items=(Column(Field("id")), Column(Field("status"))),
        alias="results",
        hint="test_results_run_fkey",
        inner=True,
    )
    (nested,) = parse_select("projects(id,test_runs(*))")
    assert isinstance(nested, Embed)
    assert nested.items[1] == Embed(relation="test_runs", items=(Star(),))


def test_select_ignores_whitespace_and_rejects_unknown_casts() -> None:
    """Spaces in a select list are ignored; a cast outside the allowed list is PGRST100."""
    assert parse_select(" id , name ") == (Column(Field("id")), Column(Field("name")))
    with pytest.raises(ParseError):
        parse_select("id::regclass")
    with pytest.raises(ParseError, match="failed to parse select"):
        parse_select("count()")


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("age", "gte.18", Condition(Field("age"), "gte", "18")),
        ("name", "like.*ann*", Condition(Field("name"), "like", "*ann*")),
        ("status", "not.eq.failed", Condition(Field("status"), "eq", "failed", negated=True)),
        ("deleted", "is.NULL", Condition(Field("deleted"), "is", "null")),
        ("id", 'in.(1,"a,b",3)', Condition(Field("id"), "in", ("1", "a,b", "3"))),
        ("id", "in.()", Condition(Field("id"), "in", ())),
        ("tag", "eq(any).{a,b}", Condition(Field("tag"), "eq", ("a", "b"), quantifier="any")),
        ("doc", "fts(english).cat", Condition(Field("doc"), "fts", "cat", language="english")),
        ("note", "eq.a.b.c", Condition(Field("note"), "eq", "a.b.c")),
    ],
)
def test_filter_operators(key: str, value: str, expected: Condition) -> None:
    """Each filter form parses to its operator, operand and modifiers."""
    assert parse_condition(key, value) == expected


@pytest.mark.parametrize("value", ["eq", "nope.1", "is.maybe", "in.1,2", "in.(1,2"])
def test_bad_filters_are_pgrst100(value: str) -> None:
    """Unknown operators, bad ``is`` values and unbalanced lists are parse errors."""
    with pytest.raises(ParseError):
        parse_condition("col", value)


def test_logic_trees_nest_and_negate() -> None:
    """``or=(...)`` holds conditions and nested ``and(...)``; ``not.or`` negates the tree."""
    req = parse_query([("or", "(a.eq.1,and(b.gt.2,c.is.null))"), ("not.and", "(d.eq.x)")])
    assert req.root.filters == [
        Logic(
            "or",
            (
                Condition(Field("a"), "eq", "1"),
                Logic(
                    "and", (Condition(Field("b"), "gt", "2"), Condition(Field("c"), "is", "null"))
                ),
            ),
        ),
        Logic("and", (Condition(Field("d"), "eq", "x"),), negated=True),
    ]


def test_order_terms() -> None:
    """Order terms take a direction and a nulls position, several per parameter."""
    assert parse_order("created_at.desc.nullslast,name") == [
        OrderTerm(Field("created_at"), desc=True, nulls="last"),
        OrderTerm(Field("name")),
    ]
    with pytest.raises(ParseError):
        parse_order("name.sideways")


def test_query_splits_root_embedded_and_reserved_keys() -> None:
    """Paging, order and filters go to the root or to the embedded path they name."""
    req = parse_query(
        [
            ("select", "*,test_results(*)"),
            ("status", "eq.passed"),
            ("order", "id.desc"),
            ("limit", "5"),
            ("offset", "10"),
            ("test_results.status", "eq.failed"),
            ("test_results.limit", "2"),
            ("on_conflict", "slug"),
            ("columns", '"name","slug"'),
        ]
    )
    assert req.root.limit == 5 and req.root.offset == 10
    assert req.root.filters == [Condition(Field("status"), "eq", "passed")]
    shape = req.embedded[("test_results",)]
    assert shape.limit == 2 and shape.filters == [Condition(Field("status"), "eq", "failed")]
    assert req.on_conflict == ("slug",)
    assert req.columns == ("name", "slug")


def test_negative_or_non_numeric_limit_is_rejected() -> None:
    """``limit`` and ``offset`` must be non-negative integers."""
    with pytest.raises(ParseError):
        parse_query([("limit", "-1")])
    with pytest.raises(ParseError):
        parse_query([("offset", "ten")])


def test_rpc_arguments_are_kept_apart() -> None:
    """For GET /rpc, keys naming function arguments are arguments, not filters."""
    req = parse_query([("p_run_id", "abc"), ("id", "eq.1")], keep_unknown=frozenset({"p_run_id"}))
    assert req.extra == {"p_run_id": "abc"}
    assert req.root.filters == [Condition(Field("id"), "eq", "1")]
