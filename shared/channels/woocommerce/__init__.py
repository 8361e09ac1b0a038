"""WooCommerce: stock out through REST v3 batch endpoints."""
