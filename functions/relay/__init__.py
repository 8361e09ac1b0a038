"""Inventory stream -> per-channel sync queues: the stream is the outbox."""
