"""Dunwell's domain core: pure Python (stdlib only), no I/O, no clock, no environment."""
