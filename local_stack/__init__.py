"""The embedded local stack: moto as the embedded AWS, plus what moto lacks (gateway, pollers,
stream reader, channel sandboxes). Same handlers as in AWS; only the wiring is local."""
