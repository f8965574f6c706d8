"""Command-line faces of Clarion (nothing imports these)."""
