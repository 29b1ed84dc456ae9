from __future__ import annotations

import re

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import ProjectContext, ProjectRule
from checker.syntax import walk
from rules._shared.layers import module_name
from rules._shared.logs import is_log_call
from rules._shared.web import changes_data, current_handler

AUDIT_CALL = re.compile(r"(?i)audit|log_action|log_event|record_event|track_event|add_history|create_log|"
                        r"write_log|activity")
# Libraries that record changes of models by themselves.
AUDIT_LIBRARIES = ("auditlog", "simple_history", "reversion", "pghistory", "easyaudit", "django_audit",
                   "sqlalchemy_continuum", "sqlalchemy_history", "flask_audit", "actstream", "field_history",
                   "django_auditlog", "audit_log", "auditlog2")
# Hooks a framework runs when a handler delegates to ``super()`` (DRF and Django views).
FRAMEWORK_HOOKS = ("perform_", "form_valid", "save", "delete")
TASK_CALLS = frozenset({"delay", "apply_async", "send_task", "enqueue", "defer", "kiq", "send_with_options"})
GENERIC_NAMES = frozenset({"get", "post", "put", "patch", "delete", "create", "update", "save", "list", "run",
                           "execute", "call", "handle", "process", "__init__", "add", "remove", "destroy"})


def _is_log_call(ctx, node: cst.Call) -> bool:
    """A logging call, or a call to something named for auditing (``audit.record(...)``)."""
    if is_log_call(ctx, node):
        return True
    parts = (ctx.resolve(node.func) or "").replace("()", "").split(".")
    return any(AUDIT_CALL.search(p) for p in parts)


def _only_raises(func: cst.FunctionDef) -> bool:
    """A handler whose body only raises (``raise Http404()``) changes nothing."""
    body = func.body.body if isinstance(func.body, cst.IndentedBlock) else ()
    stmts = [s for s in body if not (isinstance(s, cst.SimpleStatementLine) and all(
        isinstance(x, cst.Expr) and isinstance(x.value, (cst.SimpleString, cst.ConcatenatedString)) for x in s.body))]
    return bool(stmts) and all(isinstance(s, cst.SimpleStatementLine) and all(isinstance(x, cst.Raise) for x in s.body)
                               for s in stmts)


class _Scan(cst.CSTVisitor):
    def __init__(self, ctx, func: cst.FunctionDef) -> None:
        super().__init__()
        self.ctx = ctx
        self.func = func
        self.logs = False
        self.calls: set[str] = set()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return node is self.func

    def visit_Call(self, node: cst.Call) -> None:
        if _is_log_call(self.ctx, node):
            self.logs = True
        name = self.ctx.resolve(node.func)
        if name:
            self.calls.add(name.replace("()", ""))


