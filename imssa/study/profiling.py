"""Where a chapter's time goes: py-spy samples of its execution, summarised per function.

``python -m imssa.study.runner profile --profile paper --chapter <name>`` runs the chapter under
``py-spy record --subprocesses --format raw`` (the kernel and its loky workers are sampled too) and
writes the collapsed stacks to ``_build/profile/<profile>/<chapter>.txt``; ``top_functions`` reads
them. A collapsed stack is one line ``process ...;frame;frame;... count``, each frame
``function (file:line)``, outermost first. A function's *self* time counts the samples where it is
the innermost frame; its *total* time those where it is anywhere on the stack (once per stack,
so recursion does not count twice); its *own* time those where it is the innermost frame of the
library (its lines and the torch kernels it calls). Samples are taken ``rate`` times a second
per busy thread (waiting threads left out), so the times are sampled CPU seconds summed over
processes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

__all__ = ["IDLE_FUNCTIONS", "PY_SPY_RATE", "py_spy_command", "read_collapsed", "top_functions"]

#: Samples per second py-spy takes (its default).
PY_SPY_RATE = 100

_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def py_spy_command(out: Path, command: list[str], rate: int = PY_SPY_RATE) -> list[str]:
    """The py-spy invocation that samples ``command`` and its subprocesses into ``out`` (raw)."""
    return [
        "py-spy",
        "record",
        "--subprocesses",
        "--format",
        "raw",
        "--rate",
        str(rate),
        "--output",
        str(out),
        "--",
        *command,
    ]


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
            raise ValueError(
                f"{path}:{number}: not a collapsed stack ('frame;frame;... count'): {line[:80]!r}"
            )
        frames = [f for f in stack.split(";") if not f.startswith("process ")]
        stacks.append(([_function(f) for f in frames], int(count)))
    return stacks


def _function(frame: str) -> str:
    match = _FRAME.match(frame)
    return frame if match is None else f"{match['function']} ({match['file']})"


#: Innermost frames of threads that wait (the kernel's message loops and pipes, pools' condition
#: variables) that py-spy does not always recognise as idle: their samples are left out.
IDLE_FUNCTIONS = (
    "EpollSelector.select",
    "select",
    "poll",
    "OutStream._watch_pipe_fd",
    "ParentPollerUnix.run",
    "device",
    "Condition.wait",
    "Event.wait",
    "wait",
    "sleep",
    "_recv",
    "recv_bytes",
    "accept",
)


def _idle(frame: str) -> bool:
    return frame.rpartition(" (")[0] in IDLE_FUNCTIONS


def top_functions(
    path: Path, n: int = 10, rate: int = PY_SPY_RATE, by: str = "self_s", within: str | None = None
) -> pd.DataFrame:
    """The ``n`` functions with the most ``by`` time in the py-spy raw file ``path``, samples of
    waiting threads (``IDLE_FUNCTIONS``) left out: ``self_s`` (innermost frame), ``total_s``
    (anywhere on the stack) or, with ``within`` (a file prefix, ``"imssa/"``: the library),
    ``own_s``: the samples whose innermost frame in those files is the function, the time of its
    own lines and of the library calls it makes (torch's kernels, say) outside them. Columns
    ``function`` (``name (file)``), the times in sampled CPU s and their shares of all busy samples;
    only functions in ``within``'s files where given."""
    if by not in ("self_s", "total_s", "own_s") or (by == "own_s" and within is None):
        raise ValueError(f"by must be 'self_s', 'total_s' or (with within) 'own_s', got {by!r}")
    inside = (lambda f: f.rpartition(" (")[2].startswith(within)) if within else (lambda f: True)
    counts: dict[str, dict[str, int]] = {"self_s": {}, "total_s": {}, "own_s": {}}
    samples = 0
    for frames, count in read_collapsed(path):
        if not frames or _idle(frames[-1]):
            continue
        samples += count
        mine = [f for f in frames if inside(f)]
        for key, names in (("self_s", frames[-1:]), ("total_s", set(frames)), ("own_s", mine[-1:])):
            for f in names:
                counts[key][f] = counts[key].get(f, 0) + count
    names = [f for f in counts["total_s"] if inside(f)]
    table = pd.DataFrame({"function": names})
    for key in ("self_s", "total_s", "own_s") if within else ("self_s", "total_s"):
        table[key] = [counts[key].get(f, 0) / rate for f in names]
        table[key.replace("_s", "_share")] = table[key] * rate / max(samples, 1)
    return (
        table.sort_values([by, "function"], ascending=[False, True]).head(n).reset_index(drop=True)
    )
