"""Secrets: encryption at rest, and the redactor that keeps them out of what is stored or shown."""
