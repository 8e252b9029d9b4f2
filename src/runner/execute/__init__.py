"""Executing a plan: the scheduler, one case (render, send, capture, checks), processes a suite starts."""
