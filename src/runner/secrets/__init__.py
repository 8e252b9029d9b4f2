"""Secrets: encryption at rest and the redactor that keeps them out of everything stored or printed."""
