"""RabbitMQ through pika: topology, an async connection, confirmed publishing, message format."""
