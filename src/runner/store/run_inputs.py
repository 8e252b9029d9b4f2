"""What a run asks of its store before it starts: stored secrets and personal credentials.

Light on purpose: ``run_suite`` imports it for every store, ``--no-store`` included,
so it imports no database driver; the store does the reading.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.models import Suite
    from runner.store.base import Store
    from runner.store.records import Credential
    from runner.suite.load import LoadedSuite

# ``credentials.my_api`` / ``credentials['my_api']`` in any template of a suite
_USED = re.compile(r"\bcredentials\s*(?:\.\s*([A-Za-z_]\w*)|\[\s*['\"]([^'\"]+)['\"]\s*\])")


async def stored_secrets_for_run(
    store: Store, loaded: LoadedSuite, env: str | None, environ: Mapping[str, str]
) -> dict[str, str]:
    """The secrets stored for the environment a run targets, decrypted (by secret name).

    Asked of the store only when some secret of the environment is not in
    ``environ``; {} when the environment is not stored yet (``Store.environment_secrets``).
    """
    from runner.suite.environment import choose_environment

    suite = loaded.suite
    chosen = choose_environment(suite, env)
    if chosen is None:
        return {}
    refs = suite.environments[chosen].secrets
    if not refs or all(ref.env in environ for ref in refs.values()):
        return {}
    return await store.environment_secrets(suite.name, chosen)


def credentials_used(text: str) -> set[str]:
    """The credential names templates in ``text`` (a suite as JSON) refer to."""
    return {a or b for a, b in _USED.findall(text)}


def template_values(credentials: Mapping[str, Credential]) -> dict[str, dict[str, Any]]:
    """What templates see as ``credentials``: each one's secret fields, metadata and kind."""
    return {name: {**c.metadata, **c.secret, "kind": c.kind} for name, c in credentials.items()}


async def credentials_for_run(store: Store, suite: Suite) -> dict[str, Credential]:
    """The credentials ``suite``'s templates use, for the signed-in user ``store`` acts as.

    A store acting as no user (the system, ``--no-store``) has none: ``{}`` without
    looking at the suite (and a template naming a credential fails to render).
    ``ConfigError`` when the user lacks one, or there is no ``RUNNER_SECRET_KEY``.
    """
    if store.user is None:
        return {}
    names = credentials_used(suite.model_dump_json(by_alias=True))
    if not names:
        return {}
    return await store.load_credentials(names)
