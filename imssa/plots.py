"""One seaborn style for every figure of the book."""

from __future__ import annotations

import seaborn as sns

__all__ = ["set_style", "PAPER_COLOR"]

#: colour of the paper's reference values in every figure (never our own numbers)
PAPER_COLOR = "0.35"


def set_style() -> None:
    """Apply the book's figure style (seaborn whitegrid, colour-blind palette).

    Inside a Jupyter kernel it also selects the inline backend, so that every executed chapter
    holds its figures (and closes them after each cell) whatever ``MPLBACKEND`` says.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with the book extras
        get_ipython = None
    shell = get_ipython() if get_ipython else None
    if shell is not None and "IPKernelApp" in shell.config:
        shell.run_line_magic("matplotlib", "inline")
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind",
                  rc={"figure.figsize": (6.4, 3.6), "figure.dpi": 100, "savefig.bbox": "tight"})
