from __future__ import annotations

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import ProjectContext, ProjectRule
from checker.syntax import walk

# Folders and files whose output is meant for a terminal.
SCRIPT_DIRS = frozenset({"scripts", "script", "bin", "tools", "tool", "commands", "management", "migrations",
                         "docs", "doc", "examples", "example", "samples", "benchmarks", "bench", "notebooks", "cli"})
SCRIPT_FILES = frozenset({"manage.py", "setup.py", "conftest.py", "__main__.py", "cli.py", "noxfile.py",
                          "fabfile.py", "tasks.py", "wsgi.py", "asgi.py", "gunicorn.conf.py", "gunicorn_config.py",
                          "settings.py", "conf.py", "config.py"})
CLI_MODULES = ("argparse", "click", "typer", "docopt", "fire", "optparse")
WEB_MODULES = ("flask", "fastapi", "django", "starlette", "aiohttp", "quart", "sanic", "rest_framework")
CLI_DECORATOR_WORDS = ("command", "group", "callback")
CLI_FUNCTIONS = frozenset({"main", "cli", "run", "run_cli", "entrypoint", "console", "repl", "interactive"})


class PrintLogging(ProjectRule):
    """
    ## What it does
    Finds `print()` calls in the server code of a web application (a project that declares
    routes, an application object or Django URL patterns): request handlers, services,
    repositories, background code.

    Settings modules (`settings.py`, `settings/`, `config.py`) run before logging is
    configured and are left alone too. Terminal programs are left alone: `__main__` blocks, functions named `main` or named
    for printing (`print_report`), functions that also write with `click.echo`/`secho` or
    `typer.echo`, click and typer commands, files that parse command lines (argparse, click, typer...), Django
    management commands, `scripts/`, `bin/`, `tools/`, `manage.py`, `setup.py`, migrations,
    and test code; so is `print(..., file=fh)` writing to a file. Projects that are not
    servers (libraries, command-line tools) are not checked at all.

    ## Why is this bad?
    `print` writes unstructured text to stdout with no level, no timestamp, no logger name
    and no request context: it cannot be filtered, routed or searched, it is lost when
    stdout is not collected, and under some servers it is buffered or discarded.
    `logging` (or structlog) gives levels and structure for free.

    ## Known limits
    Code paths shared by a CLI and a server module are judged by the file they live in.
    """

    slug = "print-logging"
    checklist = "Structured logging with proper log levels"
    section = Section.ARCHITECTURE
    severity = Severity.LOW
    confidence = Confidence.HIGH
    languages = ("python", "javascript", "typescript")
    summary = "`print()` used for logging in server code"
    triggers = ("print(",)
    bad = (
        Example(
            "from flask import Flask, jsonify\n\n"
            "from shop.services import checkout\n\n"
            "app = Flask(__name__)\n\n"
            "@app.post('/checkout')\n"
            "def do_checkout():\n"
            "    order = checkout.place_order()\n"
            "    print(f'order {order.id} placed')  # flagged\n"
            "    return jsonify(id=order.id), 201\n",
            path="shop/app.py",
        ),
    )
    good = (
        Example(
            "import logging\n\n"
            "from flask import Flask, jsonify\n\n"
            "from shop.services import checkout\n\n"
            "app = Flask(__name__)\n"
            "log = logging.getLogger(__name__)\n\n"
            "@app.post('/checkout')\n"
            "def do_checkout():\n"
            "    order = checkout.place_order()\n"
            "    log.info('order placed', extra={'order_id': order.id})\n"
            "    return jsonify(id=order.id), 201\n\n"
            "if __name__ == '__main__':\n"
            "    print('serving on :5000')\n"
            "    app.run()\n",
            path="shop/app.py",
        ),
    )

    def visit_Module(self, node: cst.Module) -> None:
        parts = self.ctx.path.split("/")
        self._skip = (
            self.ctx.is_test
            or any(p in SCRIPT_DIRS or p == "settings" for p in parts[:-1])
            or parts[-1] in SCRIPT_FILES
            or any(self.ctx.imported(m) for m in CLI_MODULES) and not any(self.ctx.imported(m) for m in WEB_MODULES)
            or _has_main_guard(node) and not any(self.ctx.imported(m) for m in WEB_MODULES)
        )

    def visit_Call(self, node: cst.Call) -> None:
        if self._skip or not (isinstance(node.func, cst.Name) and node.func.value == "print"):
            return
        if self.ctx.resolve(node.func) != "print":
            return  # a project's own print function
        for a in node.args:
            if a.keyword is not None and a.keyword.value == "file":
                target = self.ctx.resolve(a.value) or ""
                if target not in ("sys.stdout", "sys.stderr"):
                    return
        if self._in_terminal_code():
            return
        self.record({"function": self.ctx.scope_name()}, node)

    def _in_terminal_code(self) -> bool:
        for ancestor in self.ctx.ancestors():
            if isinstance(ancestor, cst.If) and _is_main_guard(ancestor):
                return True
            if isinstance(ancestor, cst.FunctionDef):
                name = ancestor.name.value
                if name in CLI_FUNCTIONS or "print" in name.lower() or self._echoes(ancestor):
                    return True
                for deco in ancestor.decorators:
                    expr = deco.decorator.func if isinstance(deco.decorator, cst.Call) else deco.decorator
                    name = self.ctx.resolve(expr) or ""
                    if name.split(".", 1)[0] in ("click", "typer") or name.rsplit(".", 1)[-1] in CLI_DECORATOR_WORDS:
                        return True
        return False

    def _echoes(self, func: cst.FunctionDef) -> bool:
        """Whether a function also writes to the terminal through click, typer or rich: its
        prints are terminal output too."""
        key = ("print-logging.echoes", id(func))
        if key not in self.ctx.cache:
            found = False
            ctx = self.ctx

            class _Walk(cst.CSTVisitor):
                def visit_Call(self, node: cst.Call) -> None:
                    nonlocal found
                    if (ctx.resolve(node.func) or "") in TERMINAL_WRITERS:
                        found = True

            walk(func, _Walk())
            self.ctx.cache[key] = found
        return self.ctx.cache[key]

    def check(self, project: ProjectContext) -> None:
        server = any(not project.is_test(f.path) for key in ("routes", "apps", "urlconfs") for f in project.facts(key))
        if not server:
            return
        self.checked()
        for fact in project.facts(self.slug):
            where = f" in `{fact.data['function']}`" if fact.data.get("function") else ""
            self.report_at(fact.path, fact.line, f"`print()`{where} writes unstructured text to stdout: use a "
                                                 "logger with a level (`logging.getLogger(__name__)`)")


TERMINAL_WRITERS = frozenset({"click.echo", "click.secho", "typer.echo", "typer.secho", "rich.print",
                              "sys.stdout.write", "click.style", "click.confirm", "click.prompt"})


def _is_main_guard(node: cst.If) -> bool:
    test = node.test
    return isinstance(test, cst.Comparison) and isinstance(test.left, cst.Name) and test.left.value == "__name__"


def _has_main_guard(module: cst.Module) -> bool:
    return any(isinstance(s, cst.If) and _is_main_guard(s) for s in module.body)
