from __future__ import annotations

import re

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import FileRule
from rules._shared.secrets import name_words
from rules._shared.web import APP_CONSTRUCTORS, arg, string_value

# Path and class-name words that mark development, test or example configuration.
NON_PRODUCTION_WORDS = frozenset({"dev", "development", "develop", "local", "test", "tests", "testing", "ci",
                                  "debug", "example", "examples", "sample", "samples", "demo", "demos", "sandbox",
                                  "docs", "tutorial", "tutorials", "playground", "scratch"})
SETTINGS_FOLDERS = frozenset({"settings", "config", "configs", "conf", "configuration"})
SETTINGS_FILES = re.compile(r"^(?:settings|config|configuration|production|prod|staging|base|common|defaults?)\.py$")
APP_FRAMEWORKS = ("flask", "quart", "flask_socketio", "sanic", "bottle", "werkzeug")
DEBUG_CONSTRUCTORS = frozenset({"fastapi.FastAPI", "starlette.applications.Starlette", "aiohttp.web.Application",
                                "starlette.Starlette", "sanic.Sanic"})
DEBUG_RUNNERS = frozenset({"uvicorn.run", "bottle.run", "werkzeug.serving.run_simple", "werkzeug.run_simple"})
ENV_DEFAULT_READERS = ("bool", "env", "config", "get", "getenv")


def _true(node: cst.BaseExpression | None) -> bool:
    if isinstance(node, cst.Name):
        return node.value == "True"
    if isinstance(node, cst.Integer):
        return node.value == "1"
    return False


def _words(text: str) -> set[str]:
    return {w for part in re.split(r"[/._\-]", text) for w in name_words(part)}


def is_non_production_path(path: str) -> bool:
    """``settings/dev.py``, ``local_settings.py``, ``settings_test.py``, ``examples/app.py``,
    ``testutils/settings.py``..."""
    lower = path.lower()
    return bool(_words(lower) & NON_PRODUCTION_WORDS) or any(
        part.startswith("test") for part in re.split(r"[/._\-]", lower))


def is_settings_module(path: str) -> bool:
    parts = path.split("/")
    base = parts[-1]
    return bool(SETTINGS_FILES.match(base)) and (base != "base.py" and base != "common.py" or
                                                  any(p in SETTINGS_FOLDERS for p in parts[:-1])) \
        or base.endswith(("_settings.py", "_config.py")) or base.startswith("settings_") \
        or any(p in SETTINGS_FOLDERS for p in parts[:-1])


