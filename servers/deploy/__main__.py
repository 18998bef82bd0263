"""``python -m servers.deploy`` runs the deploy server (stdio unless ``--transport http``)."""

from servers.deploy.server import main

main()