class MissingAuditLog(ProjectRule):
    """
    ## What it does
    Finds request handlers that create, change or delete data (POST, PUT, PATCH and DELETE
    routes, DRF `create`/`update`/`destroy` actions, Django views limited to POST) and leave
    no trace: no logging call (`logging`, a `logger`/`log` object, structlog, loguru) and no
    audit call (anything named `audit...`, `log_action`, `record_event`...) in the handler
    or in the project functions it calls, followed three calls deep through imports
    (`order_service.cancel_order(...)` is looked up in the services module).

    Handlers that only raise, that delegate to a background task (`.delay()`,
    `.apply_async()`), and DRF/Django class handlers that delegate to `super()` are judged
    with the class's hooks (`perform_create`, `form_valid`...), which the framework runs.

    Projects that use an audit library (django-auditlog, django-simple-history,
    django-reversion, django-pghistory, SQLAlchemy-Continuum...) record changes at the
    model level and are not checked.

    ## Why is this bad?
    When data changes, someone will ask who changed it and when: for support, for security
    investigations and for compliance. Without an audit trail at the places that write,
    the question has no answer.

    ## Known limits
    Calls through objects (`self.repo.save(...)`) are matched by method name only when the
    name is specific enough; generic names (`save`, `create`) are not followed. Logging that
    happens in middleware or database triggers is not seen: suppress with that reason.
    """

    slug = "missing-audit-log"
    checklist = "Audit logging for sensitive operations"
    section = Section.ARCHITECTURE
    severity = Severity.LOW
    confidence = Confidence.LOW
    languages = ("python", "javascript", "typescript")
    cwe = ("CWE-778",)
    summary = "A create/update/delete handler leaves no audit trail"
    bad = (
        Example(
            "from fastapi import APIRouter, Depends\n\n"
            "from app.services import accounts\n\n"
            "router = APIRouter()\n\n"
            "@router.delete('/accounts/{account_id}', status_code=204)\n"
            "def close_account(account_id: int, svc=Depends(accounts.service)):  # flagged\n"
            "    svc.close(account_id)\n",
            path="app/api/accounts.py",
        ),
    )
    good = (
        Example(
            "import logging\n\n"
            "from fastapi import APIRouter, Depends\n\n"
            "from app.services import accounts\n\n"
            "audit = logging.getLogger('audit')\n"
            "router = APIRouter()\n\n"
            "@router.delete('/accounts/{account_id}', status_code=204)\n"
            "def close_account(account_id: int, svc=Depends(accounts.service)):\n"
            "    svc.close(account_id)\n"
            "    audit.info('account closed', extra={'account_id': account_id})\n",
            path="app/api/accounts.py",
        ),
    )

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            self._audit_import(self.ctx.code_of(alias.name), node)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.module is not None and not node.relative:
            self._audit_import(self.ctx.code_of(node.module), node)

    def _audit_import(self, module: str, node: cst.CSTNode) -> None:
        if not self.ctx.is_test and module.split(".")[0] in AUDIT_LIBRARIES:
            self.record({"audit-library": module}, node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if self.ctx.is_test:
            return
        scan = _Scan(self.ctx, node)
        walk(node, scan)
        cls = self.ctx.enclosing_class()
        qual = f"{cls.name.value}.{node.name.value}" if cls is not None and self.ctx.parent() is not None else node.name.value
        handler = current_handler(self.ctx, node)
        if handler is not None and changes_data(self.ctx, handler) and not _only_raises(node):
            self.checked()
            calls = set(scan.calls)
            if handler.cls is not None and any(c.startswith("super.") for c in calls):
                # Delegating to the framework (``super().update(...)``) runs the class's hooks.
                for item in handler.cls.body.body:
                    if isinstance(item, cst.FunctionDef) and item.name.value.startswith(FRAMEWORK_HOOKS):
                        calls.add(f"{module_name(self.ctx.path)}.{handler.cls.name.value}.{item.name.value}")
            if any(c.rsplit(".", 1)[-1] in TASK_CALLS for c in calls):
                return  # the work runs in a background task, which is not followed
            self.record({"handler": handler.describe(), "logs": scan.logs, "calls": sorted(calls)[:80],
                         "module": module_name(self.ctx.path)}, node.name)
            return
        self.record({"function": qual, "name": node.name.value, "logs": scan.logs,
                     "calls": sorted(scan.calls)[:80] if not scan.logs else [],
                     "module": module_name(self.ctx.path)})

    def check(self, project: ProjectContext) -> None:
        facts = project.facts(self.slug)
        if any("audit-library" in f.data for f in facts):
            return
        handlers = [f for f in facts if "handler" in f.data]
        if not handlers:
            return
        self.checked()
        by_dotted: dict[str, dict] = {}
        by_suffix: dict[str, list[dict]] = {}
        by_name: dict[str, list[dict]] = {}
        for f in facts:
            if "function" in f.data:
                data = f.data
                key = f"{data['module']}.{data['function']}"
                by_dotted[key] = data
                parts = key.split(".")
                for i in range(len(parts) - 1):
                    by_suffix.setdefault(".".join(parts[i:]), []).append(data)
                by_name.setdefault(data["name"], []).append(data)

        def lookup(call: str, module: str) -> list[dict]:
            found = by_dotted.get(call) or by_dotted.get(f"{module}.{call}")
            if found is not None:
                return [found]
            # Imported names resolve to their module path; match on the dotted suffix.
            parts = [p for p in call.split(".") if p]
            for i in range(0, len(parts) - 1):
                hits = by_suffix.get(".".join(parts[i:]))
                if hits:
                    return hits
            last = parts[-1] if parts else ""
            if last in GENERIC_NAMES or len(last) < 5:
                return []
            return by_name.get(last, [])

        def logs(calls: list[str], module: str, depth: int, seen: set[str]) -> bool:
            if depth > 3:
                return False
            for call in calls:
                for data in lookup(call, module):
                    key = f"{data['module']}.{data['function']}"
                    if key in seen:
                        continue
                    seen.add(key)
                    if data["logs"] or logs(data["calls"], data["module"], depth + 1, seen):
                        return True
            return False

        for f in handlers:
            if f.data["logs"] or logs(f.data["calls"], f.data["module"], 1, set()):
                continue
            self.report_at(f.path, f.line, f"handler {f.data['handler']} changes data but neither it nor the code it "
                                           "calls logs the operation: record who did what (an audit log entry with "
                                           "the user, the action and the object)")
