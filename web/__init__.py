"""The HTTP adapter: Connexion app factory, handlers named by operationId, problem mapping."""
