"""Lambda entry points: parse the event, call shared/, shape the response."""
