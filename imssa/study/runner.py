"""Execute the book's chapters with papermill and build the HTML with jupyter-book.

    # every chapter, params/ci/*.yaml
    python -m imssa.study.runner execute --profile ci
    # my.yaml: only the keys it changes, over params/paper/
    python -m imssa.study.runner execute --chapter float_baseline --params my.yaml --profile paper
    # HTML from executed notebooks
    python -m imssa.study.runner build --profile paper
    # rerun even chapters that are up to date
    python -m imssa.study.runner execute --profile paper --force
    # results, params, versions, git revision
    python -m imssa.study.runner archive --profile paper
    # py-spy: its top functions
    python -m imssa.study.runner profile --profile paper --chapter periphery
    # every training run and grid task of each chapter, deduplicated, with predicted costs
    python -m imssa.study.runner plan --profile paper

Chapters are MyST Markdown notebooks (``book/<chapter>.md``, jupytext), so their diffs read as
text; the runner converts each to a notebook for papermill. Each chapter's parameters are
validated against its schema *before* papermill starts, so a bad file fails at once with the key
named. Executed notebooks go to ``_build/executed/<profile>/``; the book is assembled from copies
cleaned for the reader in ``_build/book/<profile>/`` and built with execution off and warnings as
errors (HTML in ``_build/book/<profile>/_build/html/``).

Execution is incremental: a chapter is rerun only when its *stamp* changed, a digest of its MyST
source, its parameter values, the library's source (every ``imssa/*.py``) and ``pyproject.toml``
(the pinned dependencies), or when its executed notebook or results are missing.

A build of several chapters first trains every model their plans list (``build.train_first``,
the models stage), then executes the chapters, which load them. Each chapter's work is recorded in
its ledger (``_build/executed/<profile>/.ledger/<chapter>.jsonl``, ``imssa.ledger``) and checked
against its plan when it ends (``build.check_ledger``): a chapter that trained or simulated what
its plan does not list fails the build. The ledgers' measured times price the next ``plan``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from .. import ledger
from .build import (
    Costs,
    chapter_plans,
    check_ledger,
    measured_costs,
    memory_table,
    plan_summary,
    plan_table,
    train_first,
)
from .params import (
    CHAPTERS,
    ParamsError,
    chapter_file_values,
    merge,
    read_yaml,
    shared_values,
    validate_params,
)
from .plans import plan_of
from .publish import publish_html
from .results import git_revision, project_root, results_dir
from .results_archive import archive

BOOK_FILES = ("_config.yml", "_toc.yml", "intro.md")


def chapters() -> list[str]:
    """Chapter names in book order (the order of imssa.study.params.CHAPTERS)."""
    return list(CHAPTERS)


def executed_dir(profile: str) -> Path:
    return project_root() / "_build" / "executed" / profile


def chapter_values(chapter: str, params_file: Path, profile: str) -> dict:
    """The parameters a chapter runs with: the profile's file for that chapter
    (``params/<profile>/<chapter>.yaml``, laid over the profile's shared settings ``_shared.yaml``),
    with ``params_file`` laid over it when that is a reader's file, so that it need hold only the
    keys it changes. Validated as a whole before anything runs."""
    base_file = project_root() / "params" / profile / f"{chapter}.yaml"
    if Path(params_file).resolve() == base_file.resolve():
        values, source = chapter_file_values(chapter, params_file), str(params_file)
    else:
        values = read_yaml(params_file)
        if base_file.is_file():
            values = merge(chapter_file_values(chapter, base_file), values)
        source = f"{params_file} over {base_file}" if base_file.is_file() else str(params_file)
    validate_params(chapter, values, source=source)
    return values


def stamp(chapter: str, values: dict, root: Path | None = None) -> str:
    """Digest of everything a chapter's output depends on in this checkout: its MyST source, its
    parameter ``values`` (not the file's comments), the library's source, the dependency pins and,
    for a chapter that reads other chapters' results (the report), their CSVs."""
    root = root or project_root()
    h = hashlib.sha256()
    h.update((root / "book" / f"{chapter}.md").read_bytes())
    h.update(json.dumps(values, sort_keys=True, default=str).encode())
    for path in sorted((Path(__file__).parents[1]).rglob("*.py")):
        h.update(
            path.relative_to(Path(__file__).parents[1]).as_posix().encode() + path.read_bytes()
        )
    if CHAPTERS[chapter].reads_results:  # the report: every other chapter's tables of this profile
        base = results_dir(str(values.get("profile", "custom")), chapter).parent
        for path in sorted(
            p
            for p in base.rglob("*.csv")
            if p.parent.name != chapter and not p.name.startswith(".")
        ):
            h.update(str(path.relative_to(base)).encode() + path.read_bytes())
    if (root / "pyproject.toml").is_file():
        h.update((root / "pyproject.toml").read_bytes())
    return h.hexdigest()


def _stamp_file(profile: str, chapter: str) -> Path:
    return executed_dir(profile) / ".stamps" / f"{chapter}.sha256"


def up_to_date(chapter: str, values: dict, profile: str) -> bool:
    """Whether the executed notebook and results of ``chapter`` exist and were made from exactly
    this source, these parameters and this library (``stamp``)."""
    f = _stamp_file(profile, chapter)
    return (
        f.is_file()
        and (executed_dir(profile) / f"{chapter}.ipynb").is_file()
        and any(results_dir(profile, chapter).glob("*.csv"))
        and f.read_text() == stamp(chapter, values)
    )


def execute(chapter: str, params_file: Path, profile: str, force: bool = True) -> Path:
    """Validate ``params_file`` for ``chapter``, then run the notebook with papermill, unless
    ``force`` is False and the chapter is ``up_to_date``."""
    import jupytext
    import papermill

    values = chapter_values(chapter, params_file, profile)  # fail before any work
    root = project_root()
    out = executed_dir(profile) / f"{chapter}.ipynb"
    if not force and up_to_date(chapter, values, profile):
        print(f"up to date: {chapter} ({params_file})")
        return out
    source = root / "_build" / "sources" / profile / f"{chapter}.ipynb"  # outside the book's folder
    for folder in (source.parent, out.parent):
        folder.mkdir(parents=True, exist_ok=True)
    jupytext.write(jupytext.read(root / "book" / f"{chapter}.md"), source)
    t0 = time.perf_counter()
    log = ledger_dir(profile) / f"{chapter}.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    os.environ[ledger.LEDGER_VAR] = str(log)  # the kernel and its workers inherit it
    os.environ[ledger.CHAPTER_VAR] = chapter
    ledger.record("start")
    papermill.execute_notebook(
        str(source),
        str(out),
        parameters={"params": values},
        cwd=str(out.parent),
        kernel_name="python3",
        progress_bar=False,
        log_output=False,
    )
    took = time.perf_counter() - t0
    ledger.record("end", seconds=round(took, 1))
    problems = check_ledger(
        chapter, plan_of(chapter, validate_params(chapter, values)), since_start(log)
    )
    if problems:
        raise ParamsError("the build left its plan:\n  " + "\n  ".join(problems))
    print(f"executed {chapter} with {params_file} in {took:.0f} s -> {out}")
    record_time(profile, chapter, took)
    _stamp_file(profile, chapter).parent.mkdir(parents=True, exist_ok=True)
    _stamp_file(profile, chapter).write_text(stamp(chapter, values, root))
    return out


def ledger_dir(profile: str) -> Path:
    """Where each chapter's ledger (``imssa.ledger``) of this profile is appended to."""
    return executed_dir(profile) / ".ledger"


def since_start(path: Path) -> list[dict]:
    """The ledger lines of ``path`` from its last 'start' line on: the latest execution's."""
    lines = ledger.read(path)
    starts = [i for i, line in enumerate(lines) if line["kind"] == "start"]
    return lines[starts[-1] :] if starts else lines


def _costs(profile: str, plans: dict) -> Costs:
    """The costs measured in every ledger of ``profile`` (``build.measured_costs``)."""
    return measured_costs(sorted(ledger_dir(profile).glob("*.jsonl")), plans)


def _workers(profile: str) -> int:
    """The profile's ``workers`` (its ``_shared.yaml``; 1 without one)."""
    return int(shared_values(project_root() / "params" / profile).get("workers", 1))


def models_stage(profile: str, chapters_: list[str]) -> None:
    """Train every model the plans of ``chapters_`` list, once, before they run
    (``build.train_first``), on the profile's ``workers``, recorded in the ledger 'models'."""
    plans = chapter_plans(profile, chapters_)
    costs, workers = _costs(profile, plans), _workers(profile)
    log = ledger_dir(profile) / "models.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    os.environ[ledger.LEDGER_VAR], os.environ[ledger.CHAPTER_VAR] = str(log), "models"
    ledger.record("start")
    t0 = time.perf_counter()
    keys = train_first(plans, workers, costs)
    ledger.record("end", seconds=round(time.perf_counter() - t0, 1))
    print(f"models stage: {len(keys)} models in {_clock(time.perf_counter() - t0)}", flush=True)


def plan(profile: str) -> pd.DataFrame:
    """Print and return the build plan of ``profile``: per chapter the trainings (listed, new after
    removing duplicates), runs after a choice, grid tasks, predicted s on the profile's workers and
    the last measured wall time; the full table in ``_build/executed/<profile>/plan.csv``."""
    plans = chapter_plans(profile)
    costs, workers = _costs(profile, plans), _workers(profile)
    table = plan_table(plans, costs)
    summary = plan_summary(table, workers, previous_times(profile))
    executed_dir(profile).mkdir(parents=True, exist_ok=True)
    table.to_csv(executed_dir(profile) / "plan.csv", index=False)
    lines = [line for f in sorted(ledger_dir(profile).glob("*.jsonl")) for line in since_start(f)]
    memory = memory_table(lines)
    memory.to_csv(executed_dir(profile) / "memory.csv", index=False)
    with pd.option_context("display.width", 120, "display.max_columns", 20):
        print(f"plan of {profile} on {workers} workers (s per unit {costs.seconds_per_unit:.3g})")
        print(summary.round({"predicted_s": 0, "previous_s": 0, "share": 3}).to_string(index=False))
        if len(memory):
            print("peak resident memory of the last build, MiB, per chapter and process role:")
            print(memory.to_string(index=False))
    return table


def _times_file(profile: str) -> Path:
    return executed_dir(profile) / ".stamps" / "times.json"


def previous_times(profile: str) -> dict[str, float]:
    """Wall time in s of each chapter's last execution in this profile (``record_time``); {} if
    none."""
    f = _times_file(profile)
    return json.loads(f.read_text()) if f.is_file() else {}


def record_time(profile: str, chapter: str, seconds: float) -> None:
    """Keep ``seconds`` as ``chapter``'s last execution time in this profile
    (``previous_times``)."""
    times = previous_times(profile) | {chapter: round(seconds, 1)}
    _times_file(profile).parent.mkdir(parents=True, exist_ok=True)
    _times_file(profile).write_text(json.dumps(times, indent=1, sort_keys=True))


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def progress_line(
    i: int,
    n: int,
    chapter: str,
    took_s: float | None,
    elapsed_s: float,
    rest: list[str],
    previous: dict[str, float],
) -> str:
    """One line for chapter ``i`` of ``n`` of a build: its time (``took_s``; None: it was up to
    date), the build's elapsed time, and an estimate of the rest, the ``previous`` times of the
    chapters in ``rest`` (those still to run; chapters without a previous time are counted
    apart)."""
    known = [previous[c] for c in rest if c in previous]
    unknown = len(rest) - len(known)
    done = "up to date" if took_s is None else f"ran in {_clock(took_s)}"
    estimate = f"rest ~{_clock(sum(known))} by the previous run's times" if rest else "nothing left"
    if unknown:
        estimate += f" ({unknown} chapter{'s' if unknown > 1 else ''} without one)"
    return f"[{i}/{n}] {chapter}: {done}; elapsed {_clock(elapsed_s)}; {estimate}"


def for_reader(nb: dict) -> dict:
    """A copy of an executed notebook for the HTML book: progress and warnings written to stderr
    are dropped (so sweeps leave no output boxes), and the parameter cells (the chapter's and the
    one papermill injects) are removed from the page. The executed notebook itself, which nbval
    checks, is left as it is."""
    nb = json.loads(json.dumps(nb))
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        cell["outputs"] = [
            o
            for o in cell.get("outputs", [])
            if not (o["output_type"] == "stream" and o["name"] == "stderr")
        ]
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if {"parameters", "injected-parameters"} & set(tags) and "remove-cell" not in tags:
            tags.append("remove-cell")
    return nb


def with_data_links(nb: dict, chapter: str, tables: list[str]) -> dict:
    """``nb`` with a last section, "This chapter's data", linking the executed notebook and each
    of ``tables`` (CSV names) as downloads from ``data/<chapter>/`` beside the page (``build``
    copies them there)."""
    nb = json.loads(json.dumps(nb))
    links = ", ".join(f"{{download}}`{t} <data/{chapter}/{t}>`" for t in tables) or "none"
    text = (
        "## This chapter's data\n\n"
        f"The executed notebook, {{download}}`{chapter}.ipynb <data/{chapter}/{chapter}.ipynb>` "
        "(as papermill ran it and nbval checks it), and the tables behind this page's figures and "
        f"tables as tidy CSV, each row naming the commit that wrote it: {links}.\n"
    )
    nb["cells"].append({"cell_type": "markdown", "metadata": {}, "source": text})
    return nb


def book_dir(profile: str) -> Path:
    return project_root() / "_build" / "book" / profile


def build(profile: str) -> Path:
    """Assemble the book from the executed notebooks (running missing chapters), cleaned for the
    reader (``for_reader``), and build the HTML."""
    root = project_root()
    src, dst = executed_dir(profile), book_dir(profile)
    dst.mkdir(parents=True, exist_ok=True)
    for chapter in chapters():
        if not (src / f"{chapter}.ipynb").is_file():
            execute(chapter, root / "params" / profile / f"{chapter}.yaml", profile, force=False)
        data = dst / "data" / chapter  # the downloads: the executed notebook, the chapter's CSVs
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        shutil.copy(src / f"{chapter}.ipynb", data / f"{chapter}.ipynb")
        tables = sorted(
            p.name
            for p in results_dir(profile, chapter).glob("*.csv")
            if not p.name.startswith(".")
        )
        for name in tables:
            shutil.copy(results_dir(profile, chapter) / name, data / name)
        nb = with_data_links(
            for_reader(json.loads((src / f"{chapter}.ipynb").read_text())), chapter, tables
        )
        (dst / f"{chapter}.ipynb").write_text(json.dumps(nb, indent=1))
    for name in BOOK_FILES:
        shutil.copy(root / "book" / name, dst / name)
    if (
        root / "book" / "_static"
    ).is_dir():  # the book's CSS (code lines wrap), picked up by Jupyter Book
        shutil.copytree(root / "book" / "_static", dst / "_static", dirs_exist_ok=True)
    jb = Path(sys.executable).parent / "jupyter-book"
    subprocess.run([str(jb), "build", str(dst), "-W", "-n", "--keep-going"], check=True, cwd=root)
    html = dst / "_build" / "html"
    print(f"book ({profile}) -> {html / 'index.html'}")
    return html


def profile(
    chapters_: list[str], profile_name: str, params: Path | None = None, top: int = 10
) -> Path:
    """Execute each chapter (forced) under py-spy (``profiling.py_spy_command``), its samples in
    ``_build/profile/<profile>/<chapter>.txt``, and write the top functions by self time and the
    library's by own time (``profiling.top_functions``) to ``top_functions.csv`` there."""
    import pandas as pd

    from .profiling import py_spy_command, top_functions

    spy = shutil.which(
        "py-spy", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    )
    if spy is None:
        raise ParamsError("py-spy is not installed: pip install -e '.[profile]' (or make profile)")
    out_dir = project_root() / "_build" / "profile" / profile_name
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = []
    for chapter in chapters_:
        raw = out_dir / f"{chapter}.txt"
        command = [
            sys.executable,
            "-m",
            "imssa.study.runner",
            "execute",
            "--profile",
            profile_name,
            "--chapter",
            chapter,
            "--force",
            *(["--params", str(params)] if params else []),
        ]
        subprocess.run([spy, *py_spy_command(raw, command)[1:]], check=True)
        for by, within in (("self_s", None), ("own_s", "imssa/")):
            table = top_functions(raw, top, by=by, within=within)
            tables.append(table.assign(chapter=chapter, ranked_by=by))
            print(
                f"{chapter}, by "
                f"{by}{' (library)' if within else ''}:\n{table.to_string(index=False)}"
            )
    path = out_dir / "top_functions.csv"
    pd.concat(tables, ignore_index=True).to_csv(path, index=False)
    print(f"profile ({profile_name}) -> {path}")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m imssa.study.runner",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "action",
        choices=["execute", "build", "archive", "list", "profile", "publish", "plan"],
        help=(
            "list: the executed notebooks of --profile in book order, one path per line (nbval "
            "validates them in this order, so that the report runs after every chapter it reads); "
            "profile: execute under py-spy and list each chapter's top functions "
            "(_build/profile/<profile>/); publish: the built book of --profile to --branch of "
            "--remote (ghp-import); plan: every training run and grid task of each chapter, "
            "deduplicated, with predicted costs"
        ),
    )
    ap.add_argument(
        "--profile", default="paper", help="results/<profile>, _build/executed/<profile>"
    )
    ap.add_argument("--chapter", choices=chapters(), help="one chapter (default: all)")
    ap.add_argument(
        "--params", type=Path, help="parameter file (default: params/<profile>/<chapter>.yaml)"
    )
    ap.add_argument(
        "--force", action="store_true", help="execute even the chapters that are up to date"
    )
    ap.add_argument("--remote", default="origin", help="publish: the git remote pushed to")
    ap.add_argument("--branch", default="gh-pages", help="publish: the branch the book lands on")
    args = ap.parse_args(argv)
    os.environ.setdefault(
        "TQDM_MININTERVAL", "5"
    )  # progress bars: a few lines in the book, not hundreds
    for var in ("IMSSA_DATA_DIR", "IMSSA_CACHE_DIR", "IMSSA_RESULTS_DIR"):  # kernels run elsewhere
        if os.environ.get(var):
            os.environ[var] = str(Path(os.environ[var]).resolve())
    root = project_root()
    try:
        if args.action == "execute":
            todo = [args.chapter] if args.chapter else chapters()
            files = {c: args.params or root / "params" / args.profile / f"{c}.yaml" for c in todo}
            for c, f in files.items():  # validate every file before running any chapter
                chapter_values(c, f, args.profile)
            previous, start, order = previous_times(args.profile), time.perf_counter(), list(files)
            stale = [
                c
                for c, f in files.items()
                if args.force or not up_to_date(c, chapter_values(c, f, args.profile), args.profile)
            ]
            if len(todo) > 1 and stale and not args.params:  # the models stage, for a whole build
                models_stage(args.profile, stale)
            for i, (c, f) in enumerate(files.items(), 1):
                ran = args.force or not up_to_date(
                    c, chapter_values(c, f, args.profile), args.profile
                )
                t0 = time.perf_counter()
                execute(c, f, args.profile, force=args.force)
                line = progress_line(
                    i,
                    len(files),
                    c,
                    time.perf_counter() - t0 if ran else None,
                    time.perf_counter() - start,
                    order[i:],
                    previous,
                )
                print(line, flush=True)
        elif args.action == "list":
            print(
                "\n".join(
                    str((executed_dir(args.profile) / f"{c}.ipynb").relative_to(root))
                    for c in chapters()
                )
            )
        elif args.action == "plan":
            plan(args.profile)
        elif args.action == "profile":
            profile([args.chapter] if args.chapter else chapters(), args.profile, args.params)
        elif args.action == "build":
            build(args.profile)
        elif args.action == "publish":
            html = book_dir(args.profile) / "_build" / "html"
            message = f"Publish the {args.profile} book of {git_revision(root)}"
            try:
                print(publish_html(html, root, args.remote, args.branch, message))
            except ValueError as err:  # no built book: said in one line, before any git command
                print(f"error: {err}", file=sys.stderr)
                return 2
        else:
            archive(args.profile)
    except ParamsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
