"""Files the code reads at run time: the copies an installed package carries in `bundled/` (put
there by setup.py when a wheel is built), else the source tree (a checkout, an editable install).
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_BUNDLED = _PACKAGE / "bundled"
_ROOT = _BUNDLED if _BUNDLED.is_dir() else _PACKAGE.parent

SPEC = _ROOT / "openapispec.yaml"
"""The OpenAPI contract the API is served and validated from."""

MIGRATIONS_DIR = _ROOT / "db" / "migrations"
"""Alembic's script location: env.py and versions/."""
