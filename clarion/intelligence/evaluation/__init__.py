"""Held-out evaluations: category suggestion, summaries and engagement predictions."""
