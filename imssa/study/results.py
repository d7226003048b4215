"""Where a chapter's tidy CSV files go: ``results/<profile>/<chapter>/`` under the project root."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pandas as pd

__all__ = ["checkpoint_path", "project_root", "results_dir", "save_table"]


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) holding imssa's pyproject.toml.

    Executed notebooks run from ``_build/executed/<profile>/``; this finds the checkout from there.
    Falls back to ``start`` when no such folder exists (an installed, not checked-out, package).
    """
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        toml = folder / "pyproject.toml"
        if toml.is_file() and 'name = "imssa"' in toml.read_text():
            return folder
    return start


def results_dir(profile: str, chapter: str) -> Path:
    """``$IMSSA_RESULTS_DIR`` or ``<project root>/results``, then ``<profile>/<chapter>``; created."""
    base = Path(os.environ.get("IMSSA_RESULTS_DIR") or project_root() / "results")
    out = base / profile / chapter
    out.mkdir(parents=True, exist_ok=True)
    return out


def save_table(df: pd.DataFrame, profile: str, chapter: str, name: str) -> Path:
    """Write ``df`` as tidy CSV ``<name>.csv`` in the chapter's results folder; returns the path."""
    path = results_dir(profile, chapter) / f"{name}.csv"
    df.to_csv(path, index=False)
    return path


def checkpoint_path(profile: str, chapter: str, name: str, config: str) -> Path:
    """Where a resumable sweep appends its finished cells: one file per configuration text
    ``config`` (a changed parameter starts a new file, never mixes with old rows)."""
    digest = hashlib.sha256(config.encode()).hexdigest()[:12]
    return results_dir(profile, chapter) / f".{name}-{digest}.partial.csv"