class DebugEnabled(FileRule):
    """
    ## What it does
    Finds debug mode switched on in code that ships:
    - `app.run(debug=True)` (Flask, Quart, Flask-SocketIO, Bottle; also on an `app`
      made by a factory such as `app = create_app()`), werkzeug
      `run_simple(use_debugger=True)`, `uvicorn.run(debug=True)`;
    - `FastAPI(debug=True)`, `Starlette(debug=True)`, aiohttp `Application(debug=True)`;
    - `app.debug = True`, `app.config["DEBUG"] = True`, `app.config.update(DEBUG=True)`;
    - `DEBUG = True` in settings modules (Django `settings.py`, `settings/production.py`,
      `config.py` and config classes), and `DEBUG` read from the environment with a
      default of `True` (`env.bool("DEBUG", default=True)`).

    Development and test configuration is left alone: files and folders named `dev`,
    `development`, `local`, `test(s)`, `testing`, `ci`, `debug`, `example(s)`, `demo`
    (`settings/dev.py`, `local_settings.py`, `settings_test.py`, `examples/app.py`), and
    config classes named like them (`DevelopmentConfig`, `TestingConfig`). A plain
    `DEBUG = os.environ.get(...)` is not reported.

    `app.run(debug=True)` under `if __name__ == "__main__":` is still reported (with
    medium severity): containers are often started with `python app.py`, and the
    debugger it enables runs any code a visitor types into the error page.

    ## Why is this bad?
    Debug mode shows stack traces, settings and source code to every visitor (Django's
    yellow page lists settings; Starlette and FastAPI return tracebacks), and the
    Werkzeug debugger is a remote Python console.

    ## Known limits
    A production settings file that imports `DEBUG = True` from a base module and
    overrides it later is judged per file: the base module is reported. Test code is
    skipped.
    """

    slug = "debug-enabled"
    checklist = "Error handling without exposing internals (production configuration)"
    section = Section.SECURITY
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    languages = ("python",)
    cwe = ("CWE-489", "CWE-215")
    summary = "Debug mode is enabled"
    triggers = ("debug", "DEBUG", "use_debugger")
    bad = (
        Example(
            "from flask import Flask\n\n"
            "app = Flask(__name__)\n"
            "app.config['DEBUG'] = True  # flagged\n\n"
            "if __name__ == '__main__':\n"
            "    app.run(host='0.0.0.0', debug=True)  # flagged\n",
            path="service/app.py",
        ),
        Example(
            "from fastapi import FastAPI as API\n\n"
            "api = API(title='orders', debug=True)  # flagged\n",
            path="service/main.py",
        ),
        Example(
            "import environ\n\n"
            "env = environ.Env()\n"
            "DEBUG = True  # flagged\n"
            "TEMPLATE_DEBUG = env.bool('TEMPLATE_DEBUG', default=True)  # flagged\n",
            path="shop/settings/production.py",
        ),
    )
    good = (
        Example(
            "import os\n\n"
            "DEBUG = os.environ.get('DJANGO_DEBUG') == '1'\n",
            path="shop/settings.py",
        ),
        Example(
            "DEBUG = True\n",
            path="shop/settings/dev.py",
        ),
        Example(
            "class Config:\n"
            "    DEBUG = False\n\n"
            "class DevelopmentConfig(Config):\n"
            "    DEBUG = True\n",
            path="app/config.py",
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._off = ctx.is_test or is_non_production_path(ctx.path)
        self._settings = is_settings_module(ctx.path)

    def _in_main_guard(self) -> bool:
        for node in self.ctx.ancestors():
            if isinstance(node, cst.If) and isinstance(node.test, cst.Comparison):
                code = self.ctx.code_of(node.test)
                if "__name__" in code and "__main__" in code:
                    return True
        return False

    def _non_production_class(self) -> bool:
        for node in self.ctx.ancestors():
            if isinstance(node, cst.ClassDef) and set(name_words(node.name.value)) & NON_PRODUCTION_WORDS:
                return True
            if isinstance(node, cst.FunctionDef) and set(name_words(node.name.value)) & NON_PRODUCTION_WORDS:
                return True
        return False

    def visit_Call(self, node: cst.Call) -> None:
        if self._off:
            return
        name = self.ctx.resolve(node.func) or ""
        last = name.rsplit(".", 1)[-1]
        if name in DEBUG_CONSTRUCTORS:
            self.checked()
            if _true(arg(node, keyword="debug")):
                self.report(node, f"`{last}(debug=True)` returns tracebacks to clients")
            return
        if name in DEBUG_RUNNERS or (last == "run" and isinstance(node.func, cst.Attribute)
                                     and (any(self.ctx.imported(f) for f in APP_FRAMEWORKS)
                                          or self._app_like(node.func.value))):
            self.checked()
            for keyword in ("debug", "use_debugger", "use_evalex"):
                if _true(arg(node, keyword=keyword)):
                    guarded = self._in_main_guard()
                    shown = " ".join(self.ctx.code_of(node.func).split())
                    self.report(node, f"`{shown}({keyword}=True)` serves the interactive debugger: anyone who can "
                                      "reach an error page can run code", severity=Severity.MEDIUM if guarded else None)
                    return
            return
        if last in ("update", "from_mapping") and name.endswith(("config.update", "config.from_mapping")):
            self.checked()
            if _true(arg(node, keyword="DEBUG")):
                self.report(node, "`DEBUG=True` in the application config")
            return
        if last == "debug" and name in ("bottle.debug",) and _true(arg(node, 0)):
            self.report(node, "`bottle.debug(True)` shows tracebacks to clients")

    def visit_Assign(self, node: cst.Assign) -> None:
        if self._off:
            return
        for target in node.targets:
            t = target.target
            if isinstance(t, cst.Attribute) and t.attr.value == "debug":
                owner = self.ctx.resolve(t.value) or ""
                if owner.split(".")[0] in ("self", "cls") or not self._is_app(t.value):
                    continue
                self.checked()
                if _true(node.value):
                    self.report(node, f"`{self.ctx.code_of(t)} = True` turns on debug mode")
            elif isinstance(t, cst.Subscript) and len(t.slice) == 1 and isinstance(t.slice[0].slice, cst.Index):
                key = string_value(t.slice[0].slice.value)
                owner = self.ctx.code_of(t.value)
                if key == "DEBUG" and owner.endswith("config"):
                    self.checked()
                    if _true(node.value):
                        self.report(node, f"`{owner}['DEBUG'] = True` turns on debug mode")
            elif isinstance(t, cst.Name) and t.value in ("DEBUG", "TEMPLATE_DEBUG", "FLASK_DEBUG"):
                self._setting(node, t.value, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if not self._off and isinstance(node.target, cst.Name) and node.target.value in ("DEBUG", "debug") \
                and node.value is not None and self.ctx.enclosing_class() is not None:
            self._setting(node, node.target.value, node.value)

    def _setting(self, node: cst.CSTNode, name: str, value: cst.BaseExpression) -> None:
        if self.ctx.enclosing_function() is not None:
            return
        in_class = self.ctx.enclosing_class() is not None
        if not (self._settings or in_class and self._config_class()):
            return
        if self._non_production_class():
            return
        self.checked()
        if _true(value):
            self.report(node, f"`{name} = True` in production settings: error pages show settings and code")
            return
        default = self._env_default(value)
        if default:
            self.report(node, f"`{name}` defaults to `True` when the environment does not set it",
                        confidence=Confidence.MEDIUM)

    def _config_class(self) -> bool:
        cls = self.ctx.enclosing_class()
        if cls is None:
            return False
        words = set(name_words(cls.name.value))
        return bool(words & {"config", "settings", "configuration", "production", "prod"}) or self._settings

    def _env_default(self, value: cst.BaseExpression) -> bool:
        if not isinstance(value, cst.Call):
            return False
        name = (self.ctx.resolve(value.func) or "").rsplit(".", 1)[-1]
        if name not in ENV_DEFAULT_READERS:
            return False
        first = string_value(arg(value, 0))
        if first is None or "DEBUG" not in first.upper():
            return False
        default = arg(value, keyword="default") or arg(value, 1)
        if _true(default):
            return True
        text = string_value(default)
        return text is not None and text.strip().lower() in ("true", "1", "yes", "on")

    def _app_like(self, owner: cst.BaseExpression) -> bool:
        """``app``, ``flask_app``, ``application``: an application object, whether made
        here or by a factory (``app = create_app()``)."""
        return isinstance(owner, cst.Name) and (owner.value.lower().endswith("app")
                                                or owner.value.lower() == "application")

    def _is_app(self, owner: cst.BaseExpression) -> bool:
        if not isinstance(owner, cst.Name):
            return False
        for sub in self.ctx.module.body:
            if isinstance(sub, cst.SimpleStatementLine):
                for small in sub.body:
                    if isinstance(small, cst.Assign) and isinstance(small.value, cst.Call) and any(
                        isinstance(t.target, cst.Name) and t.target.value == owner.value for t in small.targets
                    ):
                        if (self.ctx.resolve(small.value.func) or "") in APP_CONSTRUCTORS:
                            return True
        return owner.value in ("app", "application") and any(self.ctx.imported(f) for f in APP_FRAMEWORKS)
