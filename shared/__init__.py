"""Keel's own code, shared by every function: domain rules, channel adapters, stores."""
