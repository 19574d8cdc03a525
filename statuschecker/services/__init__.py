"""The service layer the API calls, in parts: `registration` checks and normalises a
service's settings (pure), `queries` reads, `registry` writes on top of the reads, `health`
says whether the process is healthy."""
