"""Request validation that never repeats a secret: Connexion's own validator quotes the
offending value in the error detail and in its log line, which would leak a password that is
too short or a header value that is too long. Bodies are parsed as strict JSON (RFC 8259): no
NaN or infinities, no duplicate keys, bounded nesting; text PostgreSQL cannot store is refused."""

from __future__ import annotations

import json
import math
import re
import sys
from collections import Counter
from collections.abc import AsyncGenerator, Iterable
from typing import Any

from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem
from connexion.json_schema import format_error_with_path
from connexion.lifecycle import ConnexionRequest
from connexion.validators import VALIDATOR_MAP, JSONRequestBodyValidator, ParameterValidator
from jsonschema import ValidationError
from starlette.types import Scope

from statuschecker.errors import ItemRef
from statuschecker.redaction import is_secret_name, masked_url
from statuschecker.text import unstorable
from web.problems import item_error

# Values under these keys may carry secrets (header values, apprise and webhook URLs).
SECRET_CONTAINERS = frozenset({"headers", "apprise_urls", "webhooks"})


class SecretSafeJSONBodyValidator(JSONRequestBodyValidator):
    """Connexion's JSON body validator, parsing strictly, with messages that do not quote
    secret values."""

    async def _parse(self, stream: AsyncGenerator[bytes, None], scope: Scope) -> Any:
        text = b"".join([chunk async for chunk in stream]).decode(self._encoding)
        return parse_json(text) if text else None

    def _validate(self, body: Any) -> dict | None:
        if not self._nullable and body is None:
            raise BadRequestProblem("Request body must not be empty")
        validator = self._validator
        lists = item_lists(self._schema)
        try:
            validated = validator.validate(body)
        except ValidationError as exc:
            faults: Faults = {}
            if lists:
                faults = _item_faults(validator.iter_errors(body), lists)
            raise _refused(describe(exc), faults) from None
        if unstorable(_bounded_part(body, lists)):
            faults = {
                (key, i): ([], f"'{key}.{i}' {UNSTORABLE}")
                for key in lists
                for i, item in enumerate(body.get(key) or ())
                if unstorable(_bounded_part(item))
            }
            raise _refused(f"the body {UNSTORABLE}", faults)
        return validated


ITEM_ERRORS = "x-item-errors"
"""Marks an array of a body's schema whose items stand or fall together (a batch): a body
refused for faults in its items alone lists each faulty item by index, in its `errors`."""


def item_lists(schema: Any) -> list[str]:
    """The properties of a body's (object) schema that are arrays marked ITEM_ERRORS."""
    properties = schema.get("properties", {}) if isinstance(schema, dict) else {}
    return [k for k, v in properties.items() if isinstance(v, dict) and v.get(ITEM_ERRORS)]


Faults = dict[ItemRef, tuple[list[str | int], str]]
"""Faulty items, each with the path within it to its first fault and what is wrong there."""


def _item_faults(errors: Iterable[ValidationError], lists: list[str]) -> Faults:
    """Each faulty item (list and index) with its first fault, when every error lies inside an
    item of one of `lists`; none when one does not (the body is refused as a whole: too many
    items, a field beside the list)."""
    faults: Faults = {}
    for error in errors:
        path = list(error.absolute_path)
        if len(path) < 2 or path[0] not in lists or not isinstance(path[1], int):
            return {}
        faults.setdefault((str(path[0]), path[1]), (path[2:], describe(error)))
    return faults


def _refused(detail: str, faults: Faults) -> BadRequestProblem:
    """A 400 with `detail` and, when items are at fault, each of them in `errors`."""
    refused = BadRequestProblem(detail=detail)
    if faults:
        errors = [
            item_error(ref, 400, fault, within) for ref, (within, fault) in sorted(faults.items())
        ]
        refused.ext = {"errors": errors}
    return refused


MAX_DEPTH = 32
"""Deepest nesting of arrays and objects a body may have; no request of this API needs more
than a few levels, and refusing deeper ones keeps the schema validator, which recurses, clear
of Python's recursion limit."""

_TOO_DEEP = f"the request body nests arrays and objects deeper than {MAX_DEPTH} levels"


def _depth(value: Any) -> int:
    """How many levels of arrays and objects nest in a parsed JSON value (0 for a scalar),
    counted level by level rather than by recursion."""
    depth, level = 0, [value]
    while containers := [node for node in level if isinstance(node, dict | list)]:
        depth += 1
        level = [child for node in containers for child in _children(node)]
    return depth


def _children(node: dict | list) -> Any:
    return node.values() if isinstance(node, dict) else node


