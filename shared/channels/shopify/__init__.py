"""Shopify: signed webhooks in (orders/create); stock out comes in a later issue."""
