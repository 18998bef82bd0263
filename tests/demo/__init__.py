"""The kit's demo server (tests only)."""
