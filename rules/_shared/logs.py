"""Logging knowledge: which calls write to a log (stdlib logging, structlog, loguru,
logbook, eliot, and logger objects however they are named)."""

from __future__ import annotations

from typing import Collection

import libcst as cst

from checker.rule import FileContext

LOG_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical", "fatal", "log",
                         "msg", "trace", "success", "notice", "bind"})
LOGGING_ROOTS = ("logging", "structlog", "loguru", "logbook", "eliot")
# Names that contain "log" without being loggers.
NOT_LOGGERS = ("catalog", "blog", "dialog", "changelog", "backlog", "login", "logout", "logo")


def is_log_call(ctx: FileContext, node: cst.Call, loggers: Collection[str] = ()) -> bool:
    """``logger.info(...)``, ``logging.warning(...)``, ``self.log.error(...)``,
    ``structlog.get_logger().bind(...).info(...)``; ``loggers`` adds the source text of
    objects known to be loggers in this file (``audit = logging.getLogger("audit")``)."""
    func = node.func
    if not isinstance(func, cst.Attribute) or func.attr.value not in LOG_METHODS:
        return False
    name = ctx.resolve(func) or ""
    if name.startswith(LOGGING_ROOTS):
        return True
    if loggers and ctx.code_of(func.value) in loggers:
        return True
    owner = name.rsplit(".", 1)[0].lower() if "." in name else ""
    return any("log" in part and not part.endswith(NOT_LOGGERS)
               for part in owner.replace("()", "").split("."))
