"""A suite built in Python with the same models a YAML suite is loaded into.

Run it (it starts the demo shop API itself, on port 8766):

    python examples/python_suite.py             # records nothing
    python examples/python_suite.py --store     # records into the configured database

The chain: log in (capture the token and user id) -> read the catalog (capture a
product id) -> add it to the cart -> update the profile with the user id.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import runner
from runner import (
    CaptureSpec,
    Checks,
    Environment,
    JsonCheck,
    RequestSpec,
    Service,
    Suite,
    TestSpec,
)

PORT = 8766
BEARER = {"Authorization": "Bearer {{ shared_auth_tokens.user }}"}


def build_suite(base_url: str = f"http://127.0.0.1:{PORT}") -> Suite:
    """The suite: four dependent tests against the demo shop."""
    return Suite(
        name="shop-python",
        base_url=base_url,
        environments={
            "local": Environment.model_validate(
                {
                    "variables": {"email": "alice@example.com"},
                    "secrets": {
                        "password": {"env": "SHOP_DEMO_PASSWORD", "default": "demo-password"}
                    },
                }
            )
        },
        tests=(
            TestSpec(
                id="login",
                request=RequestSpec.model_validate(
                    {
                        "method": "POST",
                        "url": "/auth/login",
                        "json": {"email": "{{ env.email }}", "password": "{{ secrets.password }}"},
                    }
                ),
                captures={
                    "token": CaptureSpec.model_validate(
                        {"path": "$.access_token", "secret": True, "as_token": "user"}
                    ),
                    "user_id": CaptureSpec.model_validate("$.user_id"),
                },
                checks=Checks(status=200),
            ),
            TestSpec(
                id="catalog",
                request=RequestSpec(url="/catalog", headers=BEARER),
                captures={"product_id": CaptureSpec.model_validate("$.products[0].id")},
                checks=Checks.model_validate(
                    {"status": 200, "json": [{"path": "$.products", "op": "length", "value": 4}]}
                ),
            ),
            TestSpec(
                id="add_to_cart",
                request=RequestSpec.model_validate(
                    {
                        "method": "POST",
                        "url": "/cart/items",
                        "headers": BEARER,
                        "json": {
                            "product_id": "{{ captured_data.catalog.product_id }}",
                            "quantity": 2,
                        },
                    }
                ),
                checks=Checks(
                    status=201,
                    json_checks=[JsonCheck(path="$.items", op="length", value=1)],
                ),
            ),
            TestSpec(
                id="update_profile",
                request=RequestSpec.model_validate(
                    {
                        "method": "PUT",
                        "url": "/profile",
                        "headers": BEARER,
                        "json": {"id": "{{ captured_data.login.user_id }}", "name": "Alice P."},
                    }
                ),
                checks=Checks.model_validate(
                    {"status": 200, "json": [{"path": "$.name", "op": "eq", "value": "Alice P."}]}
                ),
            ),
        ),
    )


def demo_service() -> Service:
    """The demo shop API, started by the run and stopped after it."""
    return Service(
        name="shop-api",
        command=["{python}", "shop_api.py", "--port", str(PORT)],
        url=f"http://127.0.0.1:{PORT}/health",
        timeout=20,
    )


async def main(store: bool) -> int:
    """Run the suite; exit 0 when every test passed."""
    from pathlib import Path

    suite = build_suite().model_copy(update={"source_path": str(Path(__file__))})
    if store:
        from runner.settings import Settings
        from runner.store.factory import open_store

        async with open_store(Settings()) as recorder:
            result = await runner.run_suite(suite, store=recorder, services=[demo_service()])
    else:
        result = await runner.run_suite(suite, services=[demo_service()])
    for r in result.results:
        print(f"{r.status.value:8} {r.key} {r.message}")
    print(f"{result.counts['passed']} passed, {result.counts['failed']} failed")
    return 0 if result.ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", action="store_true", help="record the run in the database")
    sys.exit(asyncio.run(main(parser.parse_args().store)))
