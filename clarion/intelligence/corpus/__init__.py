"""The shipped corpus of labeled university notices and its split by family (source)."""

from .load import Notice, corpus_path, load_corpus, split_by_family

__all__ = ["Notice", "corpus_path", "load_corpus", "split_by_family"]
