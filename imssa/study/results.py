"""Where a chapter's tidy CSV files go: ``results/<profile>/<chapter>/`` under the project root,
and which code wrote them (provenance).

Every table ``save_table`` writes carries three text columns, the same on every row:
``code_revision`` (the checkout's git revision, ``+dirty`` when tracked files under imssa/, book/
or params/ have uncommitted changes, 'unknown' outside a git checkout), ``library_digest``
(``library_digest()``: SHA-256 over the imssa package's sources) and ``compute_device`` (the torch
device of ``$IMSSA_DEVICE``: a device's draws are its own, so a GPU's table is not the CPU's).
``version_flag`` tells whether a table read back was written by the current library, here.
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd

from ..compute_device import device_name

__all__ = [
    "PROVENANCE_COLUMNS",
    "checkpoint_path",
    "code_revision",
    "compare_results",
    "git_revision",
    "library_digest",
    "project_root",
    "provenance",
    "read_table",
    "results_dir",
    "save_table",
    "source_digest",
    "version_flag",
]

#: The columns ``save_table`` adds to every table.
PROVENANCE_COLUMNS = ("code_revision", "library_digest", "compute_device")

#: The folders whose uncommitted changes to tracked files make a revision ``+dirty``.
_DIRTY_PATHS = ("imssa", "book", "params")

_PACKAGE = Path(__file__).resolve().parents[1]


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


def source_digest(package: Path) -> str:
    """16 hex characters of SHA-256 over the ``*.py`` files under ``package`` (sorted by their
    path relative to it; each file's path and bytes enter, so a renamed, added, removed or edited
    file changes the digest). Uncached: see ``library_digest`` for imssa's own, once per process."""
    h = hashlib.sha256()
    for path in sorted(package.rglob("*.py"), key=lambda p: p.relative_to(package).as_posix()):
        data = path.read_bytes()
        h.update(f"{path.relative_to(package).as_posix()}\0{len(data)}\0".encode() + data)
    return h.hexdigest()[:16]


@functools.cache
def library_digest() -> str:
    """``source_digest`` of the imssa package this process imported (all its modules, unlike
    ``imssa.model.cache.code_digest``, which covers only what a trained model depends on)."""
    return source_digest(_PACKAGE)


def git_revision(root: Path, dirty_paths: tuple[str, ...] = _DIRTY_PATHS) -> str:
    """``git rev-parse HEAD`` of the checkout at ``root``, with ``+dirty`` when ``git status
    --porcelain`` reports changes to tracked files under ``dirty_paths`` (relative to ``root``);
    'unknown' when ``root`` is not in a git checkout or git is missing."""

    def git(*args: str) -> subprocess.CompletedProcess[str] | None:
        try:
            return subprocess.run(
                ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.SubprocessError):
            return None

    head = git("rev-parse", "HEAD")
    if head is None or head.returncode != 0 or not head.stdout.strip():
        return "unknown"
    status = git("status", "--porcelain", "--untracked-files=no", "--", *dirty_paths)
    dirty = status is None or status.returncode != 0 or bool(status.stdout.strip())
    return head.stdout.strip() + ("+dirty" if dirty else "")


@functools.cache
def code_revision() -> str:
    """``git_revision`` of the checkout holding the imported imssa package, once per process;
    'unknown' for an installed package (no imssa pyproject.toml above it)."""
    root = project_root(_PACKAGE)
    return git_revision(root) if (root / "pyproject.toml").is_file() else "unknown"


def results_dir(profile: str, chapter: str) -> Path:
    """``$IMSSA_RESULTS_DIR`` or ``<project root>/results``, then ``<profile>/<chapter>``;
    created."""
    base = Path(os.environ.get("IMSSA_RESULTS_DIR") or project_root() / "results")
    out = base / profile / chapter
    out.mkdir(parents=True, exist_ok=True)
    return out


def save_table(df: pd.DataFrame, profile: str, chapter: str, name: str) -> Path:
    """Write ``df`` (n rows x k columns) as tidy CSV ``<name>.csv`` in the chapter's results folder,
    with the three ``PROVENANCE_COLUMNS`` appended (n rows x k + 3 columns; ``code_revision()``,
    ``library_digest()`` and ``device.device_name()`` on every row); returns the path. Columns of
    those names already in ``df`` (a table read back and saved again) are overwritten: the file
    names the code that wrote it. ``df`` itself is not changed."""
    path = results_dir(profile, chapter) / f"{name}.csv"
    out = df.drop(columns=[c for c in PROVENANCE_COLUMNS if c in df.columns])
    out = out.assign(
        code_revision=code_revision(), library_digest=library_digest(), compute_device=device_name()
    )
    out.to_csv(path, index=False)
    return path


def read_table(profile: str, chapter: str, name: str) -> pd.DataFrame | None:
    """The table ``save_table`` wrote (``PROVENANCE_COLUMNS`` read as text, so that a digest of
    digits only stays text), or None when the chapter has not written it."""
    path = results_dir(profile, chapter) / f"{name}.csv"
    return pd.read_csv(path, dtype={c: str for c in PROVENANCE_COLUMNS}) if path.is_file() else None


