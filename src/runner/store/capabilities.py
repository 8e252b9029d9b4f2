"""The capabilities both database stores share, written once over ``public`` SQL functions.

``PostgresStore`` and ``SupabaseStore`` differ only in how they call a function
(``_call``: a direct ``select`` as an identity, or an RPC): the arguments, the
answers and every rule around them live here, so the two paths cannot drift.
Ciphertext travels as base64 text; values are encrypted and decrypted here, so
plaintext never reaches the database on either path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from runner.errors import ConfigError, DatabaseError
from runner.secrets.crypto import KEYGEN_HINT, SecretBox, SecretKeyError
from runner.store.records import Credential, CredentialKind, Quarantine
from runner.store.sealing import from_text, not_a_user, open_credentials, save_arguments, to_text
from runner.store.sync import slugify

if TYPE_CHECKING:
    from runner.suite.load import LoadedSuite

EDITOR_HINT = " (changing a quarantine needs the editor role or above)"


class StoredCapabilities:
    """Secrets, credentials, quarantines, stored suites and analyses through SQL functions."""

    name: str
    cipher: SecretBox | None
    organization: str
    project: str | None
    user_hint: str
    """How to sign in, for the message when credentials are asked of the system."""

    @property
    def user(self) -> str | None:
        """The signed-in user the store acts as (None: the system)."""
        raise NotImplementedError

    async def _call(
        self, function: str, args: dict[str, Any], doing: str, refused: str = ""
    ) -> Any:
        """What ``public.<function>`` returns for these named arguments (JSON values)."""
        raise NotImplementedError

    def _box(self, purpose: str) -> SecretBox:
        if self.cipher is None:
            raise SecretKeyError(
                f"{purpose} needs RUNNER_SECRET_KEY, which is not set; {KEYGEN_HINT}"
            )
        return self.cipher

    def _organization(self) -> str:
        return slugify(self.organization, fallback="local")

    def _project(self) -> str | None:
        return slugify(self.project) if self.project else None

    # ------------------------------------------------------------------ secrets
    async def environment_secrets(self, suite: str, environment: str) -> dict[str, str]:
        """Decrypted secrets of ``environment`` in the project ``suite`` records into."""
        if self.cipher is None:
            return {}
        args = {
            "p_organization": self._organization(),
            "p_project": slugify(self.project or suite),
            "p_environment": environment,
        }
        try:
            found = await self._call(
                "stored_environment_secrets", args, "read the environment's secrets"
            )
        except DatabaseError:
            # not ours to read (an editor): the secret is simply missing
            return {}
        if not isinstance(found, dict):
            return {}  # the environment is not stored yet
        return {
            name: from_text(self.cipher, v["ciphertext"], v["key_id"]) for name, v in found.items()
        }

    async def set_environment_secret(
        self, project: str, environment: str, name: str, value: str
    ) -> None:
        """Store (or replace) secret ``name`` of an environment as ciphertext."""
        box = self._box("storing a secret")
        args = {
            "p_organization": self._organization(),
            "p_project": slugify(project),
            "p_environment": environment,
            "p_name": name,
            "p_ciphertext": to_text(box, value),
            "p_key_id": box.key_id,
        }
        stored = await self._call("set_environment_secret", args, f"store secret {name!r}")
        if not stored:
            raise ConfigError(
                f"no environment {environment!r} in project {project!r} of organisation "
                f"{self.organization!r} (run the suite once to store it)"
            )

    # -------------------------------------------------------------- credentials
    def _signed_in(self) -> str:
        who = self.user
        if who is None:
            raise not_a_user(self.user_hint)
        return who

    async def load_credentials(self, names: Iterable[str]) -> dict[str, Credential]:
        """The signed-in user's credentials of these names, opened; marks them used."""
        who = self._signed_in()
        wanted = sorted(set(names))
        if not wanted:
            return {}
        box = self._box(f"opening credentials ({', '.join(wanted)})")
        rows = await self._call("use_api_credentials", {"p_names": wanted}, "read credentials")
        return open_credentials(rows, wanted, box, who)

    async def save_credential(
        self,
        name: str,
        kind: CredentialKind,
        secret: Mapping[str, str],
        *,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        expires_at: datetime | None = None,
    ) -> str:
        """Store (or replace) the signed-in user's credential ``name``; returns its id."""
        self._signed_in()
        args = save_arguments(
            name,
            kind,
            secret,
            self._box("storing a credential"),
            description=description,
            metadata=metadata,
            expires_at=expires_at,
        )
        return str(await self._call("save_api_credential", args, f"store credential {name!r}"))

    async def delete_credential(self, name: str) -> bool:
        """Remove the signed-in user's credential ``name``; whether there was one."""
        self._signed_in()
        gone = await self._call(
            "delete_api_credential", {"p_name": name}, f"delete credential {name!r}"
        )
        return gone is True

    # ----------------------------------------------------------------- analysis
    async def run_analysis(self, run_id: str) -> dict[str, Any]:
        """What the run's finish found (``public.run_analysis``), as JSON."""
        found = await self._call(
            "run_analysis", {"p_run_id": run_id}, f"read the analysis of run {run_id}"
        )
        return found if isinstance(found, dict) else {}

    # -------------------------------------------------------------- quarantines
    async def _case(self, suite: str, test: str, doing: str) -> str:
        args = {"p_suite": suite, "p_test": test, "p_project": self._project()}
        found = await self._call("find_test_cases", args, doing) or []
        if not found:
            raise ConfigError(
                f"no stored test {test!r} in suite {suite!r} (run the suite once to store it)"
            )
        if len(found) > 1:
            where = ", ".join(sorted(str(f["project"]) for f in found))
            raise ConfigError(
                f"suite {suite!r} with test {test!r} is stored in several projects ({where}); "
                "set RUNNER_PROJECT to choose one"
            )
        return str(found[0]["id"])

    async def add_quarantine(self, suite: str, test: str, reason: str) -> bool:
        """Quarantine a stored test (or change its reason); True when newly quarantined."""
        if not reason.strip():
            raise ConfigError("a quarantine needs a reason (--reason)")
        doing = "quarantine a test"
        case_id = await self._case(suite, test, doing)
        args = {"p_test_case_id": case_id, "p_reason": reason}
        return await self._call("quarantine_test_case", args, doing, EDITOR_HINT) is True

    async def remove_quarantine(self, suite: str, test: str) -> bool:
        """Lift a stored test's quarantine; False when it was not quarantined."""
        doing = "lift a quarantine"
        case_id = await self._case(suite, test, doing)
        args = {"p_test_case_id": case_id}
        return await self._call("lift_quarantine", args, doing, EDITOR_HINT) is True

    async def list_quarantines(self, suite: str | None = None) -> list[Quarantine]:
        """Quarantined tests the caller can see, optionally of one suite."""
        args = {"p_suite": suite, "p_project": self._project()}
        rows = await self._call("list_quarantines", args, "list quarantined tests") or []
        return [
            Quarantine(
                project=r["project"],
                suite=r["suite"],
                test=r["test"],
                reason=r["reason"],
                quarantined_at=datetime.fromisoformat(r["quarantined_at"]),
                quarantined_by=r["quarantined_by"],
            )
            for r in rows
        ]

    # ------------------------------------------------------------- stored suites
    async def load_suite(self, name: str) -> LoadedSuite:
        """Rebuild the suite stored under ``name`` (or its slug) from the tables."""
        from runner.store.catalog import suite_from_stored

        args = {"p_name": name, "p_project": self._project()}
        found = await self._call("stored_suite", args, f"load stored suite {name!r}")
        return suite_from_stored(name, found if isinstance(found, dict) else {})

    async def reap_stale_runs(self, stale_after_s: float) -> int:
        """``public.reap_stale_runs``: runs silent too long become ``interrupted``."""
        args = {"p_stale_after_s": stale_after_s}
        return int(await self._call("reap_stale_runs", args, "reap stale runs") or 0)
