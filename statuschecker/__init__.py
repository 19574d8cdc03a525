"""statuschecker: uptime and health checks for the services you depend on."""
