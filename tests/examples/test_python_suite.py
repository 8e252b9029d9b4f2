"""The Python-defined example suite runs through the public API like a YAML one."""

from __future__ import annotations

import httpx

import runner
from support import load_example


async def test_python_suite_passes_against_the_demo_shop() -> None:
    """Every test of examples/python_suite.py passes, with captures feeding later requests."""
    suite = load_example("python_suite").build_suite(base_url="http://shop.test")
    app = load_example("shop_api").create_app()
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
