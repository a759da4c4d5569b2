"""The edges: event logs (in-process, JSON Lines, NATS), wire formats, the store, enforcers, notifiers, API keys."""
