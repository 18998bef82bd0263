"""The official MCP conformance suite against our servers (Node tools from ``scripts/install-node-tools``)."""
