"""The built ci book opened in headless Chromium, page by page (``make browser``, after the ci
chapters are executed): its title, every image loaded, math rendered (no raw ``\\(`` or ``$$`` left
in the text), no Markdown table left as raw text and no error output. Screenshots go to
``_build/screenshots/`` (ignored)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "book" / "ci" / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PROBE = (
    "<script>window.addEventListener('load', () => setTimeout(() => "
    "document.body.setAttribute('data-broken', [...document.images].filter(i => !i.complete || "
    "i.naturalWidth === 0).length), 500));</script>"
)

pytestmark = pytest.mark.browser


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("Chromium is not installed: apt-get install chromium (.ci/run does)")
    return exe


@pytest.fixture(scope="module")
def pages() -> list[Path]:
    """Build the ci book from the executed notebooks (no execution) and list its chapter pages."""
    subprocess.run(
        [sys.executable, "-m", "imssa.study.runner", "build", "--profile", "ci"],
        cwd=ROOT,
        check=True,
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    found = sorted(
        p
        for p in HTML.glob("*.html")
        if p.stem not in ("genindex", "search") and "</body>" in p.read_text()
    )  # index.html only redirects
    assert found, f"no pages built in {HTML}"
    return found


def _render(exe: str, page: Path) -> str:
    probe = page.with_name(f"_probe_{page.name}")
    probe.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    try:
        out = subprocess.run(
            [exe, *FLAGS, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
        subprocess.run(
            [
                exe,
                *FLAGS,
                "--virtual-time-budget=10000",
                "--window-size=1200,1600",
                f"--screenshot={SHOTS / (page.stem + '.png')}",
                page.as_uri(),
            ],
            capture_output=True,
            timeout=120,
            check=True,
        )
    finally:
        probe.unlink()
    return out


def test_every_page_renders(pages):
    exe = _chromium()
    for page in pages:
        dom = _render(exe, page)
        title = re.search(r"<title>(.*?)</title>", dom, re.S)
        assert title and title.group(1).strip(), f"{page.name}: no title"
        broken = re.search(r'data-broken="(\d+)"', dom)
        assert broken is not None, f"{page.name}: the image probe did not run"
        assert broken.group(1) == "0", f"{page.name}: {broken.group(1)} image(s) did not load"
        text = re.sub(r"<(script|style)\b.*?</\1>", "", dom, flags=re.S)
        text = re.sub(r"<[^>]+>", " ", text)
        assert "\\(" not in text and "$$" not in text, f"{page.name}: raw math left in the text"
        assert "Traceback" not in text and 'class="output stderr"' not in dom, (
            f"{page.name}: error output"
        )
        # a pipe table rendered as a paragraph: its |---| rule turned into an em dash (code cells
        # keep ---)
        assert not re.search(r"\|\s*—\s*\|", text), (
            f"{page.name}: a Markdown table left as raw text"
        )
        if "\\(" in page.read_text() or "math notranslate" in page.read_text():
            assert "mjx-container" in dom, f"{page.name}: math not typeset"
        assert (SHOTS / (page.stem + ".png")).stat().st_size > 0


def test_every_chapter_page_offers_its_executed_notebook_and_its_tables(pages):
    from imssa.study.runner import chapters

    for chapter in chapters():
        page = HTML / f"{chapter}.html"
        html = page.read_text()
        links = re.findall(r'href="(_downloads/[^"]+)"', html)
        names = {Path(link).name for link in links}
        assert f"{chapter}.ipynb" in names, f"{page.name}: no link to its executed notebook"
        assert any(n.endswith(".csv") for n in names), f"{page.name}: no link to its tables"
        for link in links:
            assert (HTML / link).is_file(), f"{page.name}: {link} is not in the built book"
