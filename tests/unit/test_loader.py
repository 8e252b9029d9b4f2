"""Loading suites from YAML, JSON and Python, and the file:line:key of every error."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from runner.errors import SuiteError
from runner.models import RequestSpec, Suite, TestSpec
from runner.suite.load import (
    LoadedSuite,
    SourceMap,
    format_key,
    load_suite,
    load_suite_text,
    loaded_from_suite,
)

SUITES = Path(__file__).parent / "suites"


def write(tmp_path: Path, text: str, name: str = "suite.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load_error(path: Path) -> SuiteError:
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    return info.value


MINIMAL = """
name: shop
tests:
  - id: login
    request:
      method: post
      url: /login
    captures:
      token: $.access_token
  - id: cart
    request: {url: /cart}
"""


# ---------------------------------------------------------------- happy paths


def test_loads_a_yaml_suite_with_shorthands(tmp_path: Path) -> None:
    """A YAML file becomes a Suite with shorthands expanded and source_path set."""
    path = write(tmp_path, MINIMAL)
    loaded = load_suite(path)
    assert isinstance(loaded, LoadedSuite)
    assert loaded.suite.name == "shop"
    assert loaded.suite.source_path == str(path)
    login = loaded.suite.tests[0]
    assert login.request.method == "POST"
    assert login.captures["token"].source == "json"
    assert login.captures["token"].path == "$.access_token"
    assert loaded.rows == {}


def test_source_map_knows_the_line_of_every_key(tmp_path: Path) -> None:
    """line_of gives the line of a key, a list item, or the nearest written ancestor."""
    loaded = load_suite(write(tmp_path, MINIMAL))
    source = loaded.source
    assert source.file == str(tmp_path / "suite.yaml")
    assert source.line_of(()) == 1
    assert source.line_of(("name",)) == 1
    assert source.line_of(("tests", 0)) == 3
    assert source.line_of(("tests", 0, "request", "url")) == 6
    assert source.line_of(("tests", 0, "captures", "token")) == 8
    assert source.line_of(("tests", 1, "request", "url")) == 10
    # not written: falls back to the closest ancestor that is
    assert source.line_of(("tests", 1, "checks", "status")) == 9
    assert SourceMap(file=None).line_of(("tests", 0)) is None


def test_load_suite_text_reads_without_a_file(tmp_path: Path) -> None:
    """load_suite_text loads text already read, naming the given file in errors."""
    loaded = load_suite_text(textwrap.dedent(MINIMAL), file="db:shop.yaml")
    assert loaded.suite.source_path == "db:shop.yaml"
    with pytest.raises(SuiteError) as info:
        load_suite_text("name: x\ntests: []\n", file="db:x.yaml")
    assert (info.value.file, info.value.line, info.value.key) == ("db:x.yaml", 2, "tests")


def test_yaml_scalars_read_like_json(tmp_path: Path) -> None:
    """Only true/false are booleans; yes/no/on and dates stay strings."""
    path = write(
        tmp_path,
        """
        name: shop
        tests:
          - id: a
            request:
              url: /a
              json: {flag: yes, off: on, day: 2024-01-01, real: true, fake: False, n: 1.5}
        """,
    )
    body = load_suite(path).suite.tests[0].request.json_body
    assert body == {
        "flag": "yes",
        "off": "on",
        "day": "2024-01-01",
        "real": True,
        "fake": False,
        "n": 1.5,
    }


def test_anchors_and_merge_keys_work_without_false_duplicates(tmp_path: Path) -> None:
    """Merge keys are expanded, own keys win, and lines still map."""
    path = write(
        tmp_path,
        """
        name: shop
        tests:
          - &base
            id: a
            request: {url: /a, headers: {X-Env: test}}
          - <<: *base
            id: b
            tags: [copy]
        """,
    )
    loaded = load_suite(path)
    assert [t.id for t in loaded.suite.tests] == ["a", "b"]
    assert loaded.suite.tests[1].request.headers == {"X-Env": "test"}
    assert loaded.source.line_of(("tests", 1, "id")) == 7
    assert loaded.source.line_of(("tests", 1, "request")) == 5


def test_loads_a_json_suite_with_lines() -> None:
    """A .json suite is read with json semantics and keeps line numbers."""
    loaded = load_suite(SUITES / "ping.json")
    assert [t.id for t in loaded.suite.tests] == ["health", "version"]
    assert loaded.suite.tests[1].request.json_body == {"big": 1000.0, "path": "a/b"}
    assert loaded.source.line_of(("tests", 1, "request", "url")) == 13


def test_json_schema_key_is_ignored(tmp_path: Path) -> None:
    """A top-level $schema (for editors) is not part of the suite."""
    path = write(
        tmp_path,
        '{"$schema": "suite.schema.json", "name": "x", "tests": [{"id": "a", '
        '"request": {"url": "/"}}]}',
        "s.json",
    )
    assert load_suite(path).suite.name == "x"


# --------------------------------------------------------- validation errors


def test_unknown_key_names_file_line_and_dotted_key(tmp_path: Path) -> None:
    """A typo in a nested key is reported at its own line with the full dotted path."""
    path = write(
        tmp_path,
        """
        name: shop
        tests:
          - id: login
            request: {url: /login}
          - id: other
            request: {url: /other}
          - id: cart
            request: {url: /cart}
            captures:
              token:
                pth: $.token
        """,
    )
    err = load_error(path)
    assert (err.file, err.line, err.key) == (str(path), 11, "tests[2].captures.token.pth")
    assert err.reason == "unknown key"
    assert str(err) == f"{path}:11: tests[2].captures.token.pth: unknown key"


def test_missing_required_key_points_at_the_owner(tmp_path: Path) -> None:
    """A missing key is named, on the line of the mapping that lacks it."""
    path = write(
        tmp_path,
        """
        name: shop
        tests:
          - id: login
            tags: [a]
        """,
    )
    err = load_error(path)
    assert (err.line, err.key, err.reason) == (3, "tests[0].request", "missing required key")


def test_union_errors_are_merged_at_one_key(tmp_path: Path) -> None:
    """A value no union member accepts gets every member's message once, with the input."""
    path = write(
        tmp_path,
        """
        name: shop
        tests:
          - id: a
            request: {url: /a}
            checks:
              status: abc
        """,
    )
    err = load_error(path)
    assert (err.line, err.key) == (6, "tests[0].checks.status")
    assert "valid integer" in err.reason
    assert "valid list" in err.reason
    assert "StatusRange" in err.reason
    assert err.reason.endswith("(got 'abc')")


