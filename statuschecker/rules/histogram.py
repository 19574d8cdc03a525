"""Log-spaced response-time histograms: how rollups keep percentiles for long ranges.

Bucket 0 holds values below `FIRST_BOUND_MS`; bucket k >= 1 holds [FIRST * RATIO**(k-1),
FIRST * RATIO**k). With RATIO 1.1 an estimated percentile is within 10 % of the true value
(interpolation inside the bucket usually does far better). Histograms are sparse mappings
{bucket index: count}, which is also how rollups store them (JSON object keys are strings).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

FIRST_BOUND_MS = 0.1
RATIO = 1.1
_LOG_RATIO = math.log(RATIO)


def bucket_of(value_ms: float) -> int:
    """The bucket a response time falls in."""
    if value_ms < FIRST_BOUND_MS:
        return 0
    return int(math.log(value_ms / FIRST_BOUND_MS) / _LOG_RATIO) + 1


def bounds(bucket: int) -> tuple[float, float]:
    """The [lower, upper) range of a bucket in milliseconds."""
    if bucket == 0:
        return 0.0, FIRST_BOUND_MS
    return FIRST_BOUND_MS * RATIO ** (bucket - 1), FIRST_BOUND_MS * RATIO**bucket


def count(values_ms: Iterable[float]) -> dict[str, int]:
    """A sparse histogram of these values, keyed as rollups store it."""
    counts: dict[str, int] = {}
    for value in values_ms:
        key = str(bucket_of(value))
        counts[key] = counts.get(key, 0) + 1
    return counts


def merge(histograms: Iterable[Mapping[Any, int]]) -> dict[int, int]:
    """Add sparse histograms (keys as ints or as their strings) bucket by bucket."""
    total: dict[int, int] = {}
    for histogram in histograms:
        for key, n in histogram.items():
            total[int(key)] = total.get(int(key), 0) + int(n)
    return total


def quantile(histogram: Mapping[int, int], q: float, maximum: float | None = None) -> float | None:
    """Estimate the q-quantile (0..1) by interpolating geometrically inside its bucket.

    `maximum`, when known, caps the estimate so that it never exceeds the largest value seen.
    """
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for bucket in sorted(histogram):
        n = histogram[bucket]
        if seen + n >= rank:
            lower, upper = bounds(bucket)
            share = (rank - seen) / n
            estimate = upper * share if bucket == 0 else lower * (upper / lower) ** share
            return min(estimate, maximum) if maximum is not None else estimate
        seen += n
    return maximum
