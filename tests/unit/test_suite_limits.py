"""Bounded suite parsing: file size, nesting depth and YAML aliases fail as one SuiteError."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from runner.errors import SuiteError
from runner.settings import DEFAULT_MAX_SUITE_BYTES, Settings
from runner.suite.limits import (
    MAX_DEPTH,
    FileTooLargeError,
    json_line_too_deep,
    read_text_capped,
    within_depth,
)
from runner.suite.load import load_suite, load_suite_text

TESTS_YAML = "tests:\n  - id: a\n    request: {url: /a}\n"
TESTS_JSON = '"tests": [{"id": "a", "request": {"url": "/a"}}]'


def alias_bomb() -> str:
    """The billion-laughs shape: nine levels of nine aliases each (9**9 values), ~330 bytes."""
    lines = ["name: bomb", TESTS_YAML.rstrip("\n"), "a: &a [x,x,x,x,x,x,x,x,x]"]
    previous = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
        previous = name
    return "\n".join(lines) + "\n"


def nested_body_yaml(depth: int) -> str:
    """A suite whose request body puts its deepest list at ``depth`` (the suite is level 1)."""
    inner = depth - 4  # suite > tests > test > request, then the body's lists
    body = "[" * inner + "]" * inner
    return f"name: deep\ntests:\n  - id: a\n    request:\n      url: /a\n      json: {body}\n"


def load_error(path: Path, **kwargs: int) -> SuiteError:
    with pytest.raises(SuiteError) as info:
        load_suite(path, **kwargs)
    return info.value


def test_an_alias_bomb_is_an_error_at_its_line(tmp_path: Path) -> None:
    """A ~330-byte alias bomb fails fast as one SuiteError naming the line it expands at."""
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb())
    assert len(path.read_bytes()) < 400
    started = time.monotonic()
    error = load_error(path)
    assert time.monotonic() - started < 5
    assert error.file == str(path) and error.line is not None and error.line >= 5
    assert "aliases expand to more than" in str(error)


def test_anchors_and_merge_keys_within_the_budget_still_load(tmp_path: Path) -> None:
    """Ordinary reuse (shared defaults merged into 300 tests) is not mistaken for a bomb."""
    # the anchors live in the first test; the others merge and reuse them
    first = "  - id: t0\n    request: &req {method: POST, url: /t0, headers: {A: '1'}}\n"
    first += "    checks: &checks {status: 200}\n"
    rest = "".join(
        f"  - id: t{i}\n    request: {{<<: *req, url: /t{i}}}\n    checks: *checks\n"
        for i in range(1, 300)
    )
    path = tmp_path / "reuse.yaml"
    path.write_text("name: reuse\ntests:\n" + first + rest)
    loaded = load_suite(path)
    assert len(loaded.suite.tests) == 300
    assert loaded.suite.tests[299].request.method == "POST"
    assert loaded.source.line_of(("tests", 299, "request", "url")) == 2 + 3 * 299 + 2


def test_an_alias_inside_its_own_anchor_is_an_error(tmp_path: Path) -> None:
    """A value that contains itself (``&v {a: *v}``) is reported, not recursed into."""
    path = tmp_path / "self.yaml"
    path.write_text("name: s\ntests:\n  - id: a\n    request: {url: /a, json: &v {a: *v}}\n")
    error = load_error(path)
    assert error.line == 4
    assert "refers to its own anchor" in str(error)


def test_yaml_nesting_up_to_the_limit_loads(tmp_path: Path) -> None:
    """A body whose deepest list is at exactly MAX_DEPTH loads."""
    path = tmp_path / "ok.yaml"
    path.write_text(nested_body_yaml(MAX_DEPTH))
    assert load_suite(path).suite.tests[0].request.json_body is not None


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 500, 10_000])
def test_yaml_nested_too_deep_is_an_error_at_its_line(tmp_path: Path, depth: int) -> None:
    """Deeper than MAX_DEPTH (or libyaml's own 1,000) is one SuiteError at the line."""
    path = tmp_path / "deep.yaml"
    path.write_text(nested_body_yaml(depth))
    error = load_error(path)
    assert error.line == 6
    assert "nest" in str(error)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 2_000, 10_000])
