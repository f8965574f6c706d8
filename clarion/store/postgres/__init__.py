"""The PostgreSQL backend (psycopg 3): bulk statements on arrays, pipeline mode, a pool sized
for a worker's writer threads and the fan-out's tasks."""