def test_the_innermost_union_error_wins(tmp_path: Path) -> None:
    """A half-written status range reports its missing key, not the union's other members."""
    path = write(
        tmp_path,
        """
        name: shop
        tests:
          - id: a
            request: {url: /a}
            checks:
              status: {min: 200}
        """,
    )
    err = load_error(path)
    assert (err.line, err.key, err.reason) == (
        6,
        "tests[0].checks.status.max",
        "missing required key",
    )


def test_model_validator_error_is_reported_on_its_mapping(tmp_path: Path) -> None:
    """Two bodies at once are reported on the request's line, without pydantic's prefix."""
    path = write(
        tmp_path,
        """
        name: shop
        tests:
          - id: a
            request:
              url: /a
              json: {x: 1}
              body: text
        """,
    )
    err = load_error(path)
    assert (err.line, err.key) == (4, "tests[0].request")
    assert err.reason.startswith("give only one of json, form, body (got json, body)")


def test_first_error_in_file_order_with_a_count_of_the_rest(tmp_path: Path) -> None:
    """Several problems: the earliest is shown and the others counted."""
    path = write(
        tmp_path,
        """
        name: shop
        tests:
          - id: a
            request: {url: /a, verb: GET}
          - id: b
            request: {url: /b}
            timeout: -1
        """,
    )
    err = load_error(path)
    assert (err.line, err.key) == (4, "tests[0].request.verb")
    assert err.reason == "unknown key (and 1 more error)"


def test_an_empty_test_list_is_an_error(tmp_path: Path) -> None:
    """A suite needs at least one test."""
    err = load_error(write(tmp_path, "name: x\ntests: []\n"))
    assert (err.line, err.key) == (2, "tests")


