"""``python -m servers.factory`` runs the factory server (stdio unless ``--transport http``)."""

from servers.factory.server import main

main()
