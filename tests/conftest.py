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
    from imssa.data.audio import data_root

    root = data_root()
    if not os.environ.get("IMSSA_DATA_DIR") or not (root / "fsdd" / "recordings").is_dir():
        pytest.skip("FSDD not available: set IMSSA_DATA_DIR=../shared/data")
    return root


def resident_mb() -> tuple[float, float]:
    """(now, peak since the last ``reset_peak``) resident memory of this process, MB (Linux)."""
    fields = dict(line.split(":", 1) for line in _STATUS.read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def reset_peak() -> bool:
    """Restart the peak of ``resident_mb`` at the present (Linux's clear_refs); False where it cannot."""
    try:
        _CLEAR.write_text("5")
    except OSError:
        return False
    return True


def memory_excess(start_mb: float, peak_mb: float, growth_mb: float = TEST_GROWTH_MB,
                  limit_mb: float = SUITE_PEAK_MB) -> str | None:
    """Why a test that started at ``start_mb`` and peaked at ``peak_mb`` breaks the bound, or None."""
    if peak_mb - start_mb > growth_mb:
        return f"the test raised resident memory by {peak_mb - start_mb:.0f} MB (bound {growth_mb:.0f} MB)"
    if peak_mb > limit_mb:
        return f"the process peaked at {peak_mb:.0f} MB during the test (bound {limit_mb:.0f} MB)"
    return None


_MEASURED = _STATUS.is_file() and reset_peak()
_start: dict[str, float] = {}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    if _MEASURED:
        _start[item.nodeid] = resident_mb()[0]
        reset_peak()
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    if item.nodeid in _start:
        start_mb, peak_mb = _start.pop(item.nodeid), resident_mb()[1]
        if MEMORY_LOG:
            with open(MEMORY_LOG, "a") as log:
                log.write(f"{item.nodeid}\t{start_mb:.0f}\t{peak_mb:.0f}\n")
        excess = memory_excess(start_mb, peak_mb)
        if excess:
            pytest.fail(f"memory bound (tests/conftest.py): {excess}", pytrace=False)
    return result
