"""The database itself: reaching it (URL or embedded), migrations, SQL files by name, identity."""
