"""One seaborn style for every figure of the book."""

from __future__ import annotations

import seaborn as sns

__all__ = [
    "drop_heatmap",
    "float_and_paper_lines",
    "interval_bands",
    "interval_lines",
    "interval_points",
    "measured_vs_predicted",
    "one_pole_lines",
    "paper_accuracy_line",
    "pareto_panel",
    "strategy_panel",
    "unit_circle",
    "set_style",
    "PAPER_COLOR",
    "PREDICTION_STYLES",
]

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
    sns.set_theme(
        context="notebook",
        style="whitegrid",
        palette="colorblind",
        rc={"figure.figsize": (6.4, 3.6), "figure.dpi": 100, "savefig.bbox": "tight"},
    )


def interval_points(
    ax,
    table,
    x: str,
    hue: str,
    y: str = "mean",
    low: str = "ci_low",
    high: str = "ci_high",
    order: list | None = None,
) -> None:
    """Means with their intervals: one marker and bar per row of ``table``, the ``x`` categories in
    ``order`` (default: order of appearance), the ``hue`` groups side by side (dodged)."""
    import numpy as np

    cats = list(order) if order is not None else list(dict.fromkeys(table[x]))
    groups = list(table.groupby(hue, sort=True))
    shifts = np.linspace(-0.2, 0.2, len(groups)) if len(groups) > 1 else [0.0]
    # strict=False: a table without groups has one shift (0) and nothing to draw
    for (name, part), dx in zip(groups, shifts, strict=False):
        pos = [cats.index(c) + dx for c in part[x]]
        ax.errorbar(
            pos,
            part[y],
            yerr=[part[y] - part[low], part[high] - part[y]],
            fmt="o",
            capsize=3,
            label=f"{hue} {name}",
        )
    ax.set_xticks(range(len(cats)), cats, rotation=15)
    ax.legend(fontsize=8)


def interval_lines(ax, table, x: str, by: str, label: str = "{}", **kw) -> None:
    """One line per value of ``by`` in ``table``: column ``mean`` against ``x``, with error bars
    from ``ci_low`` to ``ci_high``, labelled ``label.format(value)``; ``kw`` go to ``errorbar``."""
    for value, part in table.groupby(by):
        ax.errorbar(
            part[x],
            part["mean"],
            yerr=[part["mean"] - part["ci_low"], part["ci_high"] - part["mean"]],
            label=label.format(value),
            **kw,
        )


def drop_heatmap(data, **kw) -> None:
    """One facet of a reproduction map (``FacetGrid.map_dataframe``): the drop from the ideal array
    (``drop_points``, points) by ``read_noise`` (rows) and ``adc_bits`` (columns), annotated with
    one decimal and a star where ``reproduces``; colours from 0 to 50 points."""
    import numpy as np

    drop, hit = (
        data.pivot(index="read_noise", columns="adc_bits", values=v)
        for v in ("drop_points", "reproduces")
    )
    sns.heatmap(
        drop,
        annot=drop.round(1).astype(str) + np.where(hit, " *", ""),
        fmt="",
        cmap="rocket_r",
        vmin=0,
        vmax=50,
        cbar=False,
    )


#: How ``measured_vs_predicted`` draws each prediction: column, marker, colour and label.
PREDICTION_STYLES = [
    ("predicted_old_rice_uS", "x", "tab:blue", "old: Rice (complex pairs)"),
    ("predicted_new_exact_uS", "o", "tab:orange", "new: exact law"),
]


def measured_vs_predicted(ax, table, top: float, linthresh: float) -> None:
    """Measured sigma* (``sigma_star_uS``, uS) against each prediction of ``PREDICTION_STYLES``
    in ``table`` (one row per configuration): a marker per configuration and a vertical line up to
    its first failing sigma (``sigma_fail_uS``; ``top`` where none fails), the diagonal of
    agreement, and symlog axes linear below ``linthresh`` (uS)."""
    columns = [col for col, *_ in PREDICTION_STYLES]
    for col, marker, color, name in PREDICTION_STYLES:
        ax.scatter(table[col], table["sigma_star_uS"], marker=marker, color=color, label=name)
        ax.vlines(
            table[col],
            table["sigma_star_uS"],
            table["sigma_fail_uS"].fillna(top),
            color=color,
            alpha=0.4,
        )
    lim = [0, max([top, *table[columns].to_numpy().ravel()])]
    ax.plot(lim, lim, color="0.6", lw=1, label="measured = predicted")
    ax.set_xscale("symlog", linthresh=linthresh)
    ax.set_yscale("symlog", linthresh=linthresh)