def test_source_path_cannot_be_written(tmp_path: Path) -> None:
    """source_path is set by the loader, so the file may not set it."""
    path = write(tmp_path, "name: x\nsource_path: /etc\ntests: [{id: a, request: {url: /}}]\n")
    err = load_error(path)
    assert (err.line, err.key, err.reason) == (2, "source_path", "unknown key")


def test_default_env_must_name_an_environment(tmp_path: Path) -> None:
    """default_env naming no environment is an error on its line, listing the known ones."""
    path = write(
        tmp_path,
        """
        name: shop
        default_env: prod
        environments:
          local: {}
          staging: {}
        tests: [{id: a, request: {url: /}}]
        """,
    )
    err = load_error(path)
    assert (err.line, err.key) == (2, "default_env")
    assert "'prod'" in err.reason
    assert "local, staging" in err.reason


def test_duplicate_test_ids_name_both_lines(tmp_path: Path) -> None:
    """A repeated id is reported at the second one, naming the first one's line."""
    path = write(
        tmp_path,
        """
        name: shop
        tests:
          - id: login
            request: {url: /a}
          - id: cart
            request: {url: /b}
          - id: login
            request: {url: /c}
        """,
    )
    err = load_error(path)
    assert (err.line, err.key) == (7, "tests[2].id")
    assert err.reason == "duplicate test id 'login' (first used at line 3)"


# -------------------------------------------------------------- file problems


def test_malformed_yaml_reports_the_parser_line(tmp_path: Path) -> None:
    """A YAML syntax error becomes a SuiteError with the parser's line."""
    path = write(
        tmp_path,
        """
        name: shop
        tests:
          - id: a
            request: {url: /a
          - id: b
        """,
    )
    err = load_error(path)
    assert err.file == str(path)
    assert err.line == 5
    assert err.reason.startswith("invalid YAML:")


def test_bad_indentation_reports_its_line(tmp_path: Path) -> None:
    """A mapping value where none is allowed is reported where it is."""
    err = load_error(write(tmp_path, "name: shop\ntests:\n  - id: a\n   request: x\n"))
    assert err.line == 4
    assert "invalid YAML" in err.reason


def test_duplicate_yaml_keys_are_errors(tmp_path: Path) -> None:
    """A key written twice in one mapping is an error naming both lines."""
    path = write(
        tmp_path,
        """
        name: shop
        tests:
          - id: a
            request:
              url: /a
              url: /b
        """,
    )
    err = load_error(path)
    assert (err.line, err.key) == (6, "tests[0].request.url")
    assert err.reason == "duplicate key 'url' (first written at line 5)"


def test_duplicate_json_keys_are_errors(tmp_path: Path) -> None:
    """JSON duplicates are found too, with the line of the second one."""
    path = write(
        tmp_path,
        """
        {
          "name": "shop",
          "tests": [],
          "name": "again"
        }
        """,
        "suite.json",
    )
    err = load_error(path)
    assert (err.line, err.key) == (4, "name")
    assert "duplicate key 'name'" in err.reason


def test_malformed_json_reports_the_decoder_line(tmp_path: Path) -> None:
    """Invalid JSON is reported with the json module's line."""
    path = write(tmp_path, '{\n  "name": "x",\n  "tests": [,]\n}\n', "suite.json")
    err = load_error(path)
    assert err.line == 3
    assert err.reason.startswith("invalid JSON:")


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file_is_a_clear_error(tmp_path: Path, text: str) -> None:
    """An empty YAML file says so."""
    err = load_error(write(tmp_path, text))
    assert err.file == str(tmp_path / "suite.yaml")
    assert "empty" in err.reason


def test_empty_json_file_is_a_clear_error(tmp_path: Path) -> None:
    """An empty JSON file says so too."""
    assert "empty" in load_error(write(tmp_path, "  \n", "suite.json")).reason


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    """A list at the top is rejected with what was found."""
    err = load_error(write(tmp_path, "- id: a\n- id: b\n"))
    assert err.line == 1
    assert err.reason == "a suite must be a mapping with 'name' and 'tests', not a list"


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    """A path that does not exist is reported as such."""
    err = load_error(tmp_path / "nope.yaml")
    assert (err.file, err.line, err.reason) == (
        str(tmp_path / "nope.yaml"),
        None,
        "suite file not found",
    )


