"""What a project declares about itself: its dependencies, and which of its configuration
modules are for development or tests only.

Dependencies are read from every declaration file in the repository, never by installing or
importing anything:

* ``requirements*.txt`` / ``*requirements*.in`` and any ``.txt``/``.in`` file under a
  ``requirements/`` folder (``-e ...#egg=name`` lines included, ``-r`` includes are read as
  files of their own when they are in the repository anyway);
* ``pyproject.toml``: ``[project]`` dependencies and optional dependencies, PEP 735
  ``[dependency-groups]``, Poetry's ``[tool.poetry.*dependencies]`` and groups, PDM and uv
  development dependencies;
* ``setup.cfg``: ``install_requires`` and ``extras_require``;
* ``setup.py``: string literals of ``install_requires``/``extras_require``/``tests_require``
  (read with :mod:`ast`, never executed), including a list bound to a name first;
* ``Pipfile``: ``[packages]`` and ``[dev-packages]``.

Names are compared in their normalised form (PEP 503: lower case, runs of ``-_.`` become
``-``), so ``Flask_Limiter`` and ``flask-limiter`` are the same dependency.
"""

from __future__ import annotations

import ast
import configparser
import re
import weakref
from dataclasses import dataclass
from typing import Iterable

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from checker.rule import ProjectContext

_NORMALISE = re.compile(r"[-_.]+")
_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?")
_EGG = re.compile(r"#egg=([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class Dependency:
    """A declared dependency: its normalised name, where it is declared, and its extras."""

    name: str
    path: str
    line: int
    extras: tuple[str, ...] = ()


def normalise(name: str) -> str:
    return _NORMALISE.sub("-", name.strip()).lower()


def is_declaration_file(path: str) -> bool:
    """Whether ``path`` is a file this module reads dependencies from."""
    parts = path.split("/")
    name = parts[-1].lower()
    if name in ("pyproject.toml", "setup.cfg", "setup.py", "pipfile"):
        return True
    if name.endswith((".txt", ".in")) and ("requirements" in name or "requirements" in (p.lower() for p in parts[:-1])):
        return True
    return False


_CACHE: "weakref.WeakKeyDictionary[ProjectContext, dict[str, Dependency]]" = weakref.WeakKeyDictionary()


def declared(project: ProjectContext) -> dict[str, Dependency]:
    """Every dependency the repository declares, by normalised name (first declaration wins)."""
    cached = _CACHE.get(project)
    if cached is not None:
        return cached
    found: dict[str, Dependency] = {}
    for file in project.files:
        if not is_declaration_file(file.path) or file.size > 2_000_000:
            continue
        text = project.read_text(file.path)
        if not text:
            continue
        for dep in parse_declarations(file.path, text):
            found.setdefault(dep.name, dep)
    _CACHE[project] = found
    return found


def depends_on(project: ProjectContext, *names: str) -> Dependency | None:
    """The first of ``names`` the project declares, or None."""
    deps = declared(project)
    for name in names:
        dep = deps.get(normalise(name))
        if dep is not None:
            return dep
    return None


def parse_declarations(path: str, text: str) -> list[Dependency]:
    """The dependencies one declaration file names (an unparsable file names none)."""
    name = path.rsplit("/", 1)[-1].lower()
    try:
        if name == "pyproject.toml":
            return _from_pyproject(path, text)
        if name == "pipfile":
            return _from_pipfile(path, text)
        if name == "setup.cfg":
            return _from_setup_cfg(path, text)
        if name == "setup.py":
            return _from_setup_py(path, text)
        return _from_requirements(path, text)
    except (ValueError, SyntaxError, configparser.Error, tomllib.TOMLDecodeError, RecursionError):
        return []


def _requirement(spec: str) -> tuple[str, tuple[str, ...]] | None:
    spec = spec.strip()
    if not spec or spec.startswith(("#", "-", "git+", "http:", "https:", "file:", ".", "/")):
        egg = _EGG.search(spec)
        return (normalise(egg.group(1)), ()) if egg else None
    match = _REQ_NAME.match(spec)
    if not match:
        return None
    extras = tuple(normalise(e) for e in (match.group(2) or "[]")[1:-1].split(",") if e.strip())
    return normalise(match.group(1)), extras


def _line_of(text: str, name: str) -> int:
    pattern = re.compile(r"(?<![A-Za-z0-9])" + "[-_.]+".join(re.escape(p) for p in name.split("-")) + r"(?![A-Za-z0-9])",
                         re.IGNORECASE)
    for number, line in enumerate(text.splitlines(), 1):
        if pattern.search(line):
            return number
    return 1


def _deps(path: str, text: str, specs: Iterable[str]) -> list[Dependency]:
    out = []
    for spec in specs:
        if not isinstance(spec, str):
            continue
        parsed = _requirement(spec)
        if parsed:
            out.append(Dependency(parsed[0], path, _line_of(text, parsed[0]), parsed[1]))
    return out


def _from_requirements(path: str, text: str) -> list[Dependency]:
    out = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].strip()
        if line.startswith("-e ") or line.startswith("--editable"):
            line = line.split(None, 1)[-1]
        parsed = _requirement(line)
        if parsed:
            out.append(Dependency(parsed[0], path, number, parsed[1]))
    return out


