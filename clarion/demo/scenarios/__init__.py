"""The five campus scenarios, shipped as examples (each a JSON file here): teaching,
research, events, library, safety.  ``clarion demo --scenario NAME`` runs one against the
demo campus; docs/SCENARIOS.md shows what each sends to whom and why."""
