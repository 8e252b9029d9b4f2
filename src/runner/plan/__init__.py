"""Planning: a suite becomes a dependency graph and a run order, or an error before it runs."""
