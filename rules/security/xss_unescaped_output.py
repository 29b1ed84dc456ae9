from __future__ import annotations

import re

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import FileRule
from rules._shared.requests import request_flow
from rules._shared.web import arg, current_handler, string_value

MARK_SAFE = frozenset({
    "django.utils.safestring.mark_safe", "django.utils.safestring.SafeString", "django.utils.safestring.SafeText",
    "markupsafe.Markup", "flask.Markup", "jinja2.Markup", "jinja2.utils.Markup", "quart.Markup",
})
FORMAT_HTML = frozenset({"django.utils.html.format_html"})
TEMPLATE_FROM_STRING = frozenset({"flask.render_template_string", "quart.render_template_string"})
JINJA_TEMPLATE = frozenset({"jinja2.Template"})
JINJA_ENV = frozenset({"jinja2.Environment", "jinja2.environment.Environment", "jinja2.sandbox.SandboxedEnvironment"})
# Calls whose result is safe to put in HTML.
ESCAPES = frozenset({"escape", "conditional_escape", "format_html", "format_html_join", "render_to_string",
                     "render_template", "urlencode", "quote", "quote_plus", "int", "len", "float", "json_script",
                     "escapejs", "clean", "linkify", "strip_tags", "slugify", "static", "reverse", "url_for",
                     "get_template", "render", "mark_safe", "Markup", "naturaltime", "date_format", "intcomma",
                     "floatformat", "number_format", "gettext", "_", "gettext_lazy", "ugettext", "pgettext", "ngettext",
                     "str_escape", "html_escape", "sanitize", "sanitize_html", "bleach_clean", "localize"})
HTML_TAG = re.compile(r"<\s*/?\s*[a-zA-Z!][^>]*>?")
HTML_RESPONSES = frozenset({
    "django.http.HttpResponse", "flask.Response", "flask.make_response", "werkzeug.wrappers.Response",
    "starlette.responses.HTMLResponse", "fastapi.responses.HTMLResponse", "aiohttp.web.Response",
    "quart.make_response", "quart.Response",
})
HTML_RETURNING = frozenset({"flask", "quart", "django", "custom"})


def _literal_parts(node: cst.BaseExpression) -> list[str]:
    """The literal text pieces of a string expression (for the "is this HTML?" test)."""
    out: list[str] = []
    if isinstance(node, cst.FormattedString):
        out += [p.value for p in node.parts if isinstance(p, cst.FormattedStringText)]
    elif isinstance(node, cst.SimpleString):
        out.append(string_value(node) or "")
    elif isinstance(node, cst.ConcatenatedString):
        out += _literal_parts(node.left) + _literal_parts(node.right)  # type: ignore[arg-type]
    elif isinstance(node, cst.BinaryOperation):
        out += _literal_parts(node.left) + _literal_parts(node.right)
    elif isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "format":
        out += _literal_parts(node.func.value)
    return out


