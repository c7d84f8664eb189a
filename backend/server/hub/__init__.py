"""The hub asked by hash: Civitai's public API (or a server that speaks it), as a careful, rate-limited client."""
