"""Operational helpers: checks that run against a live Prometheus or Grafana."""
