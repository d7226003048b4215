"""Study: chapter parameters (``params``), the book's runs (``runs``), sweeps on joblib or dask
(``sweep``), choices on validation data (``selection``), the chapters' logic (``programming``,
``strategy``, ``scale``), verdicts (``claims``, ``report``), the paper's reference values
(``paper``), results, plots and the runner (papermill + jupyter-book). Imports everything below
it."""
