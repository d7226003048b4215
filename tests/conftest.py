import os
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]  # test_memory_bound runs the guard below in a pytest of its own

#: The unit suite's memory bound (a reader's laptop runs it): a test whose setup and call raise the
#: process's resident memory more than ``TEST_GROWTH_MB`` over what it held before the test, or
#: take it past ``SUITE_PEAK_MB``, fails and is named. Both in MB of 2**20 bytes; the environment
#: may change them (tests/test_memory_bound.py lowers the first).
TEST_GROWTH_MB = float(os.environ.get("IMSSA_TEST_GROWTH_MB", 512))
SUITE_PEAK_MB = float(os.environ.get("IMSSA_TEST_PEAK_MB", 2048))
#: A file to which every test appends its node id, start and peak (MB, tab-separated); unset: none.
MEMORY_LOG = os.environ.get("IMSSA_TEST_MEMORY_LOG")
_STATUS, _CLEAR = Path("/proc/self/status"), Path("/proc/self/clear_refs")


@pytest.fixture(scope="session")
def fsdd_root() -> Path:
    """The project's FSDD copy (IMSSA_DATA_DIR); tests that need it are skipped without it."""
    from imssa.data.sources import data_root

    root = data_root()
    if not os.environ.get("IMSSA_DATA_DIR") or not (root / "fsdd" / "recordings").is_dir():
        pytest.skip("FSDD not available: set IMSSA_DATA_DIR=../shared/data")
    return root


def resident_mb() -> tuple[float, float]:
    """(now, peak since the last ``reset_peak``) resident memory of this process, MB (Linux)."""
    fields = dict(line.split(":", 1) for line in _STATUS.read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def reset_peak() -> bool:
    """Restart the peak of ``resident_mb`` at the present (Linux's clear_refs); False if not."""
    try:
        _CLEAR.write_text("5")
    except OSError:
        return False
    return True


def memory_excess(
    start_mb: float,
    peak_mb: float,
    growth_mb: float = TEST_GROWTH_MB,
    limit_mb: float = SUITE_PEAK_MB,
) -> str | None:
    """Why a test that began at ``start_mb`` and peaked at ``peak_mb`` breaks the bound, or None."""
    growth = peak_mb - start_mb
    if growth > growth_mb:
        return f"the test raised resident memory by {growth:.0f} MB (bound {growth_mb:.0f} MB)"
    if peak_mb > limit_mb:
        return f"the process peaked at {peak_mb:.0f} MB during the test (bound {limit_mb:.0f} MB)"
    return None


#: Whether the peak can be restarted per test (Linux); where the process peaked so far (MB).
_MEASURED = _STATUS.is_file() and os.access(_CLEAR, os.W_OK)
_suite_peak = {"mb": 0.0, "where": "start-up"}
_start: dict[str, float] = {}


def _note_peak(where: str) -> float:
    """The peak since the last reset, kept as the suite's where it passes the largest so far by
    1 MB (a window starts at the memory held, so later ones tie). The resets hide the process's
    own peak from /usr/bin/time; this one takes its place."""
    peak_mb = resident_mb()[1]
    if peak_mb > _suite_peak["mb"] + 1.0:
        _suite_peak.update(mb=peak_mb, where=where)
    return peak_mb


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    if _MEASURED:
        _note_peak(f"start-up or teardown before {item.nodeid}")
        _start[item.nodeid] = resident_mb()[0]
        reset_peak()
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    if item.nodeid in _start:
        start_mb, peak_mb = _start.pop(item.nodeid), _note_peak(item.nodeid)
        if MEMORY_LOG:
            with open(MEMORY_LOG, "a") as log:
                log.write(f"{item.nodeid}\t{start_mb:.0f}\t{peak_mb:.0f}\n")
        reset_peak()  # what follows until the next test's setup is the teardown's
        excess = memory_excess(start_mb, peak_mb)
        if excess:
            pytest.fail(f"memory bound (tests/conftest.py): {excess}", pytrace=False)
    return result


def pytest_terminal_summary(terminalreporter):
    if _MEASURED:
        _note_peak("after the last test")
        peak, where = _suite_peak["mb"], _suite_peak["where"]
        terminalreporter.write_line(
            f"resident memory: peak {peak:.0f} MB ({where}); bounds {TEST_GROWTH_MB:.0f} MB per "
            f"test, {SUITE_PEAK_MB:.0f} MB per process (tests/conftest.py)"
        )
