"""The shadow tree of dev mode: zero-byte stand-ins for a real or synthetic model library (`make shadow`)."""
