"""The SQLite backend: one file in WAL mode, one writer at a time for every process.

Its tricks serve that one write lock: writers queue on a file lock beside the database
(``writer_queue.py``), hot writes are made ready as DB-API tuples before the transaction
(``bulk.py``), and a worker commits what queued up meanwhile in one transaction (group
commit, ``clarion.store.writer`` with one thread).
"""