def test_directory_is_a_clear_error(tmp_path: Path) -> None:
    """A directory is not a suite file."""
    assert "directory" in load_error(tmp_path).reason


def test_several_documents_are_an_error(tmp_path: Path) -> None:
    """A file holds one suite, so a second YAML document is an error."""
    err = load_error(write(tmp_path, "name: a\n---\nname: b\n"))
    assert err.line == 2
    assert "invalid YAML" in err.reason


# ------------------------------------------------------------------ data rows


def data_suite(tmp_path: Path, data: str) -> Path:
    return write(
        tmp_path,
        f"""
        name: shop
        tests:
          - id: plain
            request: {{url: /}}
          - id: signup
            request: {{url: /users}}
            data: {data}
        """,
    )


def test_inline_rows_keep_their_types(tmp_path: Path) -> None:
    """Inline data rows are kept per test id with YAML types."""
    loaded = load_suite(data_suite(tmp_path, "[{n: 1, ok: true}, {n: 2, ok: false}]"))
    assert loaded.rows == {"signup": ({"n": 1, "ok": True}, {"n": 2, "ok": False})}


def test_csv_rows_stay_strings(tmp_path: Path) -> None:
    """CSV rows are read relative to the suite file, every value a string."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "users.csv").write_text("email,zip\nann@x.io,007\nbob@x.io,10\n")
    loaded = load_suite(data_suite(tmp_path, "data/users.csv"))
    assert loaded.rows["signup"] == (
        {"email": "ann@x.io", "zip": "007"},
        {"email": "bob@x.io", "zip": "10"},
    )


def test_json_rows_keep_json_types(tmp_path: Path) -> None:
    """A JSON data file is a list of objects whose values keep their types."""
    (tmp_path / "rows.json").write_text('[{"n": 1, "tags": ["a"]}, {"n": 2, "tags": []}]')
    loaded = load_suite(data_suite(tmp_path, "rows.json"))
    assert loaded.rows["signup"] == ({"n": 1, "tags": ["a"]}, {"n": 2, "tags": []})


def test_missing_data_file_names_it_and_the_test_line(tmp_path: Path) -> None:
    """A data file that does not exist: the suite's data line and the fixture path."""
    path = data_suite(tmp_path, "data/nope.csv")
    err = load_error(path)
    assert (err.file, err.line, err.key) == (str(path), 7, "tests[1].data")
    assert err.reason == f"data file {tmp_path / 'data' / 'nope.csv'} not found"


def test_ragged_csv_row_names_the_fixture_line(tmp_path: Path) -> None:
    """A CSV row with too few or too many values names the fixture's line."""
    (tmp_path / "users.csv").write_text("email,name\nann@x.io,Ann\nbob@x.io\n")
    err = load_error(data_suite(tmp_path, "users.csv"))
    assert (err.line, err.key) == (7, "tests[1].data")
    assert err.reason == (
        f"data file {tmp_path / 'users.csv'}:3: a row needs exactly 2 values, like the header"
    )
    (tmp_path / "users.csv").write_text("email,name\nann@x.io,Ann,extra\n")
    assert ":2: a row needs exactly 2 values" in load_error(tmp_path / "suite.yaml").reason


def test_csv_with_repeated_column_is_an_error(tmp_path: Path) -> None:
    """Two columns with one name would silently lose values, so they are an error."""
    (tmp_path / "users.csv").write_text("a,a\n1,2\n")
    assert "repeated" in load_error(data_suite(tmp_path, "users.csv")).reason


def test_empty_csv_is_an_error(tmp_path: Path) -> None:
    """A CSV without a header row cannot name columns."""
    (tmp_path / "users.csv").write_text("")
    assert "needs a header row" in load_error(data_suite(tmp_path, "users.csv")).reason


def test_data_without_rows_is_an_error(tmp_path: Path) -> None:
    """A data-driven test with zero rows would silently never run."""
    (tmp_path / "users.csv").write_text("email\n")
    err = load_error(data_suite(tmp_path, "users.csv"))
    assert (err.line, err.reason) == (7, "test 'signup' has no data rows")
    assert load_error(data_suite(tmp_path, "[]")).reason == "test 'signup' has no data rows"


