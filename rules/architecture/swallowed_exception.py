from __future__ import annotations

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import FileRule

BROAD = frozenset({"Exception", "BaseException", "builtins.Exception", "builtins.BaseException"})
# Methods where dropping every error is the right thing to do.
EXEMPT_FUNCTIONS = frozenset({"__del__"})


def _is_none(node: cst.BaseExpression | None) -> bool:
    return node is None or isinstance(node, cst.Name) and node.value == "None"


def _silent(stmt: cst.BaseStatement) -> bool:
    """A statement that does nothing with the error: pass, ..., a bare string, continue,
    return / return None."""
    if not isinstance(stmt, cst.SimpleStatementLine):
        return False
    for small in stmt.body:
        if isinstance(small, (cst.Pass, cst.Continue)):
            continue
        if isinstance(small, cst.Return) and _is_none(small.value):
            continue
        if isinstance(small, cst.Expr) and isinstance(small.value, (cst.Ellipsis, cst.SimpleString, cst.ConcatenatedString)):
            continue
        return False
    return True


class SwallowedException(FileRule):
    """
    ## What it does
    Finds `except:`, `except Exception:` and `except BaseException:` clauses (alone or in a
    tuple) whose body only passes, continues, returns `None` or holds `...`: every error that
    reaches them disappears without a trace.

    Handlers that log, re-raise, return a value, or catch a specific exception type
    (`except KeyError: pass` is a deliberate, narrow decision) are left alone, and so are
    `__del__` methods and test code.

    ## Why is this bad?
    A swallowed error turns a failure into silently wrong behaviour: the request "succeeds",
    the data is half-written, and nothing in the logs says why. A bare `except:` also
    catches `KeyboardInterrupt` and `SystemExit`, so the process cannot even be stopped
    cleanly.

    ## Known limits
    `contextlib.suppress(Exception)` is an explicit, visible decision and is not reported.
    A handler that only assigns a fallback value (`value = None`) is treated as handling.
    """

    slug = "swallowed-exception"
    checklist = "Comprehensive error handling"
    section = Section.ARCHITECTURE
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    languages = ("python", "javascript", "typescript")
    cwe = ("CWE-390",)
    summary = "A broad `except` clause silently swallows every error"
    triggers = ("except",)
    bad = (
        Example(
            "import json\n\n"
            "def load_settings(path):\n"
            "    try:\n"
            "        with open(path) as fh:\n"
            "            return json.load(fh)\n"
            "    except Exception:  # flagged\n"
            "        pass\n"
        ),
        Example(
            "def sync_all(clients):\n"
            "    for client in clients:\n"
            "        try:\n"
            "            client.sync()\n"
            "        except:  # flagged\n"
            "            continue\n"
        ),
    )
    good = (
        Example(
            "import logging\n\n"
            "log = logging.getLogger(__name__)\n\n"
            "def sync_all(clients):\n"
            "    for client in clients:\n"
            "        try:\n"
            "            client.sync()\n"
            "        except Exception:\n"
            "            log.exception('sync failed for %s', client.name)\n"
        ),
        Example(
            "def price_of(prices, sku):\n"
            "    try:\n"
            "        return prices[sku]\n"
            "    except KeyError:\n"
            "        pass\n"
            "    return None\n"
        ),
    )

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if self.ctx.is_test:
            return
        self.checked()
        caught = self._broad(node.type)
        if caught is None:
            return
        body = node.body.body if isinstance(node.body, cst.IndentedBlock) else ()
        if isinstance(node.body, cst.SimpleStatementSuite):
            silent = all(
                isinstance(s, (cst.Pass, cst.Continue)) or isinstance(s, cst.Return) and _is_none(s.value)
                or isinstance(s, cst.Expr) and isinstance(s.value, cst.Ellipsis)
                for s in node.body.body
            )
        else:
            silent = bool(body) and all(_silent(s) for s in body)
        if not silent:
            return
        func = self.ctx.enclosing_function()
        if func is not None and func.name.value in EXEMPT_FUNCTIONS:
            return
        what = "a bare `except:`" if caught == "" else f"`except {caught}:`"
        extra = " (it also catches KeyboardInterrupt and SystemExit)" if caught in ("", "BaseException") else ""
        self.report(node, f"{what} swallows every error without a trace{extra}: log it, re-raise it, "
                          "or catch only the exception you expect")

    def _broad(self, node: cst.BaseExpression | None) -> str | None:
        """'' for a bare except, the broad class name caught, or None when narrow."""
        if node is None:
            return ""
        if isinstance(node, cst.Tuple):
            for element in node.elements:
                found = self._broad(element.value)
                if found:
                    return found
            return None
        name = self.ctx.resolve(node) if isinstance(node, (cst.Name, cst.Attribute)) else None
        if name in BROAD:
            return name.rsplit(".", 1)[-1]
        return None
