"""Publishing the built book: the HTML of a profile committed to a ``gh-pages`` branch with
ghp-import and pushed to a remote, as Jupyter Book's guide and QuantEcon's lectures publish to
GitHub Pages.

    python -m imssa.study.runner publish --profile paper    # after `build`; make publish
"""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

__all__ = ["publish_html"]


def publish_html(
    html: Path,
    repo: Path,
    remote: str = "origin",
    branch: str = "gh-pages",
    message: str = "Publish the book",
    push: bool = True,
) -> str:
    """Commit the folder ``html`` (a built book: it must hold ``index.html``) as the whole tree of
    ``branch`` of the git repository ``repo`` (ghp-import: one commit on top of the branch's
    history, a ``.nojekyll`` so GitHub Pages serves ``_static/``), then push it to ``remote``
    where ``push``. Returns the new commit's hash. ValueError, before any git command, where the
    book or the repository is missing."""
    import ghp_import

    if not (Path(html) / "index.html").is_file():
        raise ValueError(f"no built book at {html} (index.html missing): run the runner's build")
    if not (Path(repo) / ".git").exists():
        raise ValueError(f"{repo} is not a git repository")
    with contextlib.chdir(repo):
        ghp_import.ghp_import(
            str(Path(html).resolve()), mesg=message, remote=remote, branch=branch,
            push=push, nojekyll=True,
        )  # fmt: skip
        out = subprocess.run(
            ["git", "rev-parse", branch], capture_output=True, text=True, check=True
        )
    return out.stdout.strip()
