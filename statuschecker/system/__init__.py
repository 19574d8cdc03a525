"""The process and database plumbing: settings, logging, the embedded PostgreSQL, change
notices between processes (LISTEN/NOTIFY), and the background loop thread."""
