"""Per-person predictions from engagement: channel order, usual reading hour, interests.

The input is aggregated engagement events (``events.EngagementEvent``: person, delivery, category,
channel, sent_at, read_at or None, local hour); ``simulator`` makes a log of them with known
latent preferences so that each predictor can be scored (a simulation, not real people).
"""
