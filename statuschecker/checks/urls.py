"""URL rules shared by check kinds whose URL names a host and nothing else."""

from __future__ import annotations

from urllib.parse import urlsplit


def bare_host(url: str, shape: str, port_advice: str = "") -> str:
    """The host of a URL of `shape` (like `dns://name`) that carries nothing else; ValueError
    naming what is in the way (a port, with `port_advice` if given, a user, path, query or
    fragment)."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"url: {exc}") from None
    extras = {
        f"a port{port_advice}": port is not None,
        "a user": parts.username is not None,
        "a path": parts.path not in ("", "/"),
        "a query": bool(parts.query),
        "a fragment": bool(parts.fragment),
    }
    for what, present in extras.items():
        if present:
            raise ValueError(f"url: the URL is {shape}, without {what}")
    if not parts.hostname:
        raise ValueError(f"url: the URL is {shape}")
    return parts.hostname
