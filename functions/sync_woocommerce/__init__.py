"""WooCommerce stock sync queue consumer."""
