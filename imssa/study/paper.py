"""Reference values reported in the paper (Siegel, Yang, Strachan, arXiv:2412.20215).

These are the *paper's* numbers, shown beside ours in the book and always labelled as the
paper's. None of them is used to compute anything of ours.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["PAPER", "paper_reference"]

CITATION = "Siegel, Yang, Strachan, IMSSA, arXiv:2412.20215 (2024)"

#: name -> (value, unit, what it is)
PAPER: dict[str, tuple[float, str, str]] = {
    "software_2bit_accuracy": (
        0.9506,
        "fraction",
        "2-bit (ternary) fixed-range QAT model, software, Heidelberg Digits",
    ),
    "hardware_2bit_accuracy": (
        0.8169,
        "fraction",
        "same model deployed on memristive crossbar hardware",
    ),
    "sigma_tolerated_2bit_uS": (15.0, "uS", "programming noise the 2-bit model tolerates"),
    "sigma_degrades_5bit_uS": (
        5.0,
        "uS",
        "programming noise at which 5-bit weights already suffer",
    ),
}


def paper_reference(*names: str) -> pd.DataFrame:
    """The named reference values as a table with a 'source' column naming the paper."""
    rows = [
        {
            "quantity": n,
            "value": PAPER[n][0],
            "unit": PAPER[n][1],
            "description": PAPER[n][2],
            "source": f"paper ({CITATION})",
        }
        for n in names
    ]
    return pd.DataFrame(rows)
