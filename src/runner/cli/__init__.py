"""The command line: argparse commands, progress, watching, process-wide tuning.

Nothing in the library imports this package; ``main`` is the console script.
"""

from runner.cli.main import main

__all__ = ["main"]
