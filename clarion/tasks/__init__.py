"""Prefect tasks of the campaign flows: coarse (channel × segment), never one per delivery."""
