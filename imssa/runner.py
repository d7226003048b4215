"""Execute the book's chapters with papermill and build the HTML with jupyter-book.

    python -m imssa.runner execute --profile ci                 # every chapter, params/ci/*.yaml
    python -m imssa.runner execute --chapter float_baseline --params my.yaml --profile paper
    python -m imssa.runner build --profile paper                # HTML from executed notebooks

Chapters are MyST Markdown notebooks (``book/<chapter>.md``, jupytext), so their diffs read as
text; the runner converts each to a notebook for papermill. Each chapter's parameters are
validated against its schema *before* papermill starts, so a bad file fails at once with the key
named. Executed notebooks go to ``_build/executed/<profile>/``; the book is assembled there and
built with execution off and warnings as errors.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .params import CHAPTERS, ParamsError, read_yaml, validate_params
from .results import project_root

BOOK_FILES = ("_config.yml", "_toc.yml", "intro.md")


def chapters() -> list[str]:
    """Chapter names in book order (the order of imssa.params.CHAPTERS)."""
    return list(CHAPTERS)


def executed_dir(profile: str) -> Path:
    return project_root() / "_build" / "executed" / profile


def execute(chapter: str, params_file: Path, profile: str) -> Path:
    """Validate ``params_file`` for ``chapter``, then run the notebook with papermill."""
    import jupytext
    import papermill

    values = read_yaml(params_file)
    validate_params(chapter, values, source=str(params_file))  # fail before any work
    root = project_root()
    out = executed_dir(profile) / f"{chapter}.ipynb"
    source = root / "_build" / "sources" / profile / f"{chapter}.ipynb"  # outside the book's folder
    for folder in (source.parent, out.parent):
        folder.mkdir(parents=True, exist_ok=True)
    jupytext.write(jupytext.read(root / "book" / f"{chapter}.md"), source)
    t0 = time.perf_counter()
    papermill.execute_notebook(
        str(source), str(out), parameters={"params": values},
        cwd=str(out.parent), kernel_name="python3", progress_bar=False, log_output=False,
    )
    print(f"executed {chapter} with {params_file} in {time.perf_counter() - t0:.0f} s -> {out}")
    return out


def build(profile: str) -> Path:
    """Assemble the book from the executed notebooks (running missing chapters) and build HTML."""
    root = project_root()
    src = executed_dir(profile)
    for chapter in chapters():
        if not (src / f"{chapter}.ipynb").is_file():
            execute(chapter, root / "params" / profile / f"{chapter}.yaml", profile)
    for name in BOOK_FILES:
        shutil.copy(root / "book" / name, src / name)
    jb = Path(sys.executable).parent / "jupyter-book"
    subprocess.run([str(jb), "build", str(src), "-W", "-n", "--keep-going"], check=True, cwd=root)
    html = src / "_build" / "html"
    print(f"book ({profile}) -> {html / 'index.html'}")
    return html


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m imssa.runner", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=["execute", "build"])
    ap.add_argument("--profile", default="paper", help="results/<profile>, _build/executed/<profile>")
    ap.add_argument("--chapter", choices=chapters(), help="one chapter (default: all)")
    ap.add_argument("--params", type=Path, help="parameter file (default: params/<profile>/<chapter>.yaml)")
    args = ap.parse_args(argv)
    os.environ.setdefault("TQDM_MININTERVAL", "5")  # progress bars: a few lines in the book, not hundreds
    for var in ("IMSSA_DATA_DIR", "IMSSA_CACHE_DIR", "IMSSA_RESULTS_DIR"):  # kernels run elsewhere
        if os.environ.get(var):
            os.environ[var] = str(Path(os.environ[var]).resolve())
    root = project_root()
    try:
        if args.action == "execute":
            todo = [args.chapter] if args.chapter else chapters()
            files = {c: args.params or root / "params" / args.profile / f"{c}.yaml" for c in todo}
            for c, f in files.items():  # validate every file before running any chapter
                validate_params(c, read_yaml(f), source=str(f))
            for c, f in files.items():
                execute(c, f, args.profile)
        else:
            build(args.profile)
    except ParamsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
