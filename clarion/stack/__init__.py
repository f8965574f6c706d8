"""The local platform on one machine: ``clarion up`` / ``status`` / ``down``.

``up`` starts what the settings need — a Prefect server (unless ``PREFECT_API_URL`` names
one), the deployment server (``clarion serve``), workers and the API — each in its own
session, detached, with its log under ``<data dir>/stack/logs``; their PIDs and addresses go
to ``<data dir>/stack/state.json``.  ``down`` stops exactly those processes (checked by PID
and start time), nothing else.  Other commands find the running Prefect server there.
"""
