from __future__ import annotations

import re
from dataclasses import dataclass, field

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import FileRule
from checker.syntax import walk
from rules._shared.web import arg, enclosing_handler, string_value

# Callables whose arguments become the HTTP response (body, description or detail).
RESPONSE_CALLS = frozenset({
    "flask.jsonify", "flask.make_response", "flask.Response", "flask.abort", "werkzeug.wrappers.Response",
    "werkzeug.exceptions.abort", "quart.jsonify", "quart.make_response", "quart.abort",
    "django.http.HttpResponse", "django.http.JsonResponse", "django.http.HttpResponseBadRequest",
    "django.http.HttpResponseServerError", "django.http.HttpResponseForbidden", "django.http.HttpResponseNotFound",
    "django.http.response.HttpResponse", "django.http.response.JsonResponse",
    "rest_framework.response.Response",
    "fastapi.responses.JSONResponse", "fastapi.responses.PlainTextResponse", "fastapi.responses.HTMLResponse",
    "fastapi.responses.Response", "fastapi.Response", "starlette.responses.JSONResponse",
    "starlette.responses.PlainTextResponse", "starlette.responses.HTMLResponse", "starlette.responses.Response",
    "fastapi.HTTPException", "fastapi.exceptions.HTTPException", "starlette.exceptions.HTTPException",
    "aiohttp.web.json_response", "aiohttp.web.Response",
})
RESPONSE_PREFIXES = ("werkzeug.exceptions.", "aiohttp.web.HTTP", "rest_framework.exceptions.", "django.http.HttpResponse")
BROAD = frozenset({"Exception", "BaseException", "builtins.Exception", "builtins.BaseException"})
# Exception types whose text describes the server's internals.
INTERNAL_ROOTS = ("sqlalchemy", "django.db", "psycopg2", "psycopg", "pymysql", "MySQLdb", "sqlite3", "redis",
                  "requests", "httpx", "urllib3", "botocore", "boto3", "pymongo", "motor", "asyncpg", "socket",
                  "subprocess", "smtplib", "ldap", "grpc", "elasticsearch", "kombu", "celery", "aiohttp.ClientError",
                  "peewee", "tortoise", "databases", "jinja2.exceptions")
INTERNAL_NAMES = re.compile(
    r"(?:DatabaseError|OperationalError|IntegrityError|ProgrammingError|DataError|InterfaceError|InternalError|"
    r"DBAPIError|SQLAlchemyError|OSError|IOError|EnvironmentError|RuntimeError|ConnectionError|TimeoutError|"
    r"AttributeError|TypeError|NameError|ImportError|ModuleNotFoundError|RequestException|ClientError|"
    r"CalledProcessError|SMTPException|PermissionError|FileNotFoundError|ZeroDivisionError|AssertionError|"
    r"IndexError|RecursionError|MemoryError|SystemError|UnicodeError|UnicodeDecodeError|LookupError)$"
)
TRACEBACK_CALLS = frozenset({"traceback.format_exc", "traceback.format_exception", "traceback.format_tb",
                             "traceback.format_stack", "traceback.extract_tb", "sys.exc_info",
                             "traceback.format_exception_only"})
EXC_TEXT_ATTRS = frozenset({"args", "message", "msg", "strerror", "orig", "__traceback__", "statement", "params",
                            "detail", "description", "filename"})
STRINGIFY = frozenset({"str", "repr", "format", "ascii"})
ERROR_HANDLER_DECORATORS = frozenset({"errorhandler", "app_errorhandler", "exception_handler"})
SERVER_ERROR_ARG = re.compile(r"^(?:Exception|BaseException|InternalServerError|ServerError)$")


@dataclass
class _Frame:
    func: cst.CSTNode | None  # the function the frame belongs to
    names: set[str]  # exception names whose text must not reach a response
    leaked_vars: set[str] = field(default_factory=set)


