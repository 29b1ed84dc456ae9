"""Architecture layers: which layer a module belongs to, and module names of files.

Layers come from ``[tool.checker.layers]``: an ordered table, outermost layer first, of
``layer name = [module globs]``::

    [tool.checker.layers]
    controllers = ["app/api/**", "app.web.*"]
    services = ["app.services"]
    repositories = ["app/repositories/**"]
    models = ["app.models", "app.schemas"]

A glob is a *path* glob when it contains ``/`` or ends in ``.py`` (gitignore-like: ``**``
spans folders, a folder matches everything below it); otherwise it is a *dotted module*
glob matched against the file's module name and every dotted suffix of it (so ``app.api``
matches ``src/app/api/x.py``): a name without wildcards matches that module and everything
under it, ``*`` matches any run of characters, dots included. When several layers match a
file, the most specific glob (the most literal characters) wins. The first layer is where
request handlers live.

Without configuration, layers come from folder and module names, the innermost name
deciding (``orders/views.py`` is a controller, ``api/models.py`` a model); a file's own
name counts only in its plural or unambiguous form (``services.py`` is a service module,
``service.py``, often a client of some external service, is not):

* controllers: controllers, routes, routers, views, viewsets, api, apis, endpoints, handlers,
  resources, blueprints
* services: services, use_cases, usecases, interactors
* repositories: repositories, repository, repos, crud, dal, dao, persistence, data_access
* models: models, entities, schemas

A folder named like a layer that itself holds folders or modules of *another* layer is a
package root (``api/services/``, ``api/models.py``), not a layer, when the whole file list
is known (project rules).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import libcst as cst

from checker.rule import Collector, dotted, glob_match

DEFAULT_LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    ("controllers", frozenset({"controllers", "controller", "routes", "routers", "router", "views", "viewsets",
                               "api", "apis", "endpoints", "handlers", "resources", "blueprints"})),
    ("services", frozenset({"services", "service", "use_cases", "usecases", "use_case", "interactors"})),
    ("repositories", frozenset({"repositories", "repository", "repos", "crud", "dal", "dao", "daos", "persistence",
                                "data_access"})),
    ("models", frozenset({"models", "model", "entities", "entity", "schemas"})),
)
# File names (without .py) that name a layer; singular words (``service.py``, ``model.py``)
# are too often something else (a client for an external service, a data class).
STEM_WORDS: dict[str, frozenset[str]] = {
    "controllers": frozenset({"controllers", "routes", "routers", "views", "viewsets", "api", "endpoints",
                              "handlers", "resources", "blueprints"}),
    "services": frozenset({"services", "use_cases", "usecases", "interactors"}),
    "repositories": frozenset({"repositories", "repository", "repos", "crud", "dal", "dao", "daos",
                               "persistence", "data_access"}),
    "models": frozenset({"models", "entities", "schemas"}),
}
REPOSITORY_WORDS = ("repositor", "repo", "crud", "dal", "dao", "persistence", "data")
SOURCE_ROOTS = ("src", "lib", "source")


def module_parts(path: str) -> list[str]:
    """``app/services/orders.py`` -> [app, services, orders]; a package's ``__init__.py``
    stands for the package."""
    parts = path.split("/")
    last = parts[-1]
    if last.endswith(".py"):
        last = last[:-3]
    parts[-1] = last
    if last == "__init__":
        parts = parts[:-1]
    return [p for p in parts if p]


def module_name(path: str) -> str:
    """The dotted module name of a file, relative to the scan root, with a leading ``src``
    folder dropped (``src/app/x.py`` -> ``app.x``)."""
    parts = module_parts(path)
    if len(parts) > 1 and parts[0] in SOURCE_ROOTS:
        parts = parts[1:]
    return ".".join(parts)


def package_of(path: str) -> list[str]:
    """The package a file's relative imports start from (path-based parts)."""
    parts = module_parts(path)
    return parts if path.endswith("__init__.py") else parts[:-1]


def absolute_import(path: str, level: int, module: str | None) -> str:
    """The absolute (path-based) module a relative import in ``path`` names."""
    base = package_of(path)
    if level > 1:
        base = base[: max(0, len(base) - (level - 1))]
    if module:
        base = base + module.split(".")
    return ".".join(base)


class ModuleIndex:
    """Maps dotted module names (and every dotted suffix of them) to project files."""

    def __init__(self, paths: Iterable[str]) -> None:
        self._by_name: dict[str, list[str]] = {}
        for path in paths:
            if not path.endswith(".py"):
                continue
            parts = module_parts(path)
            for i in range(len(parts)):
                self._by_name.setdefault(".".join(parts[i:]), []).append(path)

    def resolve(self, module: str, near: str | None = None) -> str | None:
        """The project file a dotted module name stands for, or None (third-party, stdlib).
        With several candidates, the one closest to ``near`` (a path) wins."""
        found = self._by_name.get(module)
        if not found:
            return None
        if len(found) == 1 or near is None:
            return sorted(found)[0]
        near_parts = near.split("/")

        def shared(p: str) -> int:
            n = 0
            for a, b in zip(p.split("/"), near_parts):
                if a != b:
                    break
                n += 1
            return n

        return sorted(found, key=lambda p: (-shared(p), len(p), p))[0]

    def resolve_from(self, module: str, names: Sequence[str], near: str | None = None) -> list[tuple[str, str]]:
        """For ``from module import names``: (imported name, file) for every name that is a
        submodule, else the module's own file once."""
        out: list[tuple[str, str]] = []
        for name in names:
            sub = self.resolve(f"{module}.{name}" if module else name, near)
            if sub is not None:
                out.append((name, sub))
        if len(out) < len(names):
            own = self.resolve(module, near) if module else None
            if own is not None:
                out.append(("", own))
        return out


