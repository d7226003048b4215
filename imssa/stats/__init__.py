"""Uncertainty of accuracies, and paired comparisons, over speakers (folds), seeds and clips.

The book's main task tests every speaker once (leave-one-speaker-out), with several training
seeds per fold and, on arrays, several programmings per model. An accuracy varies for four
reasons: which speakers are in the data (folds), how training went (seeds), which clips a
speaker recorded (clips) and how the array was programmed (realisations). With six speakers at
most, the speaker is the unit of replication:

* **Intervals** are t intervals over the per-fold means with F - 1 degrees of freedom
  (``fold_t_interval``; for accuracies on the logit scale, ``accuracy_interval``). Each fold mean
  already averages that fold's seeds, clips and programmings, so its spread between folds holds all
  four sources of variance, and the interval covers *the mean over speakers like these* (of the same
  seeds' and programmings' distribution), not only the finite test set. A percentile bootstrap over
  6 clusters undercovers (about 87% at nominal 95%; ``interval_coverage`` measures both); the t
  interval holds its level at 3 and 6 folds (``tests/test_stats.py``).
* **p-values** come from an exact sign-flip (permutation) test over folds (``sign_flip_p``):
  under "no difference" each fold's mean difference is as likely to be + as -, so with F folds
  the smallest two-sided p is 2 / 2^F (1/32 at 6 folds, 1/4 at 3). The t test over fold means
  (``p_t``) is reported beside it: it is the test the interval inverts.
* **Families.** A chapter states its planned comparisons and corrects them together with Holm's
  step-down method (``holm``, on ``p_t``). ``paired_table`` treats its rows as one family.
* **Verdicts** (``verdict``, the book's one rule and one word set): an interval and a p-value
  (Holm-adjusted where a family) against a ``Rule``'s threshold t: ``ABOVE`` / ``BELOW`` where the
  whole interval lies strictly on one side of t and p <= alpha, else ``NOT_RESOLVED``; a paper's
  claim reads ``HOLDS`` / ``FAILS`` by the side the rule names. Every table's column is ``verdict``.
* **Units.** Paired differences (``paired_difference``, ``paired_contrast``) are in accuracy
  points (percentage points), converted here once.
* **McNemar** (``mcnemar``) describes one model pair on its clips (discordant counts) and is not a
  test of a configuration over speakers; the tables keep only its counts.

Input is a tidy frame of per-clip answers with columns ``fold``, ``seed``, ``clip`` and
``correct`` (0/1), one row per clip and run (see ``imssa.study.sweep.clip_answers``), or per
programming (``fold``, ``realisation``, ``accuracy``).

The modules, by concept:

* ``intervals``: intervals and tests over folds, and their coverage by simulation;
* ``paired``: paired comparisons on the same clips, McNemar's counts, Holm's families;
* ``programmings``: Monte Carlo programmings (failures at chance, drops, paired contrasts);
* ``power``: the nested variance components of per-programming values and the half-width a cut
  of seeds or programmings leaves (the power table of the build's cuts, ``study.power_table``);
* ``verdicts``: the one verdict, its ``Rule`` and its word set.
"""
