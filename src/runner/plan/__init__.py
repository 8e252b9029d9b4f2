"""Planning: a suite becomes a dependency graph and a run order.

Cycles and unknown references are errors before anything runs.
"""
