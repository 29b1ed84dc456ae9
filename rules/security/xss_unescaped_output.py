from __future__ import annotations

import re

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import FileRule
from checker.syntax import walk
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
# Calls whose result is computed markup or a computed value, not stored text.
SAFE_CALL = re.compile(r"url|uri|reverse|render|markdown|sanitiz|bleach|escape|format_|date|time|number|money|"
                       r"currency|price|count|icon|static|csrf|json_script|_html$|^_$|gettext|pgettext|ngettext",
                       re.IGNORECASE)
# Object fields whose values are numbers, dates, identifiers or URLs rather than free text.
SAFE_ATTR_WORDS = frozenset({"id", "pk", "count", "num", "number", "total", "amount", "price", "cost", "qty",
                             "quantity", "size", "len", "length", "date", "time", "year", "month", "day", "created",
                             "updated", "modified", "url", "uri", "href", "slug", "uuid", "html", "usages", "max",
                             "min", "percent", "rate", "score", "version", "icon", "css", "color", "colour", "width",
                             "height", "level", "index", "position", "order", "is", "has", "at", "on", "timestamp",
                             "code", "status", "type", "kind", "ts", "hash", "secret", "token", "key"})
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
      (f-strings, `%`, `+`, `.format()`) from request data or from a field of an object —
      stored data such as `user.display_name`, `self.name` — directly or through a local
      variable;
    * `format_html()` whose format string is itself built with an f-string, `.format()`
      or `%` (whatever the values, they escape `format_html`'s escaping), or concatenated
      with stored or request data;
    * `render_template_string()` / `jinja2.Template()` of a template built from request or
      stored data (also server-side template injection);
    * a Jinja `Environment(...)` with `autoescape=False`, or without `autoescape` in a
      module that renders `.html` templates;
    * a handler that returns HTML built from request data (`return
      f"<h1>{request.args['name']}</h1>"`, `HttpResponse("<p>" + name + "</p>")`).

    Values the code computes itself are not reported: numbers, dates, identifiers, URLs
    (`url_for`, `reverse`), rendered templates and markdown, translated and escaped text,
    and fields whose names say they hold such values (`price`, `created_at`, `slug`,
    `count`...). `|safe` and `{% autoescape off %}` in templates are template-side and not
    checked here.

    ## Why is this bad?
    A value that reaches HTML unescaped can carry `<script>`: the attacker's code runs in
    the victim's browser with the victim's session (cross-site scripting). `mark_safe` and
    `Markup` switch the framework's automatic escaping off for the whole string.

    ## Known limits
    Values are followed inside one function; a parameter of unknown origin is trusted.
    A field holding free text that the application itself controls (a form label) is
    still reported; suppress with a reason when the value is known to be safe.
    """

    slug = "xss-unescaped-output"
    checklist = "XSS prevention in responses"
    section = Section.SECURITY
    severity = Severity.HIGH
    confidence = Confidence.MEDIUM
    languages = ("python", "javascript", "typescript")
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
        self._resolving: set[str] = set()

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

            walk(func, _V())
            self.ctx.cache[key] = table
        return table.get(name, [])

    def _unescaped(self, node: cst.BaseExpression | None, follow: bool = True) -> cst.BaseExpression | None:
        """The first risky value (see :meth:`_risky`) interpolated into a string expression."""
        if node is None:
            return None
        if isinstance(node, cst.FormattedString):
            for part in node.parts:
                if isinstance(part, cst.FormattedStringExpression) and self._risky(part.expression):
                    return part.expression
            return None
        if isinstance(node, cst.BinaryOperation):
            if isinstance(node.operator, cst.Modulo) and _literal_parts(node.left):
                right = node.right
                items = [e.value for e in right.elements] if isinstance(right, cst.Tuple) else \
                    [e.value for e in right.elements if isinstance(e, cst.DictElement)] if isinstance(right, cst.Dict) else [right]
                for item in items:
                    if self._risky(item):
                        return item
                return None
            if isinstance(node.operator, cst.Add):
                for side in (node.left, node.right):
                    if isinstance(side, (cst.SimpleString, cst.ConcatenatedString)):
                        continue
                    inner = self._unescaped(side, follow) if isinstance(side, (cst.BinaryOperation, cst.FormattedString)) \
                        else (side if self._risky(side) else None)
                    if inner is not None:
                        return inner
            return None
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "format" \
                and isinstance(node.func.value, (cst.SimpleString, cst.ConcatenatedString)):
            for a in node.args:
                if self._risky(a.value):
                    return a.value
            return None
        if follow and isinstance(node, cst.Name) and node.value not in self._resolving:
            self._resolving.add(node.value)
            try:
                for value in self._local_values(node.value):
                    found = self._unescaped(value, follow=False)
                    if found is not None:
                        return found
            finally:
                self._resolving.discard(node.value)
        return None

    def _risky(self, node: cst.BaseExpression, depth: int = 0) -> bool:
        """Whether an interpolated value may carry markup from outside: request data, or a
        field of an object (stored data such as ``user.name``), directly or through a local
        variable. Values the code computes (numbers, dates, URLs, rendered templates,
        escaped or translated text) and parameters of unknown origin are not."""
        if depth > 4:
            return False
        if self._request_value(node) is not None:
            return True
        if isinstance(node, cst.Attribute):
            return not _safe_attr(node.attr.value)
        if isinstance(node, cst.Call):
            name = self.ctx.resolve(node.func) or ""
            short = name.rsplit(".", 1)[-1]
            if short in ESCAPES or SAFE_CALL.search(short):
                return False
            if name in ("str", "repr", "format") and node.args:
                return self._risky(node.args[0].value, depth + 1)
            if isinstance(node.func, cst.Attribute):
                if short == "join" and node.args and isinstance(node.args[0].value, (cst.GeneratorExp, cst.ListComp)):
                    return self._unescaped(node.args[0].value.elt, follow=False) is not None
                if short == "format" and isinstance(node.func.value, (cst.SimpleString, cst.ConcatenatedString)):
                    return self._unescaped(node, follow=False) is not None
                if short in ("strip", "lower", "upper", "title", "capitalize", "replace", "lstrip", "rstrip"):
                    return self._risky(node.func.value, depth + 1)
            return False
        if isinstance(node, (cst.FormattedString, cst.BinaryOperation)):
            return self._unescaped(node, follow=False) is not None
        if isinstance(node, cst.IfExp):
            return self._risky(node.body, depth + 1) or self._risky(node.orelse, depth + 1)
        if isinstance(node, cst.Name) and not node.value.isupper() and node.value not in self._resolving:
            self._resolving.add(node.value)
            try:
                return any(self._risky(v, depth + 1) for v in self._local_values(node.value))
            finally:
                self._resolving.discard(node.value)
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
            if _interpolated_format(fmt) or self._unescaped(fmt) is not None:
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


def _interpolated_format(node: cst.BaseExpression | None) -> bool:
    """An f-string, ``.format()`` or ``%`` used to build a format string (values in it escape
    ``format_html``'s escaping whatever they are)."""
    if isinstance(node, cst.FormattedString):
        return any(isinstance(p, cst.FormattedStringExpression) for p in node.parts)
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "format":
        return bool(node.args)
    return isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Modulo)


def _safe_attr(name: str) -> bool:
    words = [w for w in re.split(r"_+", name.lower()) if w]
    return name.startswith("__") or any(w in SAFE_ATTR_WORDS for w in words)


def _code(ctx, node: cst.CSTNode) -> str:
    text = " ".join(ctx.code_of(node).split())
    return text if len(text) <= 50 else text[:47] + "..."
