"""The unit suite's memory bound (tests/conftest.py): a test that breaks it fails, by name."""

from pathlib import Path

import pytest
from conftest import memory_excess

LINUX = Path("/proc/self/clear_refs").exists()
pytestmark = pytest.mark.skipif(not LINUX, reason="the bound reads Linux's /proc/self")


def test_the_verdict_names_the_bound_that_is_broken():
    assert memory_excess(500.0, 900.0, growth_mb=512, limit_mb=2048) is None
    assert "raised resident memory by 600 MB" in memory_excess(500.0, 1100.0, 512, 2048)
    assert "peaked at 2100 MB" in memory_excess(1800.0, 2100.0, growth_mb=512, limit_mb=2048)


def test_a_test_that_holds_too_much_memory_fails_by_name(pytester, monkeypatch):
    """A pytest of its own with the suite's conftest and a 64 MB bound per test: a test that fills
    160 MB (20e6 float64, every page written) fails, one that fills 8 MB after it passes."""
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(
        test_fill="""
        import numpy as np

        def test_large():
            assert np.ones(20_000_000).sum() == 20_000_000

        def test_small_after_a_large_one():  # measured from its own start, not the process's past
            assert np.ones(1_000_000).sum() == 1_000_000
    """
    )
    monkeypatch.setenv("IMSSA_TEST_GROWTH_MB", "64")
    monkeypatch.delenv("IMSSA_TEST_MEMORY_LOG", raising=False)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["resident memory: peak * MB (test_fill.py::test_large)*"])
    result.stdout.fnmatch_lines(
        ["*_ test_large _*", "memory bound*resident memory by 1?? MB (bound 64 MB)"]
    )
