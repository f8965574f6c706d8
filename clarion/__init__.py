"""Clarion: a unified notification platform for a university."""

__version__ = "0.1.0"
