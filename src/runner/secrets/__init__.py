"""Secrets: encryption at rest, and the redactor.

The redactor keeps secrets out of everything a run stores or prints.
"""
