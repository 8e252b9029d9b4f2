"""The Python-defined example suite runs through the public API like a YAML one."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import httpx

import runner

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


async def test_python_suite_passes_against_the_demo_shop() -> None:
    """Every test of examples/python_suite.py passes, with captures feeding later requests."""
    suite = _load("python_suite").build_suite(base_url="http://shop.test")
    app = _load("shop_api").create_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        result = await runner.run_suite(suite, client=client, services=(), environ={}, seed=1)
    assert [r.key for r in result.results] == [
        "login",
        "catalog",
        "add_to_cart",
        "update_profile",
    ]
    assert result.ok, [r.message for r in result.results]
    profile = next(r for r in result.results if r.key == "update_profile")
    assert profile.request is not None and profile.request.body is not None
    assert result.results[0].captured["user_id"] in profile.request.body
