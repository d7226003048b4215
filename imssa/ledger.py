"""The build's ledger: one JSON line for each training run a chapter asks for, each task of a
resumable grid and each grid, appended to the file ``$IMSSA_LEDGER`` when that is set (the runner
sets it per chapter), so that a build can be checked against its plan and the plan's costs
measured. Without ``$IMSSA_LEDGER`` nothing is written.

    {"kind": "train", "chapter": "hardware_deployment", "key": "3f0c...", "trained": true,
     "seconds": 41.2, "max_rss_MB": 612, "pid": 1234, ...}

Every line carries the chapter (``$IMSSA_CHAPTER``, set by the chapter object in its kernel and
inherited by its worker processes), the process id and that process's peak resident memory so
far (``max_rss_MB``, MiB). Lines are written with one ``write`` on a file opened for appending, so
that worker processes writing at once do not interleave within a line.
"""

from __future__ import annotations

import json
import os
import resource
from pathlib import Path
from typing import Any

__all__ = ["CHAPTER_VAR", "LEDGER_VAR", "LedgerError", "max_rss_MB", "read", "record"]

#: the environment variable naming the ledger file
LEDGER_VAR = "IMSSA_LEDGER"
#: the environment variable naming the chapter whose work is recorded
CHAPTER_VAR = "IMSSA_CHAPTER"


class LedgerError(ValueError):
    """A ledger line that is not a JSON object with a ``kind``: named with its file and line."""


def max_rss_MB() -> float:
    """Peak resident memory of this process so far, MiB (``getrusage``; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def record(kind: str, **fields: Any) -> None:
    """Append one line of ``kind`` ('train', 'task', 'grid') with ``fields`` to ``$IMSSA_LEDGER``;
    nothing when that is unset."""
    path = os.environ.get(LEDGER_VAR)
    if not path:
        return
    line = {
        "kind": kind,
        "chapter": os.environ.get(CHAPTER_VAR, ""),
        "pid": os.getpid(),
        "max_rss_MB": round(max_rss_MB(), 1),
    } | fields
    text = json.dumps(line, sort_keys=True, default=str) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)


def read(path: str | Path) -> list[dict[str, Any]]:
    """The lines of the ledger ``path`` as dicts ([] for a missing file); a line that is not a
    JSON object with a ``kind`` is a LedgerError naming the file and line."""
    path = Path(path)
    if not path.is_file():
        return []
    lines = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except json.JSONDecodeError as err:
            raise LedgerError(f"{path}, line {number}: not JSON ({err.msg})") from None
        if not isinstance(line, dict) or "kind" not in line:
            raise LedgerError(f"{path}, line {number}: expected an object with a 'kind'")
        lines.append(line)
    return lines