class XssUnescapedOutput(FileRule):
    """
    ## What it does
    Finds HTML put together without escaping:

    * `mark_safe(...)`, `Markup(...)`, `SafeString(...)` of text built with interpolation
      (f-strings, `%`, `+`, `.format()`) from non-constant values that are not escaped
      (`escape()`, `conditional_escape()`, `format_html()` results pass);
    * `format_html()` whose format string is itself built with interpolation, which
      defeats its escaping;
    * `render_template_string()` / `jinja2.Template()` of a template built from
      variables or request data (also server-side template injection);
    * a Jinja `Environment(...)` with `autoescape=False`, or without `autoescape` in a
      module that renders `.html` templates;
    * a handler that returns HTML built from request data (`return
      f"<h1>{request.args['name']}</h1>"`, `HttpResponse("<p>" + name + "</p>")`).

    `|safe` and `{% autoescape off %}` in templates are template-side and not checked here.

    ## Why is this bad?
    A value that reaches HTML unescaped can carry `<script>`: the attacker's code runs in
    the victim's browser with the victim's session (cross-site scripting). `mark_safe` and
    `Markup` switch the framework's automatic escaping off for the whole string.

    ## Known limits
    Values are followed inside one function. A marked-safe string built from values the
    project computed itself (numbers, its own URLs) is still reported when they are not
    visibly escaped; suppress with a reason when the value is known to be safe.
    """

    slug = "xss-unescaped-output"
    checklist = "XSS prevention in responses"
    section = Section.SECURITY
    severity = Severity.HIGH
    confidence = Confidence.MEDIUM
    languages = ("python", "javascript", "typescript")
    engines = ("semgrep",)
    cwe = ("CWE-79",)
    summary = "HTML is built without escaping"
    triggers = ("mark_safe", "Markup", "SafeString", "format_html", "render_template_string", "Environment",
                "Template", "<", "HttpResponse", "HTMLResponse")
    bad = (
        Example(
            "from django.utils.safestring import mark_safe\n\n"
            "def badge(user):\n"
            "    return mark_safe(f'<span class=\"badge\">{user.display_name}</span>')  # flagged\n",
            path="accounts/templatetags/badges.py",
        ),
        Example(
            "from flask import Flask, request\n\n"
            "app = Flask(__name__)\n\n"
            "@app.get('/hello')\n"
            "def hello():\n"
            "    name = request.args.get('name', 'world')\n"
            "    return f'<h1>Hello {name}</h1>'  # flagged\n",
            path="app.py",
        ),
        Example(
            "from jinja2 import Environment, FileSystemLoader\n\n"
            "env = Environment(loader=FileSystemLoader('templates'), autoescape=False)  # flagged\n"
            "page = env.get_template('index.html')\n",
            path="render.py",
        ),
    )
    good = (
        Example(
            "from django.utils.html import format_html, escape\n"
            "from django.utils.safestring import mark_safe\n\n"
            "def badge(user):\n"
            "    return format_html('<span class=\"badge\">{}</span>', user.display_name)\n\n"
            "def icon(name):\n"
            "    return mark_safe('<i class=\"icon-%s\"></i>' % escape(name))\n\n"
            "HELP = mark_safe('<b>required</b>')\n",
            path="accounts/templatetags/badges.py",
        ),
        Example(
            "from flask import Flask, request, render_template_string, jsonify\n"
            "from jinja2 import Environment, select_autoescape, FileSystemLoader\n\n"
            "app = Flask(__name__)\n"
            "env = Environment(loader=FileSystemLoader('templates'), autoescape=select_autoescape())\n\n"
            "@app.get('/hello')\n"
            "def hello():\n"
            "    name = request.args.get('name', 'world')\n"
            "    return render_template_string('<h1>Hello {{ name }}</h1>', name=name)\n\n"
            "@app.get('/api/hello')\n"
            "def api_hello():\n"
            "    return jsonify(message=f\"<b>{request.args['name']}</b>\")\n",
            path="app.py",
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._skip = ctx.is_test
        self._assigned: dict[int, dict[str, cst.BaseExpression]] = {}

    # -- helpers -----------------------------------------------------------------------------
    def _local_values(self, name: str) -> list[cst.BaseExpression]:
        """Values assigned to ``name`` in the enclosing function (for one level of indirection)."""
        func = self.ctx.enclosing_function()
        if func is None:
            return []
        key = ("xss.assigned", id(func))
        table = self.ctx.cache.get(key)
        if table is None:
            table = {}

            class _V(cst.CSTVisitor):
                def visit_Assign(self, node: cst.Assign) -> None:
                    for t in node.targets:
                        if isinstance(t.target, cst.Name):
                            table.setdefault(t.target.value, []).append(node.value)

                def visit_AugAssign(self, node: cst.AugAssign) -> None:
                    if isinstance(node.target, cst.Name):
                        table.setdefault(node.target.value, []).append(node.value)

            func.visit(_V())
            self.ctx.cache[key] = table
        return table.get(name, [])

    def _unescaped(self, node: cst.BaseExpression | None, follow: bool = True) -> cst.BaseExpression | None:
        """The first non-constant, unescaped value interpolated into a string expression."""
        if node is None:
            return None
        if isinstance(node, cst.FormattedString):
            for part in node.parts:
                if isinstance(part, cst.FormattedStringExpression) and not self._safe_value(part.expression):
                    return part.expression
            return None
        if isinstance(node, cst.BinaryOperation):
            if isinstance(node.operator, cst.Modulo) and _literal_parts(node.left):
                right = node.right
                items = [e.value for e in right.elements] if isinstance(right, cst.Tuple) else \
                    [e.value for e in right.elements if isinstance(e, cst.DictElement)] if isinstance(right, cst.Dict) else [right]
                for item in items:
                    if not self._safe_value(item):
                        return item
                return None
            if isinstance(node.operator, cst.Add):
                for side in (node.left, node.right):
                    if isinstance(side, (cst.SimpleString, cst.ConcatenatedString)):
                        continue
                    inner = self._unescaped(side, follow) if isinstance(side, (cst.BinaryOperation, cst.FormattedString)) \
                        else (None if self._safe_value(side) else side)
                    if inner is not None:
                        return inner
            return None
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "format" \
                and isinstance(node.func.value, (cst.SimpleString, cst.ConcatenatedString)):
            for a in node.args:
                if not self._safe_value(a.value):
                    return a.value
            return None
        if follow and isinstance(node, cst.Name):
            for value in self._local_values(node.value):
                found = self._unescaped(value, follow=False)
                if found is not None:
                    return found
        return None

    def _safe_value(self, node: cst.BaseExpression) -> bool:
        if isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.Integer, cst.Float)):
            return True
        if isinstance(node, cst.FormattedString):
            return self._unescaped(node, follow=False) is None
        if isinstance(node, cst.Call):
            name = self.ctx.resolve(node.func) or ""
            return name.rsplit(".", 1)[-1] in ESCAPES
        if isinstance(node, cst.Name) and node.value.isupper():
            return True  # a module constant
        if isinstance(node, cst.IfExp):
            return self._safe_value(node.body) and self._safe_value(node.orelse)
        if isinstance(node, cst.Name):
            values = self._local_values(node.value)
            return bool(values) and all(self._safe_value(v) for v in values)
        return False

    # -- calls -------------------------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        if self._skip:
            return
        name = self.ctx.resolve(node.func) or ""
        short = name.rsplit(".", 1)[-1]
        if name in MARK_SAFE or (short in ("mark_safe", "Markup", "SafeString")
                                 and ("." not in name or name.split(".", 1)[0] in ("django", "markupsafe", "jinja2"))):
            self.checked()
            first = arg(node, 0)
            bad = self._unescaped(first)
            if bad is not None:
                self.report(node, f"`{name.rsplit('.', 1)[-1]}` marks text built from `{_code(self.ctx, bad)}` "
                                  "as safe HTML without escaping it (use `format_html`/`escape`)")
            return
        if name in FORMAT_HTML:
            self.checked()
            fmt = arg(node, 0)
            bad = self._unescaped(fmt)
            if bad is not None:
                self.report(node, "the format string of `format_html` is itself built with interpolation, "
                                  "so the values in it are not escaped (pass them as arguments)")
            return
        if name in TEMPLATE_FROM_STRING or name in JINJA_TEMPLATE or name.endswith(".from_string"):
            if name.endswith(".from_string") and "env" not in name.lower() and "jinja" not in name.lower():
                return
            self.checked()
            source = arg(node, 0, "source")
            bad = self._unescaped(source) or self._request_value(source)
            if bad is not None:
                self.report(node, "a template is built from variable text: values in it are not escaped and "
                                  "template syntax in them is executed (pass them as template variables)",
                            severity=Severity.HIGH, confidence=Confidence.HIGH if self._request_value(source) else Confidence.MEDIUM)
            return
        if name in JINJA_ENV:
            self.checked()
            autoescape = arg(node, keyword="autoescape")
            if isinstance(autoescape, cst.Name) and autoescape.value == "False":
                self.report(autoescape, "Jinja `autoescape=False`: every value rendered into HTML templates is unescaped",
                            severity=Severity.MEDIUM)
            elif autoescape is None and not any(a.star for a in node.args) and ".html" in self.ctx.text:
                self.report(node, "Jinja `Environment` without `autoescape` renders HTML templates unescaped "
                                  "(use `autoescape=select_autoescape()`)",
                            severity=Severity.MEDIUM, confidence=Confidence.MEDIUM)
            return
        if name in HTML_RESPONSES and node.args:
            self._html_from_request(node, arg(node, 0, "content") or arg(node, keyword="body") or arg(node, keyword="text"), node)

    def visit_Return(self, node: cst.Return) -> None:
        if self._skip or node.value is None:
            return
        func = self.ctx.enclosing_function()
        if func is None:
            return
        handler = current_handler(self.ctx, func) if func is self._innermost_function() else None
        if handler is None or handler.framework not in HTML_RETURNING:
            return
        value = node.value
        if isinstance(value, cst.Tuple) and value.elements:
            value = value.elements[0].value
        self._html_from_request(node, value, None)

    def _innermost_function(self) -> cst.FunctionDef | None:
        return self.ctx.enclosing_function()

    def _html_from_request(self, node: cst.CSTNode, value: cst.BaseExpression | None, call: cst.Call | None) -> None:
        if value is None:
            return
        if call is not None:
            ctype = arg(call, keyword="content_type") or arg(call, keyword="mimetype") or arg(call, keyword="media_type")
            text = string_value(ctype) if ctype is not None else None
            if text is not None and "html" not in text:
                return
        self.checked()
        candidates = [value]
        if isinstance(value, cst.Name):
            candidates = self._local_values(value.value)
        for candidate in candidates:
            literal = "".join(_literal_parts(candidate))
            if not HTML_TAG.search(literal):
                continue
            bad = self._unescaped(candidate, follow=False)
            if bad is not None and self._request_value(bad):
                self.report(node, f"HTML built from request data (`{_code(self.ctx, bad)}`) is returned without escaping")
                return

    def _request_value(self, node: cst.BaseExpression | None) -> cst.BaseExpression | None:
        """``node`` when it holds client data read from the request in this function."""
        if node is None:
            return None
        func = self.ctx.enclosing_function()
        if func is None:
            return None
        flow = request_flow(self.ctx, func, current_handler(self.ctx, func))
        return node if flow.taint_of(node) is not None else None


def _code(ctx, node: cst.CSTNode) -> str:
    text = " ".join(ctx.code_of(node).split())
    return text if len(text) <= 50 else text[:47] + "..."
