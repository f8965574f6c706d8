"""Clarion's errors, one tree: every refusal of bad input names the field at fault."""

from __future__ import annotations


class ClarionError(Exception):
    """The root of Clarion's own errors."""


class Rejected(ClarionError, ValueError):
    """A request that can't be carried out as given; ``field`` names the part at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(ClarionError, LookupError):
    """What was asked for does not exist."""
