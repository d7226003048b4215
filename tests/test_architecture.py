"""The library's layers: each imports only the layers below it (and itself), never upward."""

import ast
from pathlib import Path

import imssa

ROOT = Path(imssa.__file__).parent
LAYERS = {
    "compute_device": 0,
    "ledger": 0,
    "schema": 0,
    "seeds": 0,
    "stats": 0,
    "data": 1,
    "model": 2,
    "hardware": 3,
    "study": 4,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """The imssa modules a file imports (relative imports resolved)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("imssa"):
                out.add(target)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("imssa")}
    return out


def layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:
        return -1  # the package itself
    return LAYERS[parts[1]]


def test_every_module_sits_in_a_layer_and_no_import_goes_upward():
    files = sorted(ROOT.rglob("*.py"))
    top = {p.stem for p in files if p.parent == ROOT} - {"__init__"}
    assert top == {"compute_device", "ledger", "schema", "seeds"}, (
        "only the foundation lives at the top level"
    )
    assert {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").is_file()} == {
        "data",
        "model",
        "hardware",
        "study",
        "stats",
    }
    upward = []
    for path in files:
        name = module_name(path)
        if name == "imssa":
            continue
        for target in imported(path):
            if layer(target) > layer(name) or (
                layer(name) == 0 and target.split(".")[1] != name.split(".")[1]
            ):
                upward.append(f"{name} imports {target}")
    assert not upward, upward


def test_the_layer_check_sees_relative_imports():
    deploy = ROOT / "hardware" / "deploy.py"
    assert {"imssa.model.train", "imssa.hardware.analog", "imssa.seeds"} <= imported(deploy)
