"""``python -m servers.github`` runs the github server (stdio unless ``--transport http``)."""

from servers.github.server import main

main()
