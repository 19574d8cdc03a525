"""Configuration as code: the declarative document, its plan, the files it is kept in, and the
importers from other tools."""
