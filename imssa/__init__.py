"""imssa: an executable study of IMSSA (S4D state-space models on memristive crossbars).

Layers, each importing only the ones before it (a test checks)::

    foundation  compute_device, schema (the strict base of every configuration), seeds, stats
                (intervals, paired tests, the one verdict)
    data        FSDD and Heidelberg Digits, speaker-held-out folds, front ends
    model       S4D (complex and real), quantization-aware training, the classifier and its cache
    hardware    devices, crossbar mapping, analog simulation, deployment, stability margin, cost
    study       chapter parameters, runs, sweeps, selection, chapter logic, report, runner
"""

__version__ = "0.1.0"
