"""Loading suites: YAML, JSON or Python into a frozen Suite that keeps file:line for errors."""