def one_pole_lines(ax, table) -> None:
    """The predicted sigma* of one mode at the margin (``margin_tables.one_pole_sigma_stars``): a
    grey line for a real pole (solid) and one for a complex pole (dashed) against ``margin``."""
    for name, ls in [("real", "-"), ("complex", "--")]:
        ax.plot(
            table["margin"],
            table[name],
            color="0.5",
            lw=1,
            ls=ls,
            label=f"prediction, one {name} pole at the margin",
        )


def strategy_panel(ax, baseline, strategies, baseline_name: str, title: str) -> None:
    """One panel of the strategies under noise: the ``baseline`` curve (columns ``sigma_uS``,
    ``mean``) in black, one line per strategy of ``strategies`` (column ``strategy``), and chance
    (0.5, the binary task's) dotted."""
    ax.plot(baseline["sigma_uS"], baseline["mean"], "k-o", ms=3, label=baseline_name)
    for name, part in strategies.groupby("strategy", sort=False):
        ax.plot(part["sigma_uS"], part["mean"], "-o", ms=3, label=name)
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=6, loc="lower left")


def pareto_panel(ax, table, x: str, y: str, front: str, labelled: list[str]) -> None:
    """One panel of the Pareto front: every strategy of ``table`` as a grey point (``x`` against
    ``y``), the front (boolean column ``front``) as a red step line, the first strategy of
    ``labelled`` (the recommendation) ringed in green, and the names of the front's strategies and
    of ``labelled`` written beside their points."""
    ax.scatter(table[x], table[y], c="lightgrey", edgecolor="k", zorder=2, label="strategy")
    f = table[table[front]].sort_values(x)
    ax.step(f[x], f[y], where="post", color="C3", lw=1, label="Pareto front")
    pick = table[table["strategy"] == labelled[0]]
    ax.scatter(pick[x], pick[y], s=160, facecolor="none", edgecolor="C2", lw=2, label="recommended")
    for _, r in table[table[front] | table["strategy"].isin(labelled)].iterrows():
        ax.annotate(
            r["strategy"], (r[x], r[y]), fontsize=7, xytext=(4, -10), textcoords="offset points"
        )
    ax.legend(fontsize=7, loc="upper left")


def unit_circle(ax) -> None:
    """The unit circle, in grey, on the complex plane of ``ax``."""
    import numpy as np

    angle = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(angle), np.sin(angle), color="0.4", lw=1)


def interval_bands(ax, table, x: str, by: str, colors: dict) -> None:
    """A shaded band from ``ci_low`` to ``ci_high`` against ``x`` for each value of ``by`` in
    ``table``, in its colour of ``colors``."""
    for value, part in table.groupby(by):
        ax.fill_between(part[x], part["ci_low"], part["ci_high"], color=colors[value], alpha=0.15)


def float_and_paper_lines(ax, float_accuracy: float) -> None:
    """Horizontal references: our float model's accuracy ``float_accuracy`` (a fraction, black)
    and the paper's 2-bit software accuracy on Heidelberg Digits (dashed, ``PAPER_COLOR``)."""
    from .paper import PAPER

    ax.axhline(float_accuracy, color="k", lw=1, label="float (ours)")
    ax.axhline(
        PAPER["software_2bit_accuracy"][0],
        color=PAPER_COLOR,
        ls="--",
        lw=1,
        label="paper: 2-bit, HD (reference)",
    )


def paper_accuracy_line(ax) -> None:
    """A vertical dashed line at the paper's 2-bit software accuracy on Heidelberg Digits (a
    reference value), labelled at its foot, in ``PAPER_COLOR``."""
    from .paper import PAPER

    paper_acc = PAPER["software_2bit_accuracy"][0]
    ax.axvline(paper_acc, color=PAPER_COLOR, ls="--", lw=1)
    ax.text(
        paper_acc, -0.4, "paper: 2-bit, HD (reference) ", ha="right", fontsize=8, color=PAPER_COLOR
    )
