"""The judgement, pure: from a service's state and a time-ordered run of outcomes to state
periods and alerts, and the time buckets statistics are counted in. No I/O: the recorder reads
the state, asks these rules, and the store writes what they decided."""
