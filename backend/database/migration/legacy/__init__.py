"""Legacy migration: readers of other tools' hashes and metadata, pure functions of file contents and paths."""
