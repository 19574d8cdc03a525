"""PostgreSQL persistence: table definitions and the queries the service layer needs."""
