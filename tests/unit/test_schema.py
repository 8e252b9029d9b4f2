"""The committed JSON Schema and the documented examples stay true to the models."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from runner.plan.graph import build_plan
from runner.suite.json_schema import schema_text, suite_schema
from runner.suite.load import load_suite

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SUITES = Path(__file__).parent / "suites"


def doc_block(heading: str, language: str) -> str:
    """The first fenced block of ``language`` after ``heading`` in the suite guide."""
    text = (DOCS / "suite-format.md").read_text(encoding="utf-8")
    after = text[text.index(f"\n{heading}\n") :]
    match = re.search(rf"```{language}\n(.*?)```", after, re.S)
    assert match is not None
    return match.group(1)


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(suite_schema())


def test_committed_schema_is_current() -> None:
    """docs/suite.schema.json equals `python -m runner.suite.json_schema` output."""
    assert (DOCS / "suite.schema.json").read_text(encoding="utf-8") == schema_text()


def test_module_prints_the_schema() -> None:
    """`python -m runner.suite.json_schema` writes exactly the schema text."""
    out = subprocess.run(
        [sys.executable, "-m", "runner.suite.json_schema"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == schema_text()


def test_schema_is_valid_draft_2020_12() -> None:
    """The generated schema is itself a valid JSON Schema."""
    jsonschema.Draft202012Validator.check_schema(suite_schema())


def test_schema_accepts_the_loader_shorthands(validator: jsonschema.Draft202012Validator) -> None:
    """Capture, dependency and secret shorthands and a lower-case method pass the schema."""
    suite: dict[str, Any] = {
        "$schema": "suite.schema.json",
        "name": "s",
        "environments": {"local": {"secrets": {"pw": "PW"}}},
        "tests": [
            {"id": "a", "request": {"method": "post", "url": "/"}, "captures": {"t": "$.t"}},
            {"id": "b", "request": {"url": "/"}, "depends_on": ["a"]},
        ],
    }
    assert list(validator.iter_errors(suite)) == []


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s["tests"][0]["captures"]["t"].update(pth="$.x"),
        lambda s: s.update(source_path="/x"),
        lambda s: s["tests"][0].update(id="bad id"),
        lambda s: s["tests"][0]["request"].update(method="FETCH"),
    ],
)
def test_schema_rejects_what_the_loader_rejects(
    validator: jsonschema.Draft202012Validator, change: Any
) -> None:
    """Unknown keys, source_path, bad ids and unknown methods fail the schema too."""
    suite: dict[str, Any] = {
        "name": "s",
        "tests": [{"id": "a", "request": {"url": "/"}, "captures": {"t": {"path": "$.t"}}}],
    }
    change(suite)
    assert list(validator.iter_errors(suite)) != []


def test_documented_example_loads_plans_and_validates(
    tmp_path: Path, validator: jsonschema.Draft202012Validator
) -> None:
    """The full example in docs/suite-format.md is a working suite, planned as described."""
    path = tmp_path / "shop.yaml"
    path.write_text(doc_block("## A full example", "yaml"), encoding="utf-8")
    (tmp_path / "data").mkdir()
    shutil.copy(SUITES / "data" / "users.csv", tmp_path / "data" / "users.csv")
    assert list(validator.iter_errors(yaml.safe_load(path.read_text()))) == []

    loaded = load_suite(path)
    plan = build_plan(loaded)
    assert plan.order == ("login", "catalog", "add_to_cart", "checkout", "search", "signup")
    assert plan.dependencies("add_to_cart") == ("login", "catalog")
    assert plan.dependencies("checkout") == ("login", "add_to_cart")
    assert plan.graph.edges["catalog", "add_to_cart"]["type"] == "data"
    assert plan.graph.edges["login", "catalog"]["type"] == "token"
    assert plan.rows("search") == (
        {"term": "shoes", "expected": 3},
        {"term": "hats", "expected": 1},
    )
    assert plan.rows("signup") == (
        {"email": "ann@example.com", "name": "Ann", "plan": "free"},
        {"email": "bob@example.com", "name": "Bob", "plan": "pro"},
    )
    assert build_plan(loaded, tags=["cart"]).order == (
        "login",
        "catalog",
        "add_to_cart",
        "checkout",
    )


def test_documented_csv_is_the_fixture() -> None:
    """The CSV shown in the guide is the one the example test uses."""
    csv_text = (SUITES / "data" / "users.csv").read_text(encoding="utf-8")
    assert doc_block("## A full example", "csv") == csv_text


def test_documented_json_suite_loads(
    tmp_path: Path, validator: jsonschema.Draft202012Validator
) -> None:
    """The JSON example in the guide loads and passes the schema."""
    text = doc_block("## JSON suites", "json")
    assert list(validator.iter_errors(json.loads(text))) == []
    path = tmp_path / "ping.json"
    path.write_text(text, encoding="utf-8")
    assert [t.id for t in load_suite(path).suite.tests] == ["health"]


def test_documented_python_example_runs() -> None:
    """The Python-built example in the guide plans as its comment says."""
    namespace: dict[str, Any] = {}
    exec(doc_block("## Suites built in Python", "python"), namespace)  # noqa: S102 - our own docs
    assert namespace["plan"].order == ("login", "me")
