"""imssa: an executable study of IMSSA (S4D state-space models on memristive crossbars).

Layers, each importing only the ones before it (a test checks)::

    schema, stats       foundation: the strict base of every configuration; intervals and paired tests
    data                FSDD and Heidelberg Digits, speaker-held-out folds
    model               S4D (complex and real), quantization-aware training, the classifier and its cache
    hardware            devices, crossbar mapping, analog simulation, deployment, stability margin, cost
    study               chapter parameters, runs, sweeps, selection, chapter logic, report, runner
"""

__version__ = "0.1.0"
