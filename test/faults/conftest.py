"""The fault suite (`make test-faults`): each test provokes one fault against real processes,
servers and PostgreSQL, checks that nothing was lost or duplicated, and reports what the
fault cost through `fault_report`; the figures are printed at the end of the run."""

from __future__ import annotations

from collections.abc import Callable

import pytest

_REPORTS = pytest.StashKey[list[tuple[str, dict[str, object]]]]()


@pytest.fixture
def fault_report(request: pytest.FixtureRequest) -> Callable[..., None]:
    """`fault_report(fault, **figures)` keeps what a fault cost (results buffered, dropped,
    duplicated, seconds to recover, latencies...) for the summary at the end of the run."""

    def report(fault: str, **figures: object) -> None:
        request.config.stash.setdefault(_REPORTS, []).append((fault, figures))

    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print every figure the fault tests reported, one line per fault."""
    reports = terminalreporter.config.stash.get(_REPORTS, [])
    if not reports:
        return
    terminalreporter.section("what each fault cost")
    for fault, figures in reports:
        shown = ", ".join(f"{name}={_shown(value)}" for name, value in figures.items())
        terminalreporter.write_line(f"{fault}: {shown}")


def _shown(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
