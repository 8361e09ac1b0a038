"""The operator CLI: `keel`."""
