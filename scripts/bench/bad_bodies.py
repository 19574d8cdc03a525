"""What a hostile body costs the door (web.validation.parse_json) next to an ordinary one of the
same size: deep nesting, NaN, a 5,000-digit integer, duplicate keys, against plain JSON and a
syntax error. Prints a table of microseconds per body (median of --repeat runs)."""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time
from collections.abc import Callable

from connexion.exceptions import BadRequestProblem

from web.validation import parse_json


def bodies(size: int) -> dict[str, str]:
    """Bodies of about `size` characters each."""
    ordinary = json.dumps({"name": "x", "tags": ["t" * 8] * (size // 12)})
    return {
        "ordinary JSON": ordinary,
        "syntax error at the end": ordinary[:-1],
        "nested arrays, as deep as the size allows": "[" * (size // 2) + "]" * (size // 2),
        "nested objects, as deep as the size allows": '{"a":' * (size // 6)
        + "1"
        + "}" * (size // 6),
        "NaN at the end": ordinary[:-1] + ', "n": NaN}',
        "5000-digit integer": '{"n": ' + "9" * 5000 + "}",
        "every key twice": "{"
        + ",".join(f'"k{i % (size // 20)}": 1' for i in range(size // 10))
        + "}",
    }


def timed(parse: Callable[[str], object], text: str, repeat: int) -> float:
    """Median microseconds of parsing `text` (refused or not)."""
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        with contextlib.suppress(BadRequestProblem):
            parse(text)
        runs.append((time.perf_counter() - started) * 1e6)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=256 * 1024, help="characters per body")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    print(f"{'body':<46} {'chars':>8} {'us':>9}")
    for name, text in bodies(args.size).items():
        print(f"{name:<46} {len(text):>8} {timed(parse_json, text, args.repeat):>9.0f}")


if __name__ == "__main__":
    main()
