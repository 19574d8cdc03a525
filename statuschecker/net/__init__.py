"""Network plumbing shared by the checks and the notifier: the text of a failure, and TLS
client contexts."""
