"""The deployment chapter's versions of the array and its emulation factorial.

A version of the array is named by its ``ARRAY_COLUMNS`` (layout, noise clip, devices per element,
periphery; ``array_label``); ``DEFAULT_ARRAY`` is the paper-like one on which the paper's noise
claims (``claims``) are judged. ``with_array_labels``, ``array_summary`` and ``failure_cells`` read
the rows of every version (the chapter's Fig. 4). The emulation factorial (``EMULATION_VARIANTS``)
switches each non-ideality of the emulated array off in turn; ``emulation_summary`` and
``emulation_factorial`` read its rows.
"""

from __future__ import annotations

import pandas as pd

from ..stats.programmings import realisation_summary

__all__ = [
    "ALL_NON_IDEALITIES",
    "ARRAY_COLUMNS",
    "DEFAULT_ARRAY",
    "DEFAULT_ARRAY_LABEL",
    "EMULATION_VARIANTS",
    "array_label",
    "array_summary",
    "emulation_factorial",
    "emulation_summary",
    "failure_cells",
    "with_array_labels",
]


#: The book's default array, the paper-like one on which the paper's noise claims are judged: the
#: paper's block layout (one 4 x 4 block of devices per complex element: 16 devices), noise
#: clipped at the physical window only, and the saturating periphery. The deployment chapter and
#: the report both name it by this constant, never by position in a table.
DEFAULT_ARRAY = {
    "layout": "block",
    "noise_clip": "physical",
    "devices_per_element": 16,
    "periphery": "saturating",
}


def array_label(layout: str, noise_clip: str, devices_per_element: int, periphery: str) -> str:
    """The readable name of one version of the array, e.g. 'block, physical clip, 16 devices,
    saturating'."""
    return f"{layout}, {noise_clip} clip, {int(devices_per_element)} devices, {periphery}"


DEFAULT_ARRAY_LABEL = array_label(**DEFAULT_ARRAY)


def failure_cells(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Failed programmings by cause in each cell of ``by`` (e.g. array, bits, sigma): one row per
    cell and cause with ``failed`` (count) and ``programmings`` (all programmings of the cell).
    ``rows``: one row per programming with ``failure`` ('' when it worked)."""
    total = rows.groupby(by).size().rename("programmings")
    failed = (
        rows[rows["failure"] != ""].groupby([*by, "failure"]).size().rename("failed").reset_index()
    )
    return failed.merge(total.reset_index(), on=by)


#: The emulation factorial of the deployment chapter: the emulated array with every non-ideality
#: (``ALL_NON_IDEALITIES``, the row the report compares with the paper's hardware accuracy), and
#: with each switched off in turn (device keys set to their ideal value).
ALL_NON_IDEALITIES = "all non-idealities"
EMULATION_VARIANTS: dict[str, dict[str, float | None]] = {
    ALL_NON_IDEALITIES: {},
    "without programming noise": {"sigma_uS": 0.0},
    "without stuck devices": {"stuck_at_gmax": 0.0, "stuck_at_gmin": 0.0},
    "without read noise": {"read_noise": 0.0},
    "with ideal converters": {"dac_bits": None, "adc_bits": None},
    "without read noise, ideal converters": {"read_noise": 0.0, "dac_bits": None, "adc_bits": None},
}


# The deployment chapter's Fig. 4: every version of the array, by name.

#: The columns that name a version of the array (``array_label``).
ARRAY_COLUMNS = ["layout", "noise_clip", "devices_per_element", "periphery"]


def with_array_labels(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with a column ``array``: one readable name per version of the array, from its
    ``ARRAY_COLUMNS`` (``array_label``)."""
    return rows.assign(array=[array_label(*r) for r in rows[ARRAY_COLUMNS].itertuples(index=False)])


def array_summary(rows: pd.DataFrame, n_clips: int | None) -> pd.DataFrame:
    """Accuracy per (array, bits, sigma_uS) of programmed ``rows`` (with ``array``,
    ``with_array_labels``): the mean and interval of ``stats.programmings.realisation_summary`` over
    ``n_clips`` test clips, plus the shares of programmings that are unstable (spectral radius
    >= 1, ``unstable_share``) and that saturate a converter (``saturated_share``), fractions."""
    by = ["array", "bits", "sigma_uS"]
    shares = (
        rows.groupby(by)
        .agg(
            unstable_share=("spectral_radius", lambda r: float((r >= 1).mean())),
            saturated_share=("saturated", "mean"),
        )
        .reset_index()
    )
    return realisation_summary(rows, by, n_clips).merge(shares, on=by)


def emulation_summary(
    emulation: pd.DataFrame, variants: list[str], software_accuracy: float, n_clips: int | None
) -> pd.DataFrame:
    """One row per emulation variant, in the order of ``variants``: the accuracy summary of its
    programmings (``emulation`` rows with ``variant``; ``stats.programmings.realisation_summary``
    over ``n_clips`` test clips), the gap to the software accuracy ``software_accuracy`` (a
    fraction) and the accuracy recovered against all non-idealities (both in points), and its failed
    programmings counted by cause."""
    order = emulation["variant"].map(list(variants).index)
    summary = (
        realisation_summary(emulation.assign(order=order), ["order", "variant"], n_clips)
        .drop(columns="order")
        .set_index("variant")
    )
    summary["gap to software (points)"] = (software_accuracy - summary["mean"]) * 100
    summary["recovered vs all (points)"] = (
        summary["mean"] - summary.loc[ALL_NON_IDEALITIES, "mean"]
    ) * 100
    summary["failures by cause"] = (
        emulation[emulation["failure"] != ""]
        .groupby("variant")["failure"]
        .agg(lambda f: f.value_counts().to_dict())
    )
    return summary


def emulation_factorial(mean: pd.Series, rounding: str) -> pd.DataFrame:
    """Read noise crossed with the converters' rounding: the mean accuracy (a fraction) of the four
    emulation variants (``mean``, by variant) with read noise on and off (columns), with the
    converters ``rounding`` names and with ideal converters (rows)."""
    return pd.DataFrame(
        {
            "read noise on": [mean[ALL_NON_IDEALITIES], mean["with ideal converters"]],
            "read noise off": [
                mean["without read noise"],
                mean["without read noise, ideal converters"],
            ],
        },
        index=[rounding, "ideal converters"],
    ).rename_axis("converters")
