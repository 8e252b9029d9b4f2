"""The command line: argparse commands, progress, watching, signals, process-wide tuning.

Nothing in the library imports this package; ``runner.cli.main:main`` is the console
script and ``python -m runner`` runs it.
"""
