"""Extractive summaries for short channels (SMS, WeCom cards, push)."""

from .summarizer import Summary, summarize

__all__ = ["Summary", "summarize"]