class ErrorDetailsLeaked(FileRule):
    """
    ## What it does
    Finds exception details sent to the client: `str(e)`, `repr(e)`, `f"{e}"`, `e.args`,
    `traceback.format_exc()` placed in a response — `jsonify({"error": str(e)})`,
    `return str(e), 500`, `JSONResponse({"detail": str(exc)})`,
    `HTTPException(status_code=500, detail=str(e))`, `Response(traceback.format_exc())`,
    DRF `Response({"error": str(e)})`, `abort(500, str(e))` — directly or through a local
    variable, inside an `except` block or an error handler (`@app.errorhandler(Exception)`,
    `@app.exception_handler(Exception)`, Django `process_exception`).

    Only exceptions whose text describes the server are reported: broad catches (`except:`,
    `except Exception`, an error handler for `Exception` or 500), database and driver
    errors, HTTP client errors, OS and runtime errors (`OSError`, `TypeError`,
    `AttributeError`...). Tracebacks are reported wherever they are returned.

    Deliberately quiet: `ValueError`, `KeyError`, validation errors (`ValidationError` of
    marshmallow, pydantic, Django, jsonschema), `HTTPException` and the project's own
    exception classes, whose messages are written for the client; exceptions that are
    logged rather than returned; responses built only when a debug flag is on
    (`if app.debug:` / `if settings.DEBUG:`).

    ## Why is this bad?
    Exception messages and tracebacks reveal file paths, library versions, SQL statements,
    table and column names, host names and sometimes data: a map for an attacker. The client
    needs a stable error code and message; the details belong in the log.

    ## Known limits
    Messages of the project's own or third-party exception classes are trusted. Error text
    passed to a helper that builds the response in another function is not followed.
    """

    slug = "error-details-leaked"
    checklist = "Proper error handling without exposing internals"
    section = Section.SECURITY
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    languages = ("python", "javascript", "typescript")
    cwe = ("CWE-209", "CWE-497")
    summary = "Exception details are returned to the client"
    triggers = ("except", "errorhandler", "exception_handler", "traceback", "process_exception")
    bad = (
        Example(
            "from flask import Blueprint, jsonify\n"
            "from sqlalchemy.exc import SQLAlchemyError\n"
            "from .models import db, Invoice\n\n"
            "bp = Blueprint('invoices', __name__)\n\n"
            "@bp.post('/invoices/<int:invoice_id>/pay')\n"
            "def pay(invoice_id):\n"
            "    try:\n"
            "        Invoice.query.get_or_404(invoice_id).pay()\n"
            "        db.session.commit()\n"
            "    except SQLAlchemyError as exc:\n"
            "        db.session.rollback()\n"
            "        return jsonify({'error': str(exc)}), 500  # flagged\n"
            "    return jsonify({'ok': True})\n",
            path="billing/views.py",
        ),
        Example(
            "import traceback\n"
            "from fastapi import FastAPI, Request\n"
            "from fastapi.responses import PlainTextResponse\n\n"
            "app = FastAPI()\n\n"
            "@app.exception_handler(Exception)\n"
            "async def crash(request: Request, exc: Exception):\n"
            "    details = traceback.format_exc()\n"
            "    return PlainTextResponse(details, status_code=500)  # flagged\n",
            path="main.py",
        ),
    )
    good = (
        Example(
            "import logging\n"
            "from flask import Blueprint, jsonify, request\n"
            "from marshmallow import ValidationError\n"
            "from .schemas import InvoiceSchema\n\n"
            "log = logging.getLogger(__name__)\n"
            "bp = Blueprint('invoices', __name__)\n\n"
            "@bp.post('/invoices')\n"
            "def create():\n"
            "    try:\n"
            "        data = InvoiceSchema().load(request.get_json())\n"
            "    except ValidationError as err:\n"
            "        return jsonify({'errors': err.messages}), 422\n"
            "    except Exception as exc:\n"
            "        log.exception('invoice creation failed: %s', exc)\n"
            "        return jsonify({'error': 'internal error'}), 500\n"
            "    return jsonify(data), 201\n",
            path="billing/views.py",
        ),
        Example(
            "from fastapi import HTTPException\n\n"
            "def parse_quantity(raw):\n"
            "    try:\n"
            "        return int(raw)\n"
            "    except ValueError as exc:\n"
            "        raise HTTPException(status_code=400, detail=str(exc))\n",
            path="api/params.py",
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._frames: list[_Frame] = []
        self._func_leaks: dict[int, set[str]] = {}
        self._reported: set[int] = set()

    # -- where exception text is in scope ---------------------------------------------------
    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if self.ctx.is_test:
            return
        func = self.ctx.enclosing_function()
        name = node.name.name.value if node.name is not None and isinstance(node.name.name, cst.Name) else None
        names = {name} if name and self._internal(node.type) else set()
        self._frames.append(_Frame(func, names))

    def leave_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if not self.ctx.is_test and self._frames:
            self._frames.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if self.ctx.is_test:
            return
        param = self._error_handler_param(node)
        self._frames.append(_Frame(node, {param} if param else set()))

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        if not self.ctx.is_test and self._frames:
            self._frames.pop()

    def _internal(self, node: cst.BaseExpression | None) -> bool:
        if node is None:
            return True
        if isinstance(node, cst.Tuple):
            return any(self._internal(e.value) for e in node.elements)
        name = self.ctx.resolve(node) or ""
        if name in BROAD:
            return True
        if name.startswith(INTERNAL_ROOTS) and not name.endswith(("DoesNotExist", "NotFound", "ValidationError")):
            return True
        return bool(INTERNAL_NAMES.search(name.rsplit(".", 1)[-1]))

    def _error_handler_param(self, node: cst.FunctionDef) -> str | None:
        params = [p.name.value for p in node.params.params if p.name.value not in ("self", "cls")]
        if node.name.value == "process_exception" and len(params) >= 2:
            return params[1]
        for deco in node.decorators:
            expr = deco.decorator
            if not isinstance(expr, cst.Call) or not expr.args:
                continue
            last = (self.ctx.resolve(expr.func) or "").rsplit(".", 1)[-1]
            if last not in ERROR_HANDLER_DECORATORS:
                continue
            target = expr.args[0].value
            if isinstance(target, cst.Integer):
                if not target.value.startswith("5"):
                    return None
            else:
                resolved = self.ctx.resolve(target) or ""
                if not (SERVER_ERROR_ARG.match(resolved.rsplit(".", 1)[-1]) or resolved.endswith("INTERNAL_SERVER_ERROR")
                        or self._internal(target)):
                    return None
            if last == "exception_handler":
                return params[1] if len(params) >= 2 else None
            return params[0] if params else None
        return None

    def _names(self) -> tuple[set[str], set[str]]:
        """Exception names and leaked variables in scope for the current function."""
        func = self.ctx.enclosing_function()
        names: set[str] = set()
        leaked: set[str] = set(self._func_leaks.get(id(func), set()))
        for frame in self._frames:
            if frame.func is func:
                names |= frame.names
                leaked |= frame.leaked_vars
        return names, leaked

    # -- exception text ----------------------------------------------------------------------
    def _leaks(self, expr: cst.CSTNode, names: set[str], leaked: set[str]) -> bool:
        ctx = self.ctx
        found = False

        def is_exc(node: cst.BaseExpression) -> bool:
            if isinstance(node, cst.Name):
                return node.value in names or node.value in leaked
            if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value in names:
                return node.attr.value in EXC_TEXT_ATTRS
            return False

        class _V(cst.CSTVisitor):
            def visit_Lambda(self, node: cst.Lambda) -> bool:
                return False

            def visit_Call(self, node: cst.Call) -> bool:
                nonlocal found
                name = ctx.resolve(node.func) or ""
                if name in TRACEBACK_CALLS:
                    found = True
                    return False
                if name in STRINGIFY and node.args and is_exc(node.args[0].value):
                    found = True
                    return False
                if name in ("type",):
                    return False
                if isinstance(node.func, cst.Attribute) and node.func.attr.value == "format" and isinstance(
                        node.func.value, (cst.SimpleString, cst.ConcatenatedString)):
                    if any(is_exc(a.value) for a in node.args):
                        found = True
                        return False
                return True

            def visit_Attribute(self, node: cst.Attribute) -> bool:
                nonlocal found
                if node.attr.value in ("__class__", "__name__"):
                    return False
                if is_exc(node):
                    found = True
                return False if isinstance(node.value, cst.Name) else True

            def visit_FormattedStringExpression(self, node: cst.FormattedStringExpression) -> None:
                nonlocal found
                if is_exc(node.expression):
                    found = True

            def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
                nonlocal found
                if isinstance(node.operator, cst.Modulo):
                    right = node.right
                    items = [e.value for e in right.elements] if isinstance(right, cst.Tuple) else [right]
                    if any(is_exc(i) for i in items):
                        found = True

            def visit_Name(self, node: cst.Name) -> None:
                nonlocal found
                if node.value in leaked:
                    found = True

        walk(expr, _V())
        return found

    def _debug_guarded(self) -> bool:
        for node in self.ctx.ancestors():
            if isinstance(node, (cst.If, cst.IfExp)) and re.search(r"debug|DEBUG|testing|TESTING",
                                                                   self.ctx.code_of(node.test)):
                return True
        return False

    # -- variables ------------------------------------------------------------------------------
    def visit_Assign(self, node: cst.Assign) -> None:
        if self.ctx.is_test:
            return
        names, leaked = self._names()
        if not self._leaks(node.value, names, leaked):
            return
        func = self.ctx.enclosing_function()
        for target in node.targets:
            if isinstance(target.target, cst.Name):
                self._func_leaks.setdefault(id(func), set()).add(target.target.value)

    # -- responses ------------------------------------------------------------------------------
    def _is_response_call(self, node: cst.Call) -> bool:
        name = self.ctx.resolve(node.func) or ""
        if name in RESPONSE_CALLS or name.startswith(RESPONSE_PREFIXES):
            return True
        last = name.rsplit(".", 1)[-1]
        return last in ("jsonify", "JsonResponse", "JSONResponse", "HttpResponseServerError", "json_response",
                        "PlainTextResponse", "HTMLResponse", "ORJSONResponse", "UJSONResponse")

    def visit_Call(self, node: cst.Call) -> None:
        if self.ctx.is_test or not self._is_response_call(node):
            return
        names, leaked = self._names()
        self.checked()
        if not node.args or self._debug_guarded():
            return
        if (self.ctx.resolve(node.func) or "").endswith("HTTPException"):
            status = arg(node, 0, "status_code")
            if isinstance(status, cst.Integer) and not status.value.startswith("5") and not names and not leaked:
                return
        if any(self._leaks(a.value, names, leaked) for a in node.args if a.keyword is None or a.keyword.value not in
               ("status", "status_code", "headers", "mimetype", "content_type", "media_type")):
            self._reported.add(id(node))
            self.report(node, "exception details are sent to the client; log them and answer with a generic message")

    def visit_Return(self, node: cst.Return) -> None:
        if self.ctx.is_test or node.value is None:
            return
        func = self.ctx.enclosing_function()
        if func is None:
            return
        names, leaked = self._names()
        if self._error_handler_param(func) is None and enclosing_handler(self.ctx) is None:
            return
        self.checked()
        value = node.value
        if self._contains_response_call(value) or self._debug_guarded():
            return
        parts = value.elements if isinstance(value, cst.Tuple) else None
        body = parts[0].value if parts else value
        if isinstance(body, cst.Call):
            callee = self.ctx.resolve(body.func) or ""
            if callee not in STRINGIFY | TRACEBACK_CALLS and callee.rsplit(".", 1)[-1] not in ("join", "format"):
                return  # another function builds the answer
        if string_value(body) is not None:
            return
        if self._leaks(body, names, leaked):
            self.report(node, "exception details are returned to the client; log them and answer with a generic message")

    def _contains_response_call(self, expr: cst.CSTNode) -> bool:
        rule = self
        found = False

        class _V(cst.CSTVisitor):
            def visit_Call(self, node: cst.Call) -> None:
                nonlocal found
                if rule._is_response_call(node):
                    found = True

        walk(expr, _V())
        return found
