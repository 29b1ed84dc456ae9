"""Discovery: git-aware file lists, excludes, language classification."""

from __future__ import annotations

import subprocess
from pathlib import Path

from checker.discovery import discover, language_of


def _paths(found) -> list[tuple[str, str]]:
    return [(f.relpath, f.language) for f in found.files]


def _tree(root: Path) -> None:
    for rel, text in {
        "app/main.py": "x = 1\n", "app/util.js": "let a;\n", "Dockerfile": "FROM python:3.12\n",
        ".env": "A=1\n", "config/settings.yaml": "a: 1\n", "build/gen.py": "y = 2\n",
        "node_modules/lib/index.js": "z;\n", "keys/id_rsa": "k\n", "static/app.min.js": "m\n",
    }.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / ".gitignore").write_text("build/\n")


def test_outside_git_walks_the_tree_and_honours_gitignore(tmp_path: Path) -> None:
    _tree(tmp_path)
    found = discover([tmp_path], tmp_path, exclude=["config/**"])
    assert found.tracked is None
    assert _paths(found) == [
        (".env", "dotenv"), (".gitignore", "other"), ("Dockerfile", "dockerfile"), ("app/main.py", "python"),
        ("app/util.js", "javascript"), ("keys/id_rsa", "other"), ("static/app.min.js", "other"),
    ]


def test_in_git_lists_tracked_and_untracked_not_ignored(tmp_path: Path) -> None:
    _tree(tmp_path)
    git = ["git", "-C", str(tmp_path), "-c", "user.email=a@b", "-c", "user.name=a"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "app/main.py", ".gitignore"], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    found = discover([tmp_path], tmp_path)
    assert found.tracked == {"app/main.py", ".gitignore"}
    assert ("app/util.js", "javascript") in _paths(found)  # untracked, not ignored
    assert not any(p.startswith(("build/", "node_modules/")) for p, _ in _paths(found))


def test_paths_select_part_of_the_tree(tmp_path: Path) -> None:
    _tree(tmp_path)
    found = discover([tmp_path / "app"], tmp_path)
    assert _paths(found) == [("app/main.py", "python"), ("app/util.js", "javascript")]
    missing = discover([tmp_path / "nope.py"], tmp_path)
    assert [(s.path, s.reason) for s in missing.skipped] == [("nope.py", "does not exist")]


def test_language_of() -> None:
    assert [language_of(p) for p in (
        "a.py", "b.tsx", "c.go", "Dockerfile.prod", "api.dockerfile", ".env.local", "prod.env", "x.cfg",
        "y.toml", "z.json", "w.yml", "README.md",
    )] == ["python", "typescript", "go", "dockerfile", "dockerfile", "dotenv", "dotenv", "ini", "toml", "json",
           "yaml", "other"]


def test_a_folder_the_enclosing_repository_ignores_is_walked(tmp_path: Path) -> None:
    subprocess.run(["git", "-C", str(tmp_path), "init", "-q"], check=True)
    (tmp_path / ".gitignore").write_text("vendor/\n")
    (tmp_path / "vendor" / "lib").mkdir(parents=True)
    (tmp_path / "vendor" / "lib" / "a.py").write_text("x = 1\n")
    found = discover([tmp_path / "vendor"], tmp_path / "vendor")
    assert found.tracked is None
    assert _paths(found) == [("lib/a.py", "python")]
