from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import ProjectContext, ProjectRule
from rules._shared.layers import ModuleIndex, layers_from_settings, module_name
from rules._shared.web import handlers_in_module

MANIFESTS = ("pyproject.toml", "setup.py", "setup.cfg", "requirements.txt", "Pipfile", "manage.py",
             "requirements/base.txt", "requirements/prod.txt", "poetry.lock")
COVERAGE_FILES = ("coverage.xml", "cobertura.xml", "lcov.info", "coverage.lcov")
GENERIC_WORDS = frozenset({"index", "list", "detail", "create", "update", "delete", "get", "post", "put", "patch",
                           "main", "app", "view", "views", "home", "health", "healthz", "ping", "status", "search",
                           "service", "services", "router", "routes", "setup", "init", "config", "settings", "base",
                           "utils", "helpers", "models", "schemas", "api", "handler", "handlers", "save", "load",
                           "run", "start", "stop", "login", "logout", "register", "show", "edit", "new", "root"})
TEST_DEFINITION = re.compile(r"^\s*(?:async\s+)?def\s+test", re.MULTILINE)
PATH_PARAM = re.compile(r"<[^>]+>|\{[^}]+\}|:[A-Za-z_]\w*|\(\?P<[^>]+>[^)]*\)")
STRING = re.compile(r"""(?:[rbuf]{0,2})(['"])(/[^'"\s]{0,200}|[A-Za-z][\w:.\-]{2,80})\1""")


def _route_regex(path: str) -> re.Pattern[str] | None:
    """A regex matching concrete URLs of a route (``/orders/<int:id>`` -> ``/orders/[^/]+``)
    anchored at the end; None when the route has no literal segment."""
    path = path.strip().lstrip("^").rstrip("$")
    literal = [s for s in PATH_PARAM.sub("", path).split("/") if s]
    if not literal:
        return None
    parts = [re.escape(p) for p in PATH_PARAM.split(path)]
    pattern = "[^/?#]+".join(parts).strip("/")
    return re.compile(r"(?:^|/)" + pattern + r"/?(?:[?#].*)?$")


