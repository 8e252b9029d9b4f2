"""Executing a plan: the scheduler and one case.

A case renders, sends, captures and checks; processes a suite needs are started here too.
"""
