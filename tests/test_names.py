"""One name per quantity: renamed keys are refused with their new name, and one way to seed a
programming (``seeds.programming_seed``, ``seeds.sweep_seed``) that draws what the study drew
before."""

import re

import pytest
from pydantic import ValidationError

from imssa.schema import Strict
from imssa.seeds import draw_seed, programming_seed, sweep_seed
from imssa.study.params import CHAPTERS, ParamsError, ScaleParams, Strategy, validate_params
from imssa.study.programming import model_draw_seed
from imssa.study.scale import Spec, spec_seed_at
from imssa.study.strategy import strategy_seed_at


class _Renamed(Strict):
    RENAMED = {"old_uS": "new_uS"}
    new_uS: float = 0.0


def test_a_renamed_key_is_refused_with_its_new_name():
    assert _Renamed(new_uS=1.0).new_uS == 1.0
    with pytest.raises(ValidationError, match="'old_uS' is now 'new_uS'"):
        _Renamed.model_validate({"old_uS": 1.0})


@pytest.mark.parametrize(
    "chapter, old, new",
    [
        ("stability_margin", "margin_sigmas_uS", "sigmas_uS"),
        ("stability_margin", "p_fail", "p_unstable"),
        ("state_memory", "p_fail", "unstable_share_limit"),
        ("state_memory", "memory_realisations", "realisations"),
        ("memory_programming", "memory_sigmas_uS", "sigmas_uS"),
        ("device_technologies", "tech_seed", "programming_seed"),
        ("device_technologies", "inverse_step_realisations", "inverse_step.realisations"),
        ("quantization_strategy", "hardware_seed", "programming_seed"),
        ("depth_scale", "ten_sigmas_uS", "ten.sigmas_uS"),
        ("depth_scale", "scale_hardware_seed", "programming_seed"),
        ("periphery", "verify_realisations", "check.realisations"),
        ("hardware_deployment", "step_realisations", "step.realisations"),
    ],
)
def test_every_chapter_refuses_its_old_keys_naming_the_new(chapter, old, new):
    assert old in CHAPTERS[chapter].RENAMED and old not in CHAPTERS[chapter].model_fields
    with pytest.raises(ParamsError, match=f"'{old}' is now '{new}'"):
        validate_params(chapter, {old: 1})


def test_a_strategy_refuses_noise_aware_sigma():
    with pytest.raises(ValidationError, match="'noise_aware_sigma_uS' is now 'noise_sigma_uS'"):
        Strategy.model_validate({"name": "a", "noise_aware_sigma_uS": 5.0})
    assert Strategy(name="a", noise_sigma_uS=5.0).noise_sigma_uS == 5.0


def test_every_renamed_key_points_at_a_field():
    """The new name of every renamed key is a field (or a field of a sub-object) of its class,
    unless the class says in words where the setting went."""
    for kind in CHAPTERS.values():
        for old, new in kind.RENAMED.items():
            if not re.fullmatch(r"[\w.]+", new):
                continue
            head, _, rest = new.partition(".")
            assert head in kind.model_fields, (kind.__name__, old, new)
            if rest:
                assert rest in kind.model_fields[head].annotation.model_fields, (
                    kind.__name__,
                    old,
                    new,
                )


def test_programming_seed_draws_what_each_study_drew_before():
    """The seeds of the merged programmings are the identities each study hashed before, so no table
    moves."""
    s, spec, cfg = Strategy(name="plain"), Spec("binary", "complex", 2, 4, 2), ScaleParams()
    assert strategy_seed_at(21, s, 0, 3, "val")(5.0) == draw_seed(
        "strategy model", "plain", 0, 3, 5.0, "val", 21
    )
    assert spec_seed_at(cfg, spec, 0, 3)(5.0) == draw_seed(
        "scale model", *spec, 0, 3, 5.0, cfg.programming_seed
    )
    assert model_draw_seed({"bits": 2, "sigma_uS": 5.0}, 0, 3, 7) == draw_seed(
        "qat model", 2, None, 0, 3, 5.0, 7
    )
    assert programming_seed("state memory", ("order", "fe", "m", 0, 3), 5.0) == draw_seed(
        "state memory", ("order", "fe", "m", 0, 3), 5.0
    )


def test_sweep_seed_names_the_sweeps_and_refuses_others():
    assert (
        sweep_seed("hardware_deployment", "stuck") == 7 and sweep_seed("periphery", "designs") == 29
    )
    with pytest.raises(KeyError, match="no seed for sweep 'nope' of chapter 'periphery'"):
        sweep_seed("periphery", "nope")
