"""The worker: where the broker, the store and the channels meet (consume, send, record, ack)."""