def _refuse_constant(name: str) -> Any:
    raise BadRequestProblem(detail=f"the request body is not valid JSON: {name} is not a number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise BadRequestProblem(detail=f"the number {text[:40]} is too large")
    return number


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        twice = next(k for k, n in Counter(k for k, _ in pairs).items() if n > 1)
        raise BadRequestProblem(detail=f"the request body names the key {twice[:100]!r} twice")
    return obj


def parse_json(text: str) -> Any:
    """The body as strict JSON (RFC 8259), or BadRequestProblem: no NaN or Infinity, no number
    too large for a float or with more digits than Python converts, no key twice in one
    object, no nesting deeper than MAX_DEPTH. Nesting costs little to refuse: the parser gives
    up at the interpreter's recursion limit, and only a body with more brackets than MAX_DEPTH
    has its depth measured."""
    try:
        value = json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_float=_finite,
            object_pairs_hook=_unique_keys,
        )
    except RecursionError:
        raise BadRequestProblem(detail=_TOO_DEEP) from None
    except json.JSONDecodeError as exc:
        raise BadRequestProblem(detail=f"the request body is not valid JSON: {exc}") from None
    except ValueError:  # an integer of more digits than int() converts
        detail = (
            f"the request body has an integer of more than {sys.get_int_max_str_digits()} digits"
        )
        raise BadRequestProblem(detail=detail) from None
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(value) > MAX_DEPTH:
        raise BadRequestProblem(detail=_TOO_DEEP)
    return value


class TextSafeParameterValidator(ParameterValidator):
    """Connexion's parameter validator, naming the parameter a value breaks the contract of and
    refusing path and query values with a NUL in them."""

    @staticmethod
    def validate_parameter(
        parameter_type: str, value: Any, param: dict, param_name: str | None = None
    ) -> str | None:
        error = ParameterValidator.validate_parameter(parameter_type, value, param, param_name)
        if error is None or error.startswith("Missing"):  # a missing one is named already
            return error
        return f"{parameter_type} parameter '{param['name']}': {error}"

    def validate_request(self, request: ConnexionRequest) -> None:
        super().validate_request(request)
        for name, value in [*request.path_params.items(), *request.query_params.items()]:
            if unstorable(value):
                raise BadRequestProblem(detail=f"{name} {UNSTORABLE}")


UNSTORABLE = (
    "contains a NUL character (U+0000) or a lone surrogate (U+D800 to U+DFFF), "
    "which no stored text may hold"
)
FREE_FORM = frozenset({"json_value"})
"""Body fields of any JSON, whose text the contract cannot bound; the check options keep them
storable (see statuschecker.text.storable), as they do the names of `headers` and of a
journey step's `captures`."""


def _bounded_part(body: Any, lists: Iterable[str] = ()) -> Any:
    """The body without what the contract cannot bound: free-form fields, header names and
    capture names (of the body, of each item of its `lists`, and of each of a journey's
    steps)."""
    if not isinstance(body, dict):
        return body
    bounded = {k: v for k, v in body.items() if k not in FREE_FORM}
    for named in ("headers", "captures"):
        if isinstance(bounded.get(named), dict):
            bounded[named] = list(bounded[named].values())
    for key in (*lists, "steps"):
        if isinstance(bounded.get(key), list):
            bounded[key] = [_bounded_part(item) for item in bounded[key]]
    return bounded


MAX_QUOTED = 500
"""Longest jsonschema message a detail repeats; a longer one quotes a long value (a string just
over a 64 KiB maxLength) and is replaced by the rule the value broke, so details stay short."""


def describe(exc: ValidationError) -> str:
    """The validation error as a detail: jsonschema's message with the path; for a value that
    breaks a long pattern (a URL's), the form its description gives; for a value that may be
    secret or is long, the rule it broke without the value."""
    keys = [str(part) for part in exc.path]
    where = f"'{'.'.join(keys)}'" if keys else "the body"
    description = exc.schema.get("description") if isinstance(exc.schema, dict) else None
    if exc.validator == "pattern" and description and len(str(exc.validator_value)) > 100:
        return f"{where} is not of the form: {' '.join(description.split())[:MAX_QUOTED]}"
    if exc.validator in ("oneOf", "anyOf", "not"):
        # A rule tying fields together: its description says it better than the schemas and
        # the whole object (secrets and all) that jsonschema's message would quote.
        rule = " ".join(description.split())[:MAX_QUOTED] if description else "the fields given"
        return f"{where} is invalid: {rule}"
    secret = any(is_secret_name(k) or k in SECRET_CONTAINERS for k in keys) or (
        isinstance(exc.instance, str) and masked_url(exc.instance) != exc.instance
    )
    if not secret and len(exc.message) <= MAX_QUOTED:
        return f"{exc.message}{format_error_with_path(exception=exc)}"
    rule = re.sub(r"(?<!^)([A-Z])", r" \1", str(exc.validator)).lower()
    return f"{where} is invalid: it breaks the rule {rule} {exc.validator_value!r}"


def validator_map() -> dict[str, Any]:
    """Connexion's validators with the JSON body and parameter ones replaced."""
    body = MediaTypeDict({**VALIDATOR_MAP["body"], "*/*json": SecretSafeJSONBodyValidator})
    return {"body": body, "parameter": TextSafeParameterValidator}
