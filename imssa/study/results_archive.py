"""The results archive: one tarball of a profile's results tables, the parameter files used, the
installed package versions and the git revision (``python -m imssa.study.runner archive``,
``make results``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .params import ParamsError
from .results import project_root

__all__ = ["archive"]


def archive(profile: str) -> Path:
    """One archive of a profile's results: ``_build/results-<profile>.tar.gz`` holding every
    chapter's CSVs (``results/<profile>/``, checkpoints left out), the parameter files used, the
    installed package versions and the git revision (with ``-dirty`` if the tree had changes)."""
    import io
    import tarfile
    from importlib.metadata import distributions

    from .results import results_dir

    root = project_root()
    base = results_dir(profile, "_").parent
    csvs = sorted(p for p in base.rglob("*.csv") if not p.name.startswith("."))
    if not csvs:
        raise ParamsError(
            f"no results for profile {profile!r} in {base}: execute the chapters first"
        )
    versions = (
        "\n".join(sorted(f"{d.metadata['Name']}=={d.version}" for d in distributions())) + "\n"
    )
    git = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=root, capture_output=True, text=True
    )
    revision = (
        git.stdout.strip() if git.returncode == 0 else "unknown (not a git checkout)"
    ) + "\n"
    out = root / "_build" / f"results-{profile}.tar.gz"
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w:gz") as tar:
        for path in csvs:
            tar.add(path, arcname=f"results/{profile}/{path.relative_to(base)}")
        for path in sorted((root / "params" / profile).glob("*.yaml")):
            tar.add(path, arcname=f"params/{profile}/{path.name}")
        for name, text in (("versions.txt", versions), ("git_revision.txt", revision)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    print(f"results ({profile}, {len(csvs)} tables) -> {out}")
    return out
