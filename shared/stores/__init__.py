"""DynamoDB access behind small classes; each takes its table name and a client."""
