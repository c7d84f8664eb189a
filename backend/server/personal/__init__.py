"""A person's own notes, tags and favourite flag of a model, kept per SHA-256."""
