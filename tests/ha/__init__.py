"""High availability: a RabbitMQ cluster, worker hosts in network namespaces, the drill."""
