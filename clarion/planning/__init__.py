"""Planning: one pipeline for campaigns and transactional messages alike.

    recipients (a page) → facts (preferences, recent sends: one query each per page)
      → policy (routing, preferences, duplicates, caps, digests, quiet hours)
      → rows (rendered, with unsubscribe links and opt-out hints) → store → publish

Policy is decided here, once, before a row exists; each decision is data on the row
(skipped with its reason, deferred with its release time, a fallback route) and in the
trace.  What waited is sent later by ``release`` (quiet hours over), ``digests`` and
``fallback`` (the next channel after a permanent failure), through ``handoff``.
"""
