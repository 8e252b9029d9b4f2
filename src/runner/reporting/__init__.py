"""What a finished run tells: summaries, JUnit/JSON files, HTML and Markdown reports, analytics, webhooks."""
