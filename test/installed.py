"""Servers the tests start from the system's packages (mariadbd, redis-server): found on the
PATH or in sbin; where one is missing its tests skip, unless REQUIRE_SERVERS is set (CI sets
it, having installed them): then they fail."""

from __future__ import annotations

import os
import shutil

import pytest

SEARCHED = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])
"""Where binaries are looked for: servers live in sbin, not on every user's PATH."""


def binary(name: str, package: str) -> str:
    """The path of `name`; skips the test (fails it under REQUIRE_SERVERS) when the Debian
    `package` that brings it is not installed."""
    found = shutil.which(name, path=SEARCHED)
    if found is None:
        reason = f"{name} is not installed (Debian: apt-get install {package})"
        if os.environ.get("REQUIRE_SERVERS"):
            pytest.fail(reason)
        pytest.skip(reason)
    return found
