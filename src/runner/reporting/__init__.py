"""What a finished run tells.

Summaries, JUnit/JSON files, HTML and Markdown reports, analytics and webhooks.
"""
