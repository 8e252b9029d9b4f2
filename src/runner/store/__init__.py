"""Where a run's results go: the database (``PostgresStore``) or nowhere (``NullStore``)."""

from runner.store.base import NullStore, RunInfo, Store

__all__ = ["NullStore", "RunInfo", "Store"]
