import os
from pathlib import Path

import pytest

from imssa.data.audio import data_root


@pytest.fixture(scope="session")
def fsdd_root() -> Path:
    """The project's FSDD copy (IMSSA_DATA_DIR); tests that need it are skipped without it."""
    root = data_root()
    if not os.environ.get("IMSSA_DATA_DIR") or not (root / "fsdd" / "recordings").is_dir():
        pytest.skip("FSDD not available: set IMSSA_DATA_DIR=../shared/data")
    return root