def _from_pyproject(path: str, text: str) -> list[Dependency]:
    data = tomllib.loads(text)
    specs: list[str] = []
    project = data.get("project", {})
    specs += project.get("dependencies", []) or []
    for group in (project.get("optional-dependencies", {}) or {}).values():
        specs += group or []
    for group in (data.get("dependency-groups", {}) or {}).values():
        specs += [g for g in group or [] if isinstance(g, str)]
    tool = data.get("tool", {})
    poetry = tool.get("poetry", {})
    names: list[str] = []
    for key in ("dependencies", "dev-dependencies"):
        names += list((poetry.get(key, {}) or {}).keys())
    for group in (poetry.get("group", {}) or {}).values():
        names += list((group.get("dependencies", {}) or {}).keys())
    for group in ((tool.get("pdm", {}) or {}).get("dev-dependencies", {}) or {}).values():
        specs += group or []
    specs += (tool.get("uv", {}) or {}).get("dev-dependencies", []) or []
    out = _deps(path, text, specs)
    out += [Dependency(normalise(n), path, _line_of(text, normalise(n))) for n in names if n.lower() != "python"]
    return out


def _from_pipfile(path: str, text: str) -> list[Dependency]:
    data = tomllib.loads(text)
    names = list((data.get("packages", {}) or {}).keys()) + list((data.get("dev-packages", {}) or {}).keys())
    return [Dependency(normalise(n), path, _line_of(text, normalise(n))) for n in names]


def _from_setup_cfg(path: str, text: str) -> list[Dependency]:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read_string(text)
    specs: list[str] = []
    if parser.has_option("options", "install_requires"):
        specs += parser.get("options", "install_requires").splitlines()
    if parser.has_section("options.extras_require"):
        for _, value in parser.items("options.extras_require"):
            specs += value.splitlines()
    return _deps(path, text, (s.split(";", 1)[0] for s in specs))


def _from_setup_py(path: str, text: str) -> list[Dependency]:
    tree = ast.parse(text)
    bound: dict[str, ast.expr] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            bound[node.targets[0].id] = node.value
    specs: list[str] = []

    def strings(value: ast.expr | None, depth: int = 0) -> None:
        if value is None or depth > 3:
            return
        if isinstance(value, ast.Name) and value.id in bound:
            strings(bound[value.id], depth + 1)
            return
        for sub in ast.walk(value):
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                specs.append(sub.value)
            elif isinstance(sub, ast.Name) and sub.id in bound and sub is not value:
                strings(bound[sub.id], depth + 1)

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg in ("install_requires", "extras_require", "tests_require"):
                    value = kw.value
                    if isinstance(value, ast.Dict):
                        for v in value.values:
                            strings(v)
                    else:
                        strings(value)
    return _deps(path, text, specs)


# ---------------------------------------------------------------------------------------
# Configuration modules for development and tests

_DEV_WORDS = frozenset({"dev", "devel", "development", "local", "test", "tests", "testing", "ci", "debug",
                        "example", "examples", "sample", "demo", "sandbox", "conftest"})
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")


def words(name: str) -> list[str]:
    """``DevelopmentConfig`` -> ["development", "config"]; ``settings_local`` -> ["settings", "local"]."""
    return [w.lower() for w in _WORD_SPLIT.split(name) if w]


def is_dev_name(name: str) -> bool:
    """Whether a module, file or class name says it is for development or tests
    (``DevelopmentConfig``, ``TestingConfig``, ``settings_local``, ``dev``)."""
    return any(w in _DEV_WORDS for w in words(name))


def is_dev_config_path(path: str) -> bool:
    """Whether a path is a development/test configuration module or lives in an example
    folder: ``settings/dev.py``, ``config/local.py``, ``test_settings.py``,
    ``examples/app/settings.py``."""
    parts = path.split("/")
    stem = parts[-1].rsplit(".", 1)[0]
    return is_dev_name(stem) or any(p.lower() in _DEV_WORDS for p in parts[:-1])
