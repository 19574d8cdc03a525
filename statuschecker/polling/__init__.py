"""The polling: the poller (claims due work and runs checks concurrently), its local schedule and
results buffer for when the database is away, the recorder (a batch of outcomes: the rules
decide, the store writes), retention, and the worker processes with their supervisor."""
