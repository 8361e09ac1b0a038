"""Ingest queue consumer: normalize deliveries into canonical orders and reserve their stock."""
