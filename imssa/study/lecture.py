"""What a chapter's setup cell imports, in one line: the chapter object, the library functions the
chapters call, and the scientific stack under its usual names.

    from imssa.study.lecture import *
    ch = Chapter("float_baseline", params)

A chapter's cells read like a lecture's: prose, a short library call, a table or a figure. The
imports below say where each function lives; ``tests/test_book.py`` checks that every chapter's
setup cell stays within six lines and that this module is all it imports."""

# ruff: noqa: F401  (re-exported for the chapters' star import)

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from IPython.display import Markdown

from ..data.audio import fold_table
from ..hardware.analog import effective_weights, simulate_fast
from ..hardware.conductance import program
from ..hardware.cost import CostConstants
from ..hardware.crossbar import combined_matrix, device_map, layout, structural_mask, to_conductance
from ..hardware.deploy import deployed_weights, fits, ideal_weights
from ..hardware.devices import DeviceConfig
from ..hardware.margin import (
    against_measured,
    instability_probability,
    pole_radii,
    pole_values,
    predicted_sigma_star,
    sigma_star,
    weight_noise_std,
)
from ..hardware.noise import programming_sigma_uS
from ..hardware.presets import preset, preset_table
from ..hardware.stack import stack_run
from ..hardware.step import simulate_step
from ..model.cache import restore_model, train_or_load
from ..model.memory import describe_memory, mode_table
from ..model.poles import complex_grid
from ..model.quant import q_max
from ..model.s4d import frequency_response, init_A, ssm_conv, ssm_kernel, ssm_recurrent, zoh
from ..model.train import evaluate, load_splits
from ..seeds import sweep_seed
from ..stats.intervals import accuracy_summary, accuracy_table
from ..stats.paired import PAIRED_COLUMNS, holm_family, paired_table
from ..stats.programmings import (
    chance_failure,
    drop_summary,
    drops_from,
    paired_contrast,
    realisation_summary,
)
from ..stats.verdicts import NOT_RESOLVED
from . import (
    design_noise,
    memory_answers,
    memory_cost,
    memory_laws,
    memory_noise,
    memory_programming,
    memory_task,
    periphery_designs,
    periphery_summaries,
    scale,
    scale_summaries,
    sentences,
    state_memory,
    stateless_controls,
)
from .chapter import Chapter
from .claims import (
    PAPER_NOISE_CLAIMS,
    default_claims_text,
    noise_claims,
    paper_pattern,
    reference_region,
    without_working_models,
)
from .deployed import software_row
from .deployment_arrays import (
    ALL_NON_IDEALITIES,
    DEFAULT_ARRAY,
    DEFAULT_ARRAY_LABEL,
    EMULATION_VARIANTS,
    array_label,
    array_summary,
    emulation_factorial,
    emulation_summary,
    failure_cells,
    with_array_labels,
)
from .deployment_sweeps import (
    deployment_cells,
    deployment_keys,
    median_predicted_sigma_star,
    periphery_cells,
    periphery_rows,
    stuck_cells,
    stuck_device,
)
from .mapping_tables import (
    device_counts,
    exact_accuracy_row,
    exactness_table,
    mapped_specs,
    matrix_facts,
    placement_facts,
)
from .margin_tables import (
    PREDICTED_SIGMA_STARS,
    failure_at_sigma_fail,
    instability_chance,
    margin_cells,
    margin_configs,
    margin_keys,
    margin_stars,
    one_pole_sigma_stars,
    predicted_sigma_stars,
    real_zeros_tables,
    stable_drop,
)
from .paper import PAPER, paper_reference
from .params import global_params
from .plots import (
    PAPER_COLOR,
    drop_heatmap,
    float_and_paper_lines,
    interval_bands,
    interval_lines,
    interval_points,
    measured_vs_predicted,
    one_pole_lines,
    paper_accuracy_line,
    pareto_panel,
    strategy_panel,
    unit_circle,
)
from .programming import PERIPHERIES, deployable, radius_cell, sweep_cell
from .report import claims_markdown, report_table, sources_markdown
from .runs import (
    accuracy_by_bits,
    comparison_label,
    comparison_specs,
    float_curve_specs,
    float_finetune_spec,
    float_spec,
    margin_spec,
    official,
    official_specs,
    paper_comparison,
    pole_grid,
    qat_curve_specs,
    qat_detail_spec,
    qat_label,
    qat_spec,
    qat_sweep_specs,
    range_cost_text,
    range_memory_text,
    reference_specs,
    used_modes,
    used_poles,
)
from .s4d_tables import (
    discrete_ssms,
    eigenvalue_table,
    frequency_response_table,
    kernel_table,
    mode_agreement,
)
from .selection import (
    baseline_selection,
    choices,
    nested_choices,
    nested_summary,
    plateau_epoch,
    qat_selection_specs,
    validation_scores,
    validation_sweep,
)
from .sentences import (
    choices_text,
    deployable_text,
    heidelberg_text,
    training_text,
    unstable_share_text,
    where_text,
)
from .strategy import (
    fold_speakers,
    ptq_ablation,
    strategy_cells,
    strategy_converter_cells,
    strategy_converter_rows,
    strategy_converter_task,
    strategy_keys,
    strategy_model,
    strategy_rows,
    strategy_spec,
    strategy_test_clips,
)
from .strategy_cost import cost_breakdown, cost_corners, energy_verdict, strategy_cost
from .strategy_verdicts import (
    answer_table,
    family,
    gap_recovery,
    gap_text,
    interval_text,
    nested_recommendation,
    pareto_front,
    pareto_table,
    per_model_accuracy,
    recommend,
    recommendation_text,
    software_summary,
    strategy_gaps,
    works_at,
    works_at_text,
)
from .sweep import clip_answers, learning_curves, train_all, train_sweep
from .technology_claims import (
    compensation_contrast,
    noise_model_cells,
    noise_model_contrasts,
    noise_model_verdict,
    technologies_text,
    technology_grids,
    technology_model_keys,
    technology_runs,
)