def provenance(table: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    """The distinct values, in order of first appearance, of each ``PROVENANCE_COLUMNS`` column
    that ``table`` holds: ``{"code_revision": (rev, ...), "library_digest": (digest, ...)}``; a
    missing value reads 'unknown'; a column the table lacks is absent (``{}``: written before
    provenance)."""
    return {
        c: tuple(dict.fromkeys(_text(table[c]))) for c in PROVENANCE_COLUMNS if c in table.columns
    }


def version_flag(table: pd.DataFrame, current: str | None = None, device: str | None = None) -> str:
    """'' when every row's ``library_digest`` equals ``current`` (default ``library_digest()``) and
    its ``compute_device`` equals ``device`` (default ``compute_device.device_name()``), else
    'written by <rev> (library <digest>), current <current>' naming each distinct (revision, digest)
    pair of the other rows, joined by '; ', and 'computed on <device>, here <device>' for rows of
    another device. A table without ``code_revision`` and ``library_digest`` gives 'no provenance
    (written before provenance)'; one without ``compute_device`` (written before the column) was
    computed on the CPU."""
    if not {"code_revision", "library_digest"} <= set(table.columns):
        return "no provenance (written before provenance)"
    current = library_digest() if current is None else current
    device = device_name() if device is None else device
    pairs = pd.DataFrame(
        {"rev": _text(table["code_revision"]), "lib": _text(table["library_digest"])}
    )
    other = pairs[pairs["lib"] != current].drop_duplicates()
    flags = (
        []
        if other.empty
        else [
            "; ".join(f"written by {_short(r.rev)} (library {r.lib})" for r in other.itertuples())
            + f", current {current}"
        ]
    )
    devices = (
        _text(table["compute_device"])
        if "compute_device" in table.columns
        else ["cpu"] * len(table)
    )
    elsewhere = [d for d in dict.fromkeys(devices) if d != device]
    if elsewhere:
        flags.append(f"computed on {', '.join(elsewhere)}, here {device}")
    return "; ".join(flags)


def _text(column: pd.Series) -> list[str]:
    return ["unknown" if pd.isna(v) else str(v) for v in column]


def _short(revision: str) -> str:
    """A git revision's first 12 characters, keeping a ``+dirty`` suffix; other text unchanged."""
    sha, plus, rest = revision.partition("+")
    return sha[:12] + plus + rest if len(sha) == 40 else revision


def checkpoint_path(profile: str, chapter: str, name: str, config: str) -> Path:
    """Where a resumable sweep appends its finished cells: one file per configuration text
    ``config`` and version of the library (``library_digest``): a changed parameter or changed code
    starts a new file, never mixes with old rows."""
    digest = hashlib.sha256((config + library_digest()).encode()).hexdigest()[:12]
    return results_dir(profile, chapter) / f".{name}-{digest}.partial.csv"


def compare_results(
    before: Path, after: Path, rtol: float = 0.0, atol: float = 0.0, ignore: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Every results CSV under ``before`` (``<profile>/<chapter>/<table>.csv``) against the same
    file under ``after``, the ``PROVENANCE_COLUMNS`` and the columns ``ignore`` left out (e.g. the
    report's ``version``, which names the commit): one row per table (``table``, its
    path relative to the folders) with ``status`` 'identical' (same columns, rows and text),
    'within tolerance' (numbers within ``rtol``/``atol`` of each other, everything else the same),
    'different' (with ``max_abs_diff`` over the numeric columns where their shapes agree) or
    'missing' (not under ``after``), and tables only under ``after`` as 'new'."""
    names = {
        p.relative_to(before) for p in Path(before).rglob("*.csv") if not p.name.startswith(".")
    }
    names |= {
        p.relative_to(after) for p in Path(after).rglob("*.csv") if not p.name.startswith(".")
    }
    rows = []
    for name in sorted(names):
        a, b = Path(before) / name, Path(after) / name
        if not a.is_file() or not b.is_file():
            rows.append(
                {
                    "table": str(name),
                    "status": "missing" if a.is_file() else "new",
                    "max_abs_diff": float("nan"),
                }
            )
            continue
        x, y = (pd.read_csv(f, keep_default_na=False, na_values=["NaN", "nan"]) for f in (a, b))
        x, y = (
            t.drop(columns=[c for c in (*PROVENANCE_COLUMNS, *ignore) if c in t.columns])
            for t in (x, y)
        )
        diff, status = float("nan"), "different"
        if list(x.columns) == list(y.columns) and x.shape == y.shape:

            def number(c: pd.Series) -> bool:
                return pd.api.types.is_numeric_dtype(c) and not pd.api.types.is_bool_dtype(c)

            num = [c for c in x.columns if number(x[c]) and number(y[c])]
            rest = [c for c in x.columns if c not in num]
            diff = (
                float((x[num].astype(float) - y[num].astype(float)).abs().max().max())
                if num and len(x)
                else 0.0
            )
            same_text = x[rest].astype(str).equals(y[rest].astype(str))
            if same_text and x[num].equals(y[num]):
                status = "identical"
            elif same_text and all(
                np.allclose(x[c], y[c], rtol=rtol, atol=atol, equal_nan=True) for c in num
            ):
                status = "within tolerance"
        rows.append({"table": str(name), "status": status, "max_abs_diff": diff})
    return pd.DataFrame(rows, columns=["table", "status", "max_abs_diff"])
