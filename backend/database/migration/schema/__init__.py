"""Schema migrations: the numbered SQL files in sql/ and apply.py, which applies them at start."""
