"""POST /webhooks/{channel}: verify, enqueue, mark seen, answer 2xx. Kept lean for cold starts."""