class MissingTests(ProjectRule):
    """
    ## What it does
    Looks at the test suite as a whole:

    * a project (with a `pyproject.toml`, `setup.py`, `requirements.txt` or `manage.py`)
      that has Python code and no test files at all;
    * request-handler modules and service modules (by layer) that no test imports, names
      (a public function or class name of a service module appearing in a test; handler
      modules count only when imported or requested), or reaches through a route
      (a test requesting one of the module's URL paths or URL names, e.g. `client.get(
      "/orders/1")` or `reverse("order-detail")`), directly or through a tested module
      that imports them;
    * where a coverage report is present (`coverage.xml` in Cobertura format, or
      `lcov.info`), handler and service files whose line coverage is below the
      `min-coverage` option (default 50 %): the report's figure replaces the guess.

    ## Why is this bad?
    Handlers and services hold the business rules; code that no test touches breaks
    unnoticed, and refactoring it is guesswork. A missing suite means every change is
    verified by hand, or not at all.

    ## Known limits
    Test helpers shipped without tests (a distribution's `test/` package of factories) are
    taken to mean the suite lives elsewhere: nothing is reported. Without a coverage report, "tested" means "imported, named or requested by some test",
    not "exercised": the rule finds untested modules, not untested branches.
    """

    slug = "missing-tests"
    checklist = "Tests cover critical business logic"
    section = Section.ARCHITECTURE
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    languages = ("python", "javascript", "typescript")
    summary = "No tests, or handler/service modules no test touches"
    options = {"min-coverage": 50}
    bad = (
        Example(
            "import os  # flagged\n"
            "import sys\n\n\n"
            "def main():\n"
            "    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'shop.settings')\n"
            "    from django.core.management import execute_from_command_line\n"
            "    execute_from_command_line(sys.argv)\n",
            path="manage.py",
        ),
    )
    good = (
        Example(
            "import argparse\n\n"
            "def main():\n"
            "    parser = argparse.ArgumentParser()\n"
            "    parser.add_argument('path')\n"
            "    print(parser.parse_args().path)\n",
            path="tool.py",
        ),
    )

    def visit_Module(self, node: cst.Module) -> None:
        if self.ctx.is_test:
            return
        layers = layers_from_settings(self.ctx.settings)
        layer = layers.layer_of(self.ctx.path)
        handlers = handlers_in_module(self.ctx)
        defs: list[tuple[str, cst.CSTNode]] = []
        for stmt in node.body:
            if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                defs.append((stmt.name.value, stmt))
        if not defs:
            return
        kind = "handlers" if handlers else "services" if layer == "services" and layer != layers.controllers else None
        first = handlers[0].func.name if handlers else defs[0][1].name
        names = [h.name for h in handlers] + sorted({h.cls.name.value for h in handlers if h.cls is not None})
        self.record({"kind": kind, "defs": [n for n, _ in defs if not n.startswith("_")][:200],
                     "handlers": names[:200]}, first)

    def check(self, project: ProjectContext) -> None:
        python = [f.path for f in project.files if f.language == "python"]
        tests = [p for p in python if project.is_test(p)]
        modules = {f.path: f for f in project.facts(self.slug) if not project.is_test(f.path)}
        if not modules:
            return
        if not tests:
            manifest = next((p for m in MANIFESTS for p in sorted(f.path for f in project.files)
                             if p == m or p.endswith("/" + m) and p.count("/") <= 1), None)
            if manifest is None:
                return
            self.checked()
            self.report_at(manifest, 1, f"the project has {len(modules)} Python module(s) with code and no tests at all: "
                                        "add a test suite (pytest) covering the business logic first",
                           severity=Severity.HIGH, confidence=Confidence.HIGH)
            return
        if not any(TEST_DEFINITION.search(project.read_text(p) or "") for p in tests):
            # Test helpers (factories, base test cases) without a single test: the suite
            # lives outside the scanned tree (a distribution that ships its test utilities).
            return
        targets = {path: f for path, f in modules.items() if f.data.get("kind")}
        if not targets:
            return
        self.checked(len(targets))
        coverage = self._coverage(project)
        covered = self._covered(project, python, tests, targets)
        min_cov = float(self.opts["min-coverage"])
        for path, fact in sorted(targets.items()):
            label = "handler" if fact.data["kind"] == "handlers" else "service"
            figure = _lookup_coverage(coverage, path)
            if figure is not None:
                if figure * 100 < min_cov:
                    self.report_at(path, fact.line, f"{label} module `{module_name(path)}` has {figure:.0%} line coverage "
                                                    f"in the coverage report (minimum {min_cov:.0f} %)",
                                   confidence=Confidence.HIGH)
                continue
            if path not in covered:
                self.report_at(path, fact.line, f"{label} module `{module_name(path)}` is not imported, named or "
                                                "requested by any test: add tests for its behaviour")

    def _covered(self, project: ProjectContext, python: list[str], tests: list[str], targets: dict) -> set[str]:
        index = ModuleIndex(python)
        imports: dict[str, list[dict]] = {}
        for fact in project.facts("imports"):
            imports.setdefault(fact.path, []).append(fact.data)
        covered: set[str] = set()
        test_set = set(tests)
        # Imported by a test.
        for path in tests:
            for data in imports.get(path, ()):
                for _, target in index.resolve_from(data["module"], data.get("names", []), near=path) \
                        if data.get("names") else [("", t) for t in [index.resolve(data["module"], near=path)] if t]:
                    covered.add(target)
        # Named by a test, or requested through one of its routes / URL names.
        words: set[str] = set()
        strings: list[str] = []
        for path in tests:
            text = project.read_text(path) or ""
            words.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
            strings.extend(m.group(2) for m in STRING.finditer(text))
            strings.extend(re.sub(r"\{[^}]*\}", "x", m.group(1)) for m in re.finditer(r"""f['"](/[^'"]*)['"]""", text))
        prefixes: dict[tuple[str, str], str] = {}
        for fact in project.facts("routers"):
            if fact.data.get("name") and fact.data.get("prefix"):
                prefixes[(fact.path, fact.data["name"])] = fact.data["prefix"]
        routes_by_handler: dict[str, list[tuple[str, str | None]]] = {}
        for fact in project.facts("routes"):
            name = fact.data.get("handler")
            if name:
                route = fact.data.get("path") or ""
                prefix = prefixes.get((fact.path, fact.data.get("owner") or ""))
                if prefix:
                    route = prefix.rstrip("/") + "/" + route.lstrip("/") if route else prefix
                entry = (route, fact.data.get("name"))
                routes_by_handler.setdefault(f"{fact.path}:{name}", []).append(entry)
                routes_by_handler.setdefault(name, []).append(entry)
        url_strings = [s for s in strings if s.startswith("/")]
        name_strings = set(s for s in strings if not s.startswith("/"))
        for path, fact in targets.items():
            if path in covered or path in test_set:
                continue
            # Service functions are called by name; handlers are reached through requests
            # (a handler's name in a test is usually the service function it wraps).
            names = [n for n in fact.data.get("defs", []) if n not in GENERIC_WORDS and len(n) >= 4]
            if fact.data.get("kind") != "handlers" and any(n in words for n in names):
                covered.add(path)
                continue
            for handler in fact.data.get("handlers", []):
                hit = False
                for route, url_name in routes_by_handler.get(f"{path}:{handler}") or routes_by_handler.get(handler, ()):
                    if url_name and url_name in name_strings:
                        hit = True
                        break
                    regex = _route_regex("/" + route.lstrip("/")) if route is not None else None
                    if regex is not None and any(regex.search(s) for s in url_strings):
                        hit = True
                        break
                if hit:
                    covered.add(path)
                    break
        # Modules imported by tested modules are exercised through them; handler modules are
        # not: importing the application wires every router without testing any route.
        handler_modules = {path for path, fact in targets.items() if fact.data.get("kind") == "handlers"}
        changed = True
        while changed:
            changed = False
            for path in list(covered):
                for data in imports.get(path, ()):
                    for _, target in index.resolve_from(data["module"], data.get("names", []), near=path) \
                            if data.get("names") else [("", t) for t in [index.resolve(data["module"], near=path)] if t]:
                        if target not in covered and target not in handler_modules:
                            covered.add(target)
                            changed = True
        return covered

    def _coverage(self, project: ProjectContext) -> dict[str, float]:
        figures: dict[str, float] = {}
        for f in project.files:
            base = f.path.rsplit("/", 1)[-1]
            if base not in COVERAGE_FILES:
                continue
            text = project.read_text(f.path) or ""
            if base.endswith(".xml"):
                figures.update(_cobertura(text))
            else:
                figures.update(_lcov(text))
        return figures


def _cobertura(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return out
    sources = [s.text.strip().rstrip("/") for s in root.iter("source") if s.text]
    for cls in root.iter("class"):
        name, rate = cls.get("filename"), cls.get("line-rate")
        if not name or rate is None:
            continue
        try:
            value = float(rate)
        except ValueError:
            continue
        out[name.replace("\\", "/")] = value
        for source in sources:
            out.setdefault(f"{source}/{name}".replace("\\", "/"), value)
    return out


def _lcov(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    current, found, hit = None, 0, 0
    for line in text.splitlines():
        if line.startswith("SF:"):
            current, found, hit = line[3:].strip().replace("\\", "/"), 0, 0
        elif line.startswith("LF:"):
            found = int(line[3:] or 0)
        elif line.startswith("LH:"):
            hit = int(line[3:] or 0)
        elif line.strip() == "end_of_record" and current:
            out[current] = hit / found if found else 1.0
            current = None
    return out


def _lookup_coverage(figures: dict[str, float], path: str) -> float | None:
    if not figures:
        return None
    if path in figures:
        return figures[path]
    for name, value in figures.items():
        if name.endswith("/" + path) or path.endswith("/" + name):
            return value
    return None
