"""Quarantined tests: they still run and are recorded, but their failures do not fail the run.

A quarantine belongs to a stored test case (``public.test_quarantines``). A store
adds, lifts and lists them (``Store.add_quarantine``, ``remove_quarantine``,
``list_quarantines``, one implementation over SQL functions for both stores), and
``start_suite_run`` returns a suite's quarantined test ids when a run starts; the
engine leaves their failures out of the run's status and exit code.
"""

from __future__ import annotations

from runner.store.records import Quarantine

__all__ = ["Quarantine"]
