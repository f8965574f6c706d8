"""Clarion's machine-learning core: category suggestion, summaries for short channels and
per-person predictions learned from engagement.

Everything here is offline: the models learn from the corpus shipped in ``data/`` and from the
site's own records; nothing is downloaded.  Heavy libraries (scikit-learn, jieba, implicit) are
imported only inside the modules that use them, so ``import clarion.intelligence`` stays cheap.

Entry points:
    clarion.intelligence.suggest.suggest(title, body)          -> Suggestion
    clarion.intelligence.suggest.check_category(category, ...) -> CategoryFlag | None
    clarion.intelligence.summarize.summarize(text, limit=...)  -> Summary
    clarion.intelligence.registry.ModelRegistry(...)           versions, promotion, serving
    python -m clarion.intelligence.evaluate                    the held-out figures
"""
