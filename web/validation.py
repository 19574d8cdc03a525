"""Request validation that never repeats a secret: Connexion's own validator quotes the
offending value in the error detail and in its log line, which would leak a password that is
too short or a header value that is too long. It also refuses text PostgreSQL cannot store."""

from __future__ import annotations

import re
from typing import Any

from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem
from connexion.json_schema import format_error_with_path
from connexion.lifecycle import ConnexionRequest
from connexion.validators import VALIDATOR_MAP, JSONRequestBodyValidator, ParameterValidator
from jsonschema import ValidationError

from statuschecker.redaction import is_secret_name, masked_url

# Values under these keys may carry secrets (header values, apprise and webhook URLs).
SECRET_CONTAINERS = frozenset({"headers", "apprise_urls", "webhooks"})


class SecretSafeJSONBodyValidator(JSONRequestBodyValidator):
    """Connexion's JSON body validator, with messages that do not quote secret values."""

    def _validate(self, body: Any) -> dict | None:
        if not self._nullable and body is None:
            raise BadRequestProblem("Request body must not be empty")
        try:
            validated = self._validator.validate(body)
        except ValidationError as exc:
            raise BadRequestProblem(detail=describe(exc)) from None
        if has_nul(body):
            raise BadRequestProblem(detail=f"the body {NUL_REFUSED}")
        return validated


class TextSafeParameterValidator(ParameterValidator):
    """Connexion's parameter validator, refusing path and query values with a NUL in them."""

    def validate_request(self, request: ConnexionRequest) -> None:
        super().validate_request(request)
        for name, value in [*request.path_params.items(), *request.query_params.items()]:
            if has_nul(value):
                raise BadRequestProblem(detail=f"{name} {NUL_REFUSED}")


NUL_REFUSED = "contains a NUL character (U+0000), which no stored text may hold"


def has_nul(value: Any) -> bool:
    """Whether a string anywhere in a JSON value (keys included) holds U+0000, which
    PostgreSQL cannot store: refused at the door rather than failing in the database."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


MAX_QUOTED = 500
"""Longest jsonschema message a detail repeats; a longer one quotes a long value (a string just
over a 64 KiB maxLength) and is replaced by the rule the value broke, so details stay short."""


def describe(exc: ValidationError) -> str:
    """The validation error as a detail: jsonschema's message with the path, or, for a value
    that may be secret or is long, the rule it broke without the value."""
    keys = [str(part) for part in exc.path]
    secret = any(is_secret_name(k) or k in SECRET_CONTAINERS for k in keys) or (
        isinstance(exc.instance, str) and masked_url(exc.instance) != exc.instance
    )
    if not secret and len(exc.message) <= MAX_QUOTED:
        return f"{exc.message}{format_error_with_path(exception=exc)}"
    rule = re.sub(r"(?<!^)([A-Z])", r" \1", str(exc.validator)).lower()
    where = f"'{'.'.join(keys)}'" if keys else "the body"
    return f"{where} is invalid: it breaks the rule {rule} {exc.validator_value!r}"


def validator_map() -> dict[str, Any]:
    """Connexion's validators with the JSON body and parameter ones replaced."""
    body = MediaTypeDict({**VALIDATOR_MAP["body"], "*/*json": SecretSafeJSONBodyValidator})
    return {"body": body, "parameter": TextSafeParameterValidator}
