from __future__ import annotations

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import FileRule
from rules._shared.web import arg, current_handler

CONTAINER_CALLS = frozenset({"dict", "list", "set", "collections.defaultdict", "collections.OrderedDict",
                             "collections.Counter", "collections.deque", "weakref.WeakValueDictionary"})
WEAK = frozenset({"weakref.WeakValueDictionary", "weakref.WeakKeyDictionary", "weakref.WeakSet"})
GROW_METHODS = frozenset({"append", "add", "setdefault", "update", "extend", "insert", "appendleft", "extendleft"})
EVICT_METHODS = frozenset({"pop", "popitem", "clear", "remove", "discard", "popleft", "pop_item", "expire"})
CACHE_DECORATORS = frozenset({"functools.lru_cache", "functools.cache", "lru_cache", "cache"})


def _literal(node: cst.BaseExpression) -> bool:
    return isinstance(node, (cst.SimpleString, cst.Integer, cst.Float, cst.ConcatenatedString)) or \
        isinstance(node, cst.Name) and node.value in ("None", "True", "False")


class UnboundedMemoryGrowth(FileRule):
    """
    ## What it does
    Finds memory that grows with traffic and is never given back:

    * a module-level dict, list or set that request handlers (or module functions they
      call) add to, `CACHE[key] = ...`, `.append()`, `.add()`, `.setdefault()`, with keys
      that are not constants, when nothing in the module ever removes entries (`pop`,
      `del`, `clear`, a size check);
    * `functools.lru_cache`/`functools.cache` on a method: the cache keeps `self` and
      every argument alive for the life of the process;
    * an unbounded cache (`functools.cache`, `lru_cache(maxsize=None)`) on a function that
      handlers call with request data, so every distinct request adds an entry forever.

    ## Why is this bad?
    A web process lives for days. Anything it keeps per request, user or URL accumulates
    until the process is killed for using too much memory, typically at peak traffic.
    With several workers each holds its own copy, so such a "cache" is also inconsistent.

    ## Known limits
    Growth in functions of other modules, and containers kept on objects (`self.items`),
    are not followed. `deque(maxlen=...)`, `cachetools` caches and weak containers are
    bounded and not reported. Test code is not checked.
    """

    slug = "unbounded-memory-growth"
    checklist = "Memory leaks checked and prevented"
    section = Section.PERFORMANCE
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    summary = "Memory grows with every request and is never released"
    triggers = ("cache", "append", "add(", "setdefault", "] =", "update(", "lru_cache", "extend(")
    bad = (
        Example(
            "from flask import Flask, request\n\n"
            "app = Flask(__name__)\n"
            "SEEN = {}\n\n"
            "@app.post('/events')\n"
            "def events():\n"
            "    SEEN[request.json['id']] = request.json  # flagged\n"
            "    return {'stored': len(SEEN)}\n",
            path="app.py",
        ),
        Example(
            "import functools\n\n"
            "class PriceService:\n"
            "    @functools.lru_cache(maxsize=256)  # flagged\n"
            "    def price(self, sku):\n"
            "        return self.client.lookup(sku)\n",
            path="prices.py",
        ),
    )
    good = (
        Example(
            "from cachetools import TTLCache\n"
            "from flask import Flask, request\n\n"
            "app = Flask(__name__)\n"
            "SEEN = TTLCache(maxsize=10_000, ttl=300)\n"
            "STATS = {}\n\n"
            "@app.post('/events')\n"
            "def events():\n"
            "    SEEN[request.json['id']] = request.json\n"
            "    STATS['last'] = request.json['id']\n"
            "    return {'stored': len(SEEN)}\n",
            path="app.py",
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.containers: dict[str, int] = {}  # module-level container name -> line
        self.growth: list[tuple[str, cst.CSTNode, str]] = []  # (container, node, function)
        self.evicted: set[str] = set()
        self.handlers: set[str] = set()
        self.called_from_handlers: set[str] = set()
        self.unbounded_cached: dict[str, cst.Decorator] = {}
        self.cached_calls: set[str] = set()
        self.func_stack: list[tuple[cst.FunctionDef, bool]] = []

    # -- module-level containers -------------------------------------------------------------
    def visit_Module(self, node: cst.Module) -> None:
        for stmt in node.body:
            if not isinstance(stmt, cst.SimpleStatementLine):
                continue
            for small in stmt.body:
                target, value = None, None
                if isinstance(small, cst.Assign) and len(small.targets) == 1:
                    target, value = small.targets[0].target, small.value
                elif isinstance(small, cst.AnnAssign) and small.value is not None:
                    target, value = small.target, small.value
                if isinstance(target, cst.Name) and value is not None and self._container(value):
                    self.containers[target.value] = 0

    def _container(self, value: cst.BaseExpression) -> bool:
        if isinstance(value, (cst.Dict, cst.List, cst.Set)) and not value.elements:
            return True
        if isinstance(value, (cst.Dict, cst.List, cst.Set)):
            return False  # a literal table of constants
        if isinstance(value, cst.Call):
            name = self.ctx.resolve(value.func) or ""
            if name in WEAK:
                return False
            if name == "collections.deque":
                return arg(value, keyword="maxlen") is None and arg(value, 1) is None
            return name in CONTAINER_CALLS and not value.args or name in ("collections.defaultdict", "collections.Counter",
                                                                           "collections.OrderedDict")
        return False

    # -- functions ---------------------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        handler = None if self.ctx.is_test else current_handler(self.ctx, node)
        self.func_stack.append((node, handler is not None))
        if handler is not None:
            self.handlers.add(node.name.value)
        in_class = self.ctx.enclosing_class() is not None and not any(
            isinstance(a, cst.FunctionDef) for a in self.ctx.ancestors())
        for deco in node.decorators:
            expr = deco.decorator
            call = expr if isinstance(expr, cst.Call) else None
            name = self.ctx.resolve(call.func if call else expr) or ""
            if name not in CACHE_DECORATORS:
                continue
            if name.endswith("lru_cache") and call is None and not isinstance(expr, cst.Call):
                call = None
            self.checked()
            decorators = {self.ctx.resolve(d.decorator) or "" for d in node.decorators}
            static = any(d.endswith(("staticmethod", "classmethod")) for d in decorators)
            params = [p.name.value for p in node.params.params]
            if in_class and not static and params and params[0] == "self" and not self.ctx.is_test:
                self.report(deco, f"`@{name.rsplit('.', 1)[-1]}` on method `{node.name.value}` keeps every `self` it "
                                  "was called on (and all arguments) alive for the life of the process; cache on a "
                                  "module-level function, use `functools.cached_property`, or a per-instance cache")
                continue
            unbounded = name.endswith(".cache") or name == "cache" or (
                call is not None and isinstance(arg(call, 0) or arg(call, keyword="maxsize"), cst.Name)
                and (arg(call, 0) or arg(call, keyword="maxsize")).value == "None")
            if unbounded and not in_class:
                self.unbounded_cached[node.name.value] = deco

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.func_stack.pop()

    def _current(self) -> tuple[cst.FunctionDef, bool] | None:
        return self.func_stack[-1] if self.func_stack else None

    def visit_Global(self, node: cst.Global) -> None:
        pass

    def visit_Call(self, node: cst.Call) -> None:
        current = self._current()
        if current is None:
            return
        func, in_handler = current
        if in_handler and isinstance(node.func, cst.Name):
            self.called_from_handlers.add(node.func.value)
            if node.func.value in self.unbounded_cached and any(not _literal(a.value) for a in node.args):
                self.cached_calls.add(node.func.value)
        if not isinstance(node.func, cst.Attribute):
            return
        method = node.func.attr.value
        owner = self._container_name(node.func.value)
        if owner is None:
            return
        if method in EVICT_METHODS:
            self.evicted.add(owner)
        elif method in GROW_METHODS:
            if method == "setdefault" and node.args and _literal(node.args[0].value):
                return
            self.growth.append((owner, node, func.name.value))

    def _container_name(self, node: cst.BaseExpression) -> str | None:
        """``CACHE`` for ``CACHE`` and ``CACHE[key]`` (a container of containers)."""
        while isinstance(node, cst.Subscript):
            node = node.value
        if isinstance(node, cst.Name) and node.value in self.containers:
            return node.value
        return None

    def visit_Assign(self, node: cst.Assign) -> None:
        current = self._current()
        for t in node.targets:
            target = t.target
            if isinstance(target, cst.Subscript) and current is not None:
                owner = self._container_name(target.value)
                key = target.slice[0].slice if target.slice else None
                if owner is not None and not (isinstance(key, cst.Index) and _literal(key.value)):
                    self.growth.append((owner, node, current[0].name.value))
            elif isinstance(target, cst.Name) and current is not None and target.value in self.containers:
                self.evicted.add(target.value)  # rebinding (with ``global``) resets it

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        current = self._current()
        if current is not None and isinstance(node.target, cst.Name) and node.target.value in self.containers:
            self.growth.append((node.target.value, node, current[0].name.value))

    def visit_Del(self, node: cst.Del) -> None:
        owner = self._container_name(node.target)
        if owner is not None:
            self.evicted.add(owner)

    def visit_Comparison(self, node: cst.Comparison) -> None:
        # ``if len(CACHE) > LIMIT:`` -- a size check is eviction logic.
        left = node.left
        if isinstance(left, cst.Call) and isinstance(left.func, cst.Name) and left.func.value == "len" and left.args:
            owner = self._container_name(left.args[0].value)
            if owner is not None and any(isinstance(c.operator, (cst.GreaterThan, cst.GreaterThanEqual))
                                         for c in node.comparisons):
                self.evicted.add(owner)

    def leave_Module(self, node: cst.Module) -> None:
        if self.ctx.is_test:
            return
        growing_funcs = self.handlers | (self.called_from_handlers - self.handlers)
        seen: set[str] = set()
        for owner, site, func in self.growth:
            if func not in growing_funcs:
                continue
            self.checked()
            if owner in self.evicted or owner in seen:
                continue
            seen.add(owner)
            where = "a request handler" if func in self.handlers else f"`{func}()`, which request handlers call,"
            self.report(site, f"module-level `{owner}` grows in {where} on every request and nothing ever removes "
                              "entries: use a bounded cache (`cachetools.TTLCache`/`LRUCache`, Redis) or evict entries")
        for name in sorted(self.cached_calls):
            deco = self.unbounded_cached[name]
            self.report(deco, f"`{name}` has an unbounded cache and request handlers call it with request data: "
                              "every distinct argument stays in memory forever; set `maxsize=`")