def test_json_data_must_be_a_list_of_objects(tmp_path: Path) -> None:
    """JSON data that is not a list of objects says which item is wrong."""
    (tmp_path / "rows.json").write_text('{"n": 1}')
    err = load_error(data_suite(tmp_path, "rows.json"))
    assert (err.line, err.key) == (7, "tests[1].data")
    assert err.reason == f"data file {tmp_path / 'rows.json'} must be a JSON list of objects"
    (tmp_path / "rows.json").write_text('[{"n": 1}, 2]')
    assert "(item 1 is a int)" in load_error(tmp_path / "suite.yaml").reason


def test_invalid_json_data_names_the_fixture_line(tmp_path: Path) -> None:
    """A JSON syntax error in a data file names the data file's own line."""
    (tmp_path / "rows.json").write_text('[\n  {"n": 1},\n  {"n": }\n]')
    err = load_error(data_suite(tmp_path, "rows.json"))
    assert err.line == 7
    assert err.reason.startswith(f"data file {tmp_path / 'rows.json'}:3: invalid JSON")


def test_data_file_must_be_csv_or_json(tmp_path: Path) -> None:
    """Other extensions are refused before reading."""
    err = load_error(data_suite(tmp_path, "rows.xlsx"))
    assert err.reason.endswith("must end in .csv or .json")


# ------------------------------------------------------------- Python-built


def python_suite(*tests: TestSpec, **extra: object) -> Suite:
    return Suite.model_validate({"name": "py", "tests": tests, **extra})


def test_python_built_suite_is_checked_like_a_file(tmp_path: Path) -> None:
    """loaded_from_suite checks ids and loads data files relative to base_dir."""
    (tmp_path / "rows.csv").write_text("q\nshoes\n")
    suite = python_suite(
        TestSpec(id="a", request=RequestSpec(url="/a")),
        TestSpec(id="b", request=RequestSpec(url="/b"), data="rows.csv"),
    )
    loaded = loaded_from_suite(suite, base_dir=tmp_path)
    assert loaded.suite is suite
    assert loaded.rows == {"b": ({"q": "shoes"},)}
    assert loaded.source.file is None
    assert loaded.source.line_of(("tests", 0)) is None


def test_python_built_suite_reads_data_next_to_its_source_path(tmp_path: Path) -> None:
    """Without base_dir, data files are relative to source_path's folder."""
    (tmp_path / "rows.json").write_text('[{"q": 1}]')
    suite = python_suite(TestSpec(id="b", request=RequestSpec(url="/b"), data="rows.json"))
    suite = suite.model_copy(update={"source_path": str(tmp_path / "suite.py")})
    assert loaded_from_suite(suite).rows == {"b": ({"q": 1},)}


def test_python_built_duplicate_ids_name_the_key(tmp_path: Path) -> None:
    """Python-built suites have no lines, but errors still name the key."""
    suite = python_suite(
        TestSpec(id="a", request=RequestSpec(url="/a")),
        TestSpec(id="a", request=RequestSpec(url="/b")),
    )
    with pytest.raises(SuiteError) as info:
        loaded_from_suite(suite)
    assert (info.value.file, info.value.line, info.value.key) == (None, None, "tests[1].id")
    assert info.value.reason == "duplicate test id 'a' (first used at tests[0])"


def test_python_built_default_env_is_checked() -> None:
    """default_env is checked for Python-built suites too."""
    suite = python_suite(TestSpec(id="a", request=RequestSpec(url="/a")), default_env="x")
    with pytest.raises(SuiteError) as info:
        loaded_from_suite(suite)
    assert info.value.key == "default_env"
    assert "none are defined" in info.value.reason


# -------------------------------------------------------------------- helpers


def test_format_key_quotes_keys_that_are_not_plain() -> None:
    """Dotted keys read naturally; keys with dots or spaces are quoted."""
    assert format_key(("tests", 2, "captures", "token", "pth")) == "tests[2].captures.token.pth"
    assert format_key(("headers", "Content-Type")) == "headers.Content-Type"
    assert format_key(("variables", "a.b", "c d")) == 'variables["a.b"]["c d"]'
    assert format_key(()) == ""
