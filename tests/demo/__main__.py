"""``python -m tests.demo``: serve the demo server (stdio unless ``--transport http``)."""

from tests.demo.server import SERVER

SERVER.main()
