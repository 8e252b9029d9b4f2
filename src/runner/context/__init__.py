"""The run's shared context across processes: the context manager, and requests built from it."""
