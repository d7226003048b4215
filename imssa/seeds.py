"""The one seed function of the study: every random draw of a programming is seeded from what it
belongs to.

A programming's noise belongs to *one trained model* and one realisation of it. The identity of
the model (which experiment, its bit width or strategy, its training seed and fold) goes into
the seed, so two models of one sweep point never share a noise pattern and their programmings
are independent, as the intervals assume. Variants of one model (arrays, clipping rules,
technologies, converters, layouts) leave their own settings *out* of the identity: they meet the
same draws, and comparing them stays paired. The noise level, the split and the layer of a stack
go in, so each is drawn anew.

``draw_seed(*identity)`` hashes the identity's text with SHA-256, so a seed does not depend on
Python's hash randomisation, the platform or the order of a sweep. ``programming_seed`` is the one
way a study seeds the programmings of a trained model; ``sweep_seed`` names the further seed of a
chapter's sweep whose draws a noise level alone does not key (step mode, cells without a sigma).
"""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = ["SWEEP_SEEDS", "draw_seed", "programming_seed", "sweep_seed"]

_PARTS = (str, int, float, bool, type(None))


def draw_seed(*identity: Any) -> int:
    """A seed in [0, 2**63) for ``identity``: strings, numbers, None or flat tuples of them.

    Numbers are written by ``repr`` after conversion to float when they are whole (2 and 2.0, or a
    numpy integer, give the same seed). Raises TypeError for other types.
    """
    if not identity:
        raise ValueError("draw_seed needs at least one part of an identity")
    text = []
    for part in identity:
        items = part if isinstance(part, tuple) else (part,)
        for x in items:
            if hasattr(x, "item") and not isinstance(x, _PARTS):  # numpy scalars
                x = x.item()
            if not isinstance(x, _PARTS):
                raise TypeError(
                    f"a seed identity holds strings, numbers or None, got {type(x).__name__}: {x!r}"
                )
            text.append(
                repr(float(x))
                if isinstance(x, (int, float)) and not isinstance(x, bool)
                else repr(x)
            )
    digest = hashlib.sha256("|".join(text).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def programming_seed(study: str, model: tuple[Any, ...], sigma_uS: float | None, *draw: Any) -> int:
    """The seed of the programmings of one trained model at one noise level (``draw_seed``).

    ``study``: the family of models ('qat model', 'strategy model', 'scale model', 'state memory');
    ``model``: the model's identity (what it was trained as, training seed, fold); ``sigma_uS``: the
    noise level in uS (None: the cell has none); ``draw``: further parts that redraw (the split, a
    sweep's seed). A variant of one model (array, periphery, placement) leaves its settings out and
    meets the same draws."""
    return draw_seed(study, model, sigma_uS, *draw)


#: The further seed of each chapter sweep whose draws a noise level alone does not key, by
#: (chapter, sweep): step mode draws read noise per step, and cells without ``sigma_uS`` vary other
#: devices. Each value is the one the sweep was first run with; changing it redraws that sweep.
SWEEP_SEEDS: dict[tuple[str, str], int] = {
    ("crossbar_mapping", "ideal"): 0,
    ("hardware_deployment", "stuck"): 7,
    ("hardware_deployment", "periphery"): 13,
    ("hardware_deployment", "emulation"): 11,
    ("periphery", "designs"): 29,
}


def sweep_seed(chapter: str, sweep: str) -> int:
    """The further seed of ``chapter``'s sweep ``sweep`` (``SWEEP_SEEDS``); KeyError naming the
    known sweeps for any other."""
    try:
        return SWEEP_SEEDS[(chapter, sweep)]
    except KeyError:
        known = sorted(SWEEP_SEEDS)
        raise KeyError(
            f"no seed for sweep {sweep!r} of chapter {chapter!r}; known: {known}"
        ) from None
