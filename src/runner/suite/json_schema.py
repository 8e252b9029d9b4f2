"""The JSON Schema of suite files, generated from the pydantic models.

``python -m runner.suite.json_schema > docs/suite.schema.json`` regenerates the committed copy;
a test fails when the two differ. Editors use it for completion and checking, e.g.
``# yaml-language-server: $schema=../docs/suite.schema.json`` atop a YAML suite.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from runner.models import TEST_ID_PATTERN, Suite

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

# Models whose validators also accept a plain string; pydantic's schema only knows the
# object form, so an editor would flag the shorthand the loader accepts.
_SHORTHANDS: dict[str, dict[str, Any]] = {
    "CaptureSpec": {
        "type": "string",
        "description": "Shorthand for {from: json, path: <this JSONPath>}.",
    },
    "Dependency": {
        "type": "string",
        "pattern": TEST_ID_PATTERN,
        "description": "Shorthand for {test: <this id>, type: order}.",
    },
    "SecretRef": {
        "type": "string",
        "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$",
        "description": "Shorthand for {env: <this environment variable>}.",
    },
}


def suite_schema() -> dict[str, Any]:
    """The schema a suite file (YAML or JSON) must satisfy."""
    schema = Suite.model_json_schema(by_alias=True, mode="validation")
    # the loader sets source_path from the file itself; writing it is an error
    del schema["properties"]["source_path"]
    # the loader ignores a top-level $schema, so a JSON suite can name its schema
    schema["properties"] = {
        "$schema": {"type": "string", "description": "This schema's URL or path (ignored)."},
        **schema["properties"],
    }
    schema = _with_shorthands(schema)
    method = schema["$defs"]["RequestSpec"]["properties"]["method"]
    # the model upper-cases the method before checking it, so ``post`` is fine too
    method["enum"] = [*method["enum"], *(m.lower() for m in method["enum"])]
    return {"$schema": SCHEMA_DIALECT, "title": "API test suite", **schema}


def schema_text() -> str:
    """The schema exactly as committed in ``docs/suite.schema.json``."""
    return json.dumps(suite_schema(), indent=2, ensure_ascii=False) + "\n"


def _with_shorthands(node: Any) -> Any:
    if isinstance(node, list):
        return [_with_shorthands(item) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref", "")
    name = ref.rpartition("/")[2]
    if ref.startswith("#/$defs/") and name in _SHORTHANDS and len(node) == 1:
        return {"anyOf": [_SHORTHANDS[name], node]}
    return {key: _with_shorthands(value) for key, value in node.items()}


def main() -> None:
    """Print the schema (``python -m runner.suite.json_schema``)."""
    sys.stdout.write(schema_text())


if __name__ == "__main__":
    main()