def test_json_nested_too_deep_is_an_error_at_its_line(tmp_path: Path, depth: int) -> None:
    """JSON nested past the limit, even past json's recursion limit, is one SuiteError."""
    body = "[" * (depth - 1) + "]" * (depth - 1)  # the suite, then lists
    path = tmp_path / "deep.json"
    path.write_text('{"name": "deep", ' + TESTS_JSON + ',\n"base_url":\n' + body + "}")
    started = time.monotonic()
    error = load_error(path)
    assert time.monotonic() - started < 5
    assert error.file == str(path) and error.line == 3
    assert f"nested deeper than {MAX_DEPTH} levels" in str(error)


def test_json_depth_counts_brackets_outside_strings_only() -> None:
    """Brackets inside JSON strings (escaped quotes included) do not count as nesting."""
    text = '{"a": "[[[[\\"[[[[", "b": [\n[\n[]]]}'
    assert json_line_too_deep(text, limit=4) is None
    assert json_line_too_deep(text, limit=3) == 3
    assert within_depth(json.loads(text), 4) and not within_depth(json.loads(text), 3)


def test_a_file_over_the_size_limit_fails_before_it_is_read(tmp_path: Path) -> None:
    """A 200 MB (sparse) file is refused from its size, quickly, naming the file."""
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(200 * 1024 * 1024)
    started = time.monotonic()
    error = load_error(path)
    assert time.monotonic() - started < 5
    assert error.file == str(path) and error.line is None
    assert "200 MiB, more than RUNNER_MAX_SUITE_BYTES (50 MiB)" in str(error)


def test_the_size_limit_is_configurable(tmp_path: Path) -> None:
    """max_bytes (RUNNER_MAX_SUITE_BYTES) moves the limit both ways."""
    path = tmp_path / "s.yaml"
    path.write_text("name: s\n" + TESTS_YAML)
    size = len(path.read_bytes())
    assert load_suite(path, max_bytes=size).suite.name == "s"
    assert "RUNNER_MAX_SUITE_BYTES (" in str(load_error(path, max_bytes=size - 1))
    with pytest.raises(SuiteError, match="more than RUNNER_MAX_SUITE_BYTES"):
        load_suite_text("name: s\n" + TESTS_YAML, file="s.yaml", max_bytes=10)


def test_the_setting_defaults_to_50_mib(monkeypatch: pytest.MonkeyPatch) -> None:
    """RUNNER_MAX_SUITE_BYTES is a setting, 50 MiB unless set."""
    monkeypatch.delenv("RUNNER_MAX_SUITE_BYTES", raising=False)
    assert Settings(_env_file=None).max_suite_bytes == DEFAULT_MAX_SUITE_BYTES == 50 * 2**20  # type: ignore[call-arg]
    monkeypatch.setenv("RUNNER_MAX_SUITE_BYTES", "1000")
    assert Settings(_env_file=None).max_suite_bytes == 1000  # type: ignore[call-arg]


def test_reading_stops_at_the_cap_when_the_size_is_unknown() -> None:
    """A file that reports no size (a device, a FIFO) is read only up to the cap."""
    with pytest.raises(FileTooLargeError) as info:
        read_text_capped(Path("/dev/zero"), 4096)
    assert info.value.size is None and info.value.limit == 4096


def test_data_files_are_bounded_too(tmp_path: Path) -> None:
    """A data file over the size limit, or nested too deeply, is an error at tests[i].data."""
    (tmp_path / "rows.json").write_text('[{"a": ' + "[" * 2000 + "]" * 2000 + "}]")
    path = tmp_path / "s.yaml"
    path.write_text("name: s\ntests:\n  - id: a\n    request: {url: /a}\n    data: rows.json\n")
    error = load_error(path)
    assert error.line == 5 and error.key == "tests[0].data"
    assert f"rows.json:1: nested deeper than {MAX_DEPTH} levels" in str(error)
    (tmp_path / "rows.json").write_text('[{"a": 1}]' + " " * 100)
    error = load_error(path, max_bytes=100)
    assert "rows.json: the file is 110 bytes, more than RUNNER_MAX_SUITE_BYTES" in str(error)
