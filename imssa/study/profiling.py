"""Where a chapter's time goes: py-spy samples of its execution, summarised per function.

``python -m imssa.study.runner profile --profile paper --chapter <name>`` runs the chapter under
``py-spy record --subprocesses --format raw`` (the kernel and its loky workers are sampled too) and
writes the collapsed stacks to ``_build/profile/<profile>/<chapter>.txt``; ``top_functions`` reads
them. A collapsed stack is one line ``process ...;frame;frame;... count``, each frame
``function (file:line)``, outermost first. A function's *self* time counts the samples where it is
the innermost frame; its *total* time those where it is anywhere on the stack (once per stack,
so recursion does not count twice). Samples taken ``rate`` times a second per busy thread, idle
threads not sampled, so the times are sampled CPU seconds summed over processes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

__all__ = ["PY_SPY_RATE", "py_spy_command", "read_collapsed", "top_functions"]

#: Samples per second py-spy takes (its default).
PY_SPY_RATE = 100

_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def py_spy_command(out: Path, command: list[str], rate: int = PY_SPY_RATE) -> list[str]:
    """The py-spy invocation that samples ``command`` and its subprocesses into ``out`` (raw)."""
    return ["py-spy", "record", "--subprocesses", "--format", "raw", "--rate", str(rate), "--output", str(out),
            "--", *command]


def read_collapsed(path: Path) -> list[tuple[list[str], int]]:
    """The stacks of a py-spy raw file: (frames without the process label, outermost first, each
    ``function (file)``; sample count). A line that is not ``stack count`` is a ValueError naming
    the file and line."""
    stacks = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            raise ValueError(f"{path}:{number}: not a collapsed stack ('frame;frame;... count'): {line[:80]!r}")
        frames = [f for f in stack.split(";") if not f.startswith("process ")]
        stacks.append(([_function(f) for f in frames], int(count)))
    return stacks


def _function(frame: str) -> str:
    match = _FRAME.match(frame)
    return frame if match is None else f"{match['function']} ({match['file']})"


def top_functions(path: Path, n: int = 10, rate: int = PY_SPY_RATE, by: str = "self_s",
                  within: str | None = None) -> pd.DataFrame:
    """The ``n`` functions with the most ``by`` time (``self_s`` or ``total_s``) in the py-spy raw
    file ``path``, only those whose file starts with ``within`` if given (``"imssa/"``: the
    library): ``function`` (``name (file)``), ``self_s`` and ``total_s`` (sampled CPU s) and
    ``self_share`` and ``total_share`` (of all samples)."""
    if by not in ("self_s", "total_s"):
        raise ValueError(f"by must be 'self_s' or 'total_s', got {by!r}")
    self_count: dict[str, int] = {}
    total_count: dict[str, int] = {}
    samples = 0
    for frames, count in read_collapsed(path):
        samples += count
        if frames:
            self_count[frames[-1]] = self_count.get(frames[-1], 0) + count
        for f in set(frames):
            total_count[f] = total_count.get(f, 0) + count
    names = [f for f in total_count if within is None or f.rpartition(" (")[2].startswith(within)]
    table = pd.DataFrame({"function": names, "self_s": [self_count.get(f, 0) / rate for f in names],
                          "total_s": [total_count[f] / rate for f in names]})
    for col in ("self", "total"):
        table[f"{col}_share"] = table[f"{col}_s"] * rate / max(samples, 1)
    return table.sort_values([by, "function"], ascending=[False, True]).head(n).reset_index(drop=True)
