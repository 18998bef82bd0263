"""The ``afu9`` command: the composition root above the servers (nothing imports it)."""
