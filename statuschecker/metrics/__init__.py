"""Prometheus metrics, in two kinds that never overlap: the per-service series read from the
database at scrape time (`collectors`), and the work counters of a process (`work`)."""
