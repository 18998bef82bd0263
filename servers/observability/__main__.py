"""``python -m servers.observability`` runs the observability server (stdio unless ``--transport http``)."""

from servers.observability.server import main

main()