@dataclass(frozen=True)
class Layers:
    """The layer order and how files map to layers."""

    order: tuple[str, ...]
    patterns: tuple[tuple[str, tuple[str, ...]], ...] | None  # configured globs, else None
    containers: frozenset[str] = frozenset()  # path prefixes that are package roots, not layers

    @property
    def configured(self) -> bool:
        return self.patterns is not None

    @property
    def controllers(self) -> str:
        return self.order[0]

    def index(self, layer: str) -> int:
        return self.order.index(layer)

    def layer_of(self, path: str) -> str | None:
        """The layer a file belongs to, or None."""
        if self.patterns is not None:
            return self._configured_layer(path)
        return self._default_layer(path)

    def _configured_layer(self, path: str) -> str | None:
        best: tuple[int, int, str] | None = None
        names = _dotted_suffixes(path)
        for order, (layer, globs) in enumerate(self.patterns or ()):
            for glob in globs:
                if _is_path_glob(glob):
                    hit = glob_match(path, glob)
                else:
                    hit = any(_dotted_match(name, glob) for name in names)
                if hit:
                    weight = len(glob.replace("*", "").replace("?", ""))
                    if best is None or weight > best[0]:
                        best = (weight, -order, layer)
        return best[2] if best else None

    def _default_layer(self, path: str) -> str | None:
        found = self.default_layer_and_source(path)
        return found[0] if found else None

    def default_layer_and_source(self, path: str) -> tuple[str, str] | None:
        """The inferred layer of a file and whether the file's own name (``"name"``) or a
        folder (``"folder"``) says so."""
        parts = module_parts(path)
        is_file = path.endswith(".py") and not path.endswith("__init__.py")
        for depth in range(len(parts) - 1, -1, -1):
            word = parts[depth].lower()
            own_name = is_file and depth == len(parts) - 1
            if own_name:
                layer = next((name for name, words in STEM_WORDS.items() if word in words), None)
            else:
                layer = default_layer_of_word(word)
            if layer is None:
                continue
            prefix = "/".join(parts[: depth + 1])
            if prefix in self.containers and depth < len(parts) - 1:
                continue
            return layer, "name" if own_name else "folder"
        return None

    def data_owner(self) -> str:
        """The layer that should own database access (a repository-like layer when there is
        one, else the layer below the controllers)."""
        for layer in self.order[1:]:
            if any(w in layer.lower() for w in REPOSITORY_WORDS):
                return layer
        return self.order[1] if len(self.order) > 1 else "service"


def default_layer_of_word(word: str) -> str | None:
    for layer, words in DEFAULT_LAYERS:
        if word in words:
            return layer
    return None


def _is_path_glob(glob: str) -> bool:
    return "/" in glob or glob.endswith(".py")


def _dotted_suffixes(path: str) -> list[str]:
    parts = module_parts(path)
    return [".".join(parts[i:]) for i in range(len(parts))]


def _dotted_match(name: str, glob: str) -> bool:
    glob = glob.strip()
    if not glob:
        return False
    if not any(ch in glob for ch in "*?["):
        return name == glob or name.startswith(glob + ".")
    if fnmatch.fnmatchcase(name, glob):
        return True
    # ``app.api.*`` also names the package ``app.api`` itself.
    return glob.endswith(".*") and name == glob[:-2]


def layers_from_settings(settings: Mapping[str, Any] | None, paths: Iterable[str] | None = None) -> Layers:
    """The layers for a scan: the configured table, else the defaults (with package roots
    worked out from ``paths`` when the file list is known)."""
    configured = (settings or {}).get("layers")
    if configured:
        items: list[tuple[str, tuple[str, ...]]] = []
        for layer, globs in dict(configured).items():
            if isinstance(globs, str):
                globs = [globs]
            items.append((str(layer), tuple(str(g) for g in globs or ())))
        if items:
            return Layers(tuple(layer for layer, _ in items), tuple(items))
    order = tuple(layer for layer, _ in DEFAULT_LAYERS)
    return Layers(order, None, _containers(paths) if paths is not None else frozenset())


def _containers(paths: Iterable[str]) -> frozenset[str]:
    """Layer-named folders holding folders or modules of another layer."""
    containers: set[str] = set()
    for path in paths:
        if not path.endswith(".py"):
            continue
        parts = module_parts(path)
        layers = [(i, default_layer_of_word(p.lower())) for i, p in enumerate(parts)]
        for i, layer in layers:
            if layer is None:
                continue
            for j, other in layers:
                if j > i and other is not None and other != layer:
                    containers.add("/".join(parts[: i + 1]))
                    break
    return frozenset(containers)




class Imports(Collector):
    """Facts ``imports``: every import statement of a file, as {module, names, relative,
    code}: ``module`` is absolute (relative imports resolved from the file's location, in
    path-based dotted form), ``names`` the names imported from it, ``code`` the statement."""

    name = "imports"
    triggers = ("import",)

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            name = dotted(alias.name)
            if name:
                self.record({"module": name, "names": [], "relative": False,
                             "code": self.ctx.code_of(node).strip()[:200]}, node)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        level = len(node.relative)
        module = dotted(node.module) if node.module is not None else None
        if level:
            module = absolute_import(self.ctx.path, level, module)
        if not module:
            return
        names = [] if isinstance(node.names, cst.ImportStar) else [dotted(a.name) or "" for a in node.names]
        self.record({"module": module, "names": [n for n in names if n], "relative": bool(level),
                     "code": self.ctx.code_of(node).strip()[:200]}, node)
