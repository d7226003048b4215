"""Publishing: the built HTML lands on the gh-pages branch of a remote (a local bare repository)."""

import subprocess

import pytest

from imssa.study.publish import publish_html


def git(*args, cwd):
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A repository with one commit whose ``origin`` is a bare repository beside it."""
    for var, value in {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
                       "GIT_COMMITTER_EMAIL": "t@x"}.items():  # fmt: skip
        monkeypatch.setenv(var, value)
    remote, work = tmp_path / "remote.git", tmp_path / "work"
    git("init", "-q", "--bare", str(remote), cwd=tmp_path)
    git("init", "-q", str(work), cwd=tmp_path)
    (work / "README.md").write_text("source\n")
    git("add", "README.md", cwd=work)
    git("commit", "-q", "-m", "source", cwd=work)
    git("remote", "add", "origin", str(remote), cwd=work)
    return work, remote


def book(tmp_path, text):
    html = tmp_path / "html"
    (html / "_static").mkdir(parents=True, exist_ok=True)
    (html / "index.html").write_text(text)
    (html / "_static" / "style.css").write_text("body {}\n")
    return html


def test_the_built_book_is_pushed_to_the_remote_gh_pages_branch(tmp_path, checkout):
    work, remote = checkout
    first = publish_html(book(tmp_path, "<p>one</p>"), work, message="book one")
    assert git("show", "gh-pages:index.html", cwd=remote) == "<p>one</p>"
    assert git("show", "gh-pages:_static/style.css", cwd=remote) == "body {}\n"
    assert git("show", "gh-pages:.nojekyll", cwd=remote) == ""  # GitHub Pages serves _static/
    assert git("rev-parse", "gh-pages", cwd=remote).strip() == first
    second = publish_html(book(tmp_path, "<p>two</p>"), work, message="book two")
    assert git("show", "gh-pages:index.html", cwd=remote) == "<p>two</p>"
    assert git("rev-parse", f"{second}~1", cwd=remote).strip() == first  # history kept
    assert (
        git("rev-parse", "--abbrev-ref", "HEAD", cwd=work).strip() != "gh-pages"
    )  # source untouched
    assert (work / "README.md").read_text() == "source\n"


def test_publishing_refuses_a_missing_book_or_repository_before_any_git_command(tmp_path, checkout):
    work, remote = checkout
    with pytest.raises(ValueError, match=r"no built book at .*index\.html missing"):
        publish_html(tmp_path / "nothing", work)
    with pytest.raises(ValueError, match=r"is not a git repository"):
        publish_html(book(tmp_path, "x"), tmp_path / "html")
    assert git("branch", "--list", "gh-pages", cwd=remote) == ""


def test_the_runner_refuses_to_publish_a_profile_it_has_not_built(capsys):
    from imssa.study.runner import main

    assert main(["publish", "--profile", "no_such_profile"]) == 2
    assert "no built book at" in capsys.readouterr().err
