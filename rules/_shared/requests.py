"""Request data: where handlers read client input, where it flows inside a function, and
the idioms that validate it.

Sources of client data, per framework:

* Flask/Quart (the global ``request``, under any alias): ``request.json``, ``get_json()``,
  ``form``, ``args``, ``values``, ``data``, ``get_data()``, ``files``;
* Django: ``request.POST``, ``GET``, ``body``, ``FILES``; Django REST framework:
  ``request.data``, ``query_params`` (also through ``self.request`` in class-based views);
* FastAPI/Starlette: ``await request.json()``, ``form()``, ``body()``, ``query_params``;
  FastAPI parameters typed ``dict``/``Dict[...]``/``Any``/``Mapping`` (an unvalidated
  body) and ``UploadFile`` parameters;
* aiohttp: ``await request.json()``, ``post()``, ``text()``, ``read()``, ``request.query``;
* a module-level helper that returns one of the above (``def payload(): return
  request.get_json()``), called from the handler.

:class:`RequestFlow` follows that data through one function: local variables, subscripts
and ``.get()``, ``json.loads``, string building, ``for k, v in data.items()``. Typed
conversion ends the flow (``int(...)``, ``request.args.get("page", type=int)``, ``UUID``,
``Decimal``, ``fromisoformat``), and so does validation:

* a validating call taking the data: pydantic ``Model(**data)`` / ``model_validate`` /
  ``parse_obj`` / ``TypeAdapter(...).validate_python``, marshmallow ``schema.load``/
  ``validate``, ``jsonschema.validate``, forms and serializers constructed from the data
  (``UserForm(request.POST)``, ``UserSerializer(data=request.data)``), and project helpers
  whose name says they validate (``validate_payload(data)``, ``require_fields(data, ...)``);
* handler-level idioms: ``form.validate_on_submit()``, ``serializer.is_valid()``,
  ``parser.parse_args()``, and decorators (webargs ``use_args``/``use_kwargs``,
  flask-smorest ``arguments``, flask-restx ``expect``, any decorator whose name says it
  validates or takes a schema);
* explicit checks that reject the request: an ``if`` whose test looks at a field of the
  data (``"name" not in data``, ``isinstance(data.get("qty"), int)``, ``len(...)``) and
  whose body returns, raises or aborts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import libcst as cst

from checker.rule import FileContext, dotted
from checker.syntax import walk
from rules._shared.web import Handler, arg

BODY = "body"
QUERY = "query"
FILES = "files"
FILENAME = "filename"

FLASK_REQUESTS = frozenset({"flask.request", "quart.request", "flask.globals.request", "sanic.request"})
# request.<attr> (not called) -> kind
REQUEST_ATTRS = {
    "json": BODY, "form": BODY, "data": BODY, "values": BODY, "body": BODY, "POST": BODY, "stream": BODY,
    "args": QUERY, "GET": QUERY, "query_params": QUERY, "query": QUERY, "rel_url": QUERY,
    "files": FILES, "FILES": FILES,
}
# Reads of the raw, unparsed body.
RAW_CALLS = frozenset({"get_data", "body", "text", "read"})
RAW_ATTRS = frozenset({"body", "stream"})
# request.<method>() -> kind
REQUEST_CALLS = {
    "get_json": BODY, "get_data": BODY, "json": BODY, "form": BODY, "body": BODY, "post": BODY,
    "text": BODY, "read": BODY, "multipart": FILES,
}
REQUEST_ANNOTATIONS = frozenset({
    "fastapi.Request", "starlette.requests.Request", "aiohttp.web.Request", "aiohttp.web_request.Request",
    "django.http.HttpRequest", "rest_framework.request.Request", "fastapi.requests.Request",
    "aiohttp.web.BaseRequest",
})
UPLOAD_ANNOTATIONS = frozenset({"fastapi.UploadFile", "starlette.datastructures.UploadFile", "fastapi.datastructures.UploadFile"})
RAW_BODY_ANNOTATIONS = frozenset({"dict", "Dict", "typing.Dict", "typing.Any", "Any", "typing.Mapping", "Mapping",
                                  "collections.abc.Mapping", "typing.MutableMapping", "object", "fastapi.Body",
                                  "pydantic.Json", "Json"})

# Methods on client data that return more of it.
PROPAGATING_METHODS = frozenset({
    "get", "getlist", "pop", "copy", "to_dict", "dict", "items", "values", "keys", "strip", "lstrip", "rstrip",
    "lower", "upper", "title", "split", "rsplit", "decode", "encode", "replace", "getone", "getall", "setdefault",
    "lists", "__getitem__", "format", "join",
})
# Calls whose result is as much client data as their first argument.
PASSING_CALLS = frozenset({"json.loads", "yaml.safe_load", "yaml.load", "tomllib.loads", "tomli.loads",
                           "xmltodict.parse", "defusedxml.ElementTree.fromstring", "msgpack.unpackb",
                           "cbor2.loads", "dict", "list", "str", "tuple", "set", "ujson.loads", "orjson.loads",
                           "simplejson.loads", "copy.copy", "copy.deepcopy", "urllib.parse.parse_qs",
                           "urllib.parse.unquote", "bytes.decode"})
# Calls that build a path from their arguments (any of which may carry a client file name).
PATH_CALLS = frozenset({"os.path.join", "posixpath.join", "ntpath.join", "pathlib.Path", "pathlib.PurePath",
                        "pathlib.PosixPath", "pathlib.PurePosixPath", "os.path.normpath", "os.path.abspath",
                        "os.path.realpath", "os.path.expanduser", "os.fspath", "anyio.Path", "aiofiles.os.path.join",
                        "trio.Path", "werkzeug.utils.safe_join", "flask.safe_join"})
# Typed conversions: their result is a checked value of a known type.
CONVERSIONS = frozenset({
    "int", "float", "bool", "complex", "abs", "round", "len", "uuid.UUID", "decimal.Decimal", "ipaddress.ip_address",
    "ipaddress.ip_network", "datetime.date.fromisoformat", "datetime.datetime.fromisoformat",
    "datetime.datetime.strptime", "datetime.datetime.fromtimestamp", "dateutil.parser.parse", "dateutil.parser.isoparse",
    "bool", "min", "max", "isinstance", "hash", "math.floor", "math.ceil",
})
CONVERSION_LAST = frozenset({"fromisoformat", "strptime", "fromtimestamp", "isoparse", "UUID", "Decimal", "to_int",
                             "to_bool", "parse_date", "parse_datetime", "parse_duration", "escape", "secure_filename",
                             "basename", "quote", "quote_plus", "urlencode", "conditional_escape", "clean"})
# Sanitisers of a client file name.
FILENAME_SANITISERS = frozenset({"secure_filename", "basename", "get_valid_filename", "get_valid_name",
                                 "slugify", "sanitize_filename", "safe_filename", "secure_path"})

# Calls that validate the data they are given.
VALIDATING_LAST = frozenset({
    "is_valid", "validate_on_submit", "validate", "model_validate", "model_validate_json", "parse_obj", "parse_raw",
    "parse_file", "validate_python", "validate_json", "validate_strings", "load", "loads", "parse_args",
    "validated_data", "full_clean", "clean", "iter_errors", "check_schema",
})
NOT_VALIDATING_ROOTS = ("json", "yaml", "pickle", "marshal", "simplejson", "ujson", "orjson", "toml", "tomllib",
                        "tomli", "csv", "shelve", "dill", "jsonpickle", "ast")
VALIDATOR_WORDS = re.compile(r"valid|schema|sanitiz|sanitis|require_field|required_field|check_(?:field|param|arg|input|payload|data|request)",
                             re.IGNORECASE)
# Class names of validating constructors (forms, serializers, schemas, request models).
VALIDATOR_CLASS = re.compile(
    r"(?:Form|FormSet|Serializer|Schema|Validator|Request|Payload|Input|In|Create|Update|Patch|Body|Params|Args|"
    r"Query|Filter|DTO|Dto|Command|Model)$"
)
VALIDATOR_BASES = (
    "pydantic.", "marshmallow.", "django.forms.", "rest_framework.serializers.", "wtforms.", "flask_wtf.",
    "attrs.", "cattrs.", "msgspec.", "dataclasses_json", "schematics.", "cerberus.", "voluptuous.", "colander.",
    "ninja.", "sqlmodel.SQLModel", "typing.TypedDict",
)
VALIDATOR_MODULE_WORDS = re.compile(r"schema|serializ|form|validat|dto|contract|payload|request", re.IGNORECASE)
VALIDATING_DECORATOR_LAST = frozenset({"use_args", "use_kwargs", "arguments", "expect", "expects", "validate",
                                       "input", "body", "validate_request", "validate_json", "validate_body",
                                       "validate_querystring", "accepts", "doc_request", "request_schema",
                                       "json_schema", "validate_with", "marshal_with_input"})
# Handler-level calls that validate the request as a whole.
HANDLER_VALIDATION_LAST = frozenset({"validate_on_submit", "is_valid", "parse_args", "parse", "validate",
                                     "full_clean", "is_submitted"})


@dataclass(frozen=True)
class Taint:
    """Client data: what kind (body, query, files, filename), whether it is the whole
    container (``request.json``) or a part of it (``data["name"]``), its source node, and
    whether it is the raw, unparsed body (bytes or text a parser still has to read)."""

    kind: str
    whole: bool
    origin: cst.CSTNode
    what: str  # how the source reads, e.g. "request.get_json()"
    raw: bool = False


@dataclass
class CallEvent:
    node: cst.Call
    name: str  # resolved callee name
    args: list[tuple[cst.Arg, Taint]]  # tainted arguments only
    receiver: Taint | None  # taint of the object a method is called on


@dataclass
class FlowResult:
    sources: list[tuple[cst.CSTNode, Taint]] = field(default_factory=list)
    calls: list[CallEvent] = field(default_factory=list)
    attr_assigns: list[tuple[cst.CSTNode, cst.Attribute, Taint]] = field(default_factory=list)
    subscript_assigns: list[tuple[cst.CSTNode, cst.Subscript, Taint]] = field(default_factory=list)
    returns: list[tuple[cst.Return, Taint | None]] = field(default_factory=list)
    validated: set[int] = field(default_factory=set)  # id() of origins a validator took
    checked: set[int] = field(default_factory=set)  # id() of origins explicit if-checks looked at
    handler_validated: bool = False  # the handler validates as a whole (form.validate_on_submit()...)
    params: dict[str, Taint] = field(default_factory=dict)  # tainted parameters (FastAPI dict, UploadFile)

    def is_validated(self, taint: Taint) -> bool:
        """Validated by a validator or by explicit checks that reject the request."""
        return self.handler_validated or id(taint.origin) in self.validated or id(taint.origin) in self.checked

    def by_validator(self, taint: Taint) -> bool:
        """Handed to a validator (form, serializer, schema), not only checked by hand."""
        return self.handler_validated or id(taint.origin) in self.validated


def last(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _annotation_name(ctx: FileContext, ann: cst.Annotation | None) -> str:
    if ann is None:
        return ""
    expr = ann.annotation
    if isinstance(expr, cst.Subscript):  # Dict[str, Any], Optional[X], Annotated[X, ...]
        base = ctx.resolve(expr.value) or ""
        if last(base) in ("Optional", "Annotated") and expr.slice:
            first = expr.slice[0].slice
            if isinstance(first, cst.Index):
                return _annotation_name(ctx, cst.Annotation(first.value))
        return base
    if isinstance(expr, cst.BinaryOperation):  # X | None
        return _annotation_name(ctx, cst.Annotation(expr.left))
    return ctx.resolve(expr) or ""


def request_param_names(ctx: FileContext, func: cst.FunctionDef, handler: Handler | None) -> set[str]:
    """Names bound to the request object in ``func`` (parameters)."""
    names: set[str] = set()
    params = list(func.params.params)
    for p in params:
        ann = _annotation_name(ctx, p.annotation)
        if ann in REQUEST_ANNOTATIONS or last(ann) in ("Request", "HttpRequest", "WSGIRequest", "BaseRequest"):
            names.add(p.name.value)
        elif p.name.value in ("request", "req"):
            names.add(p.name.value)
    if handler is not None and handler.framework in ("django", "drf", "aiohttp", "starlette"):
        positional = [p for p in params if p.name.value not in ("self", "cls")]
        if positional and handler.owner is not None and params and params[0].name.value == "self":
            names.add(positional[0].name.value)
        elif positional and handler.framework in ("django", "aiohttp") and handler.owner is None:
            names.add(positional[0].name.value)
    return names


def is_validator_class(ctx: FileContext, callee: cst.BaseExpression) -> bool:
    """Whether calling ``callee`` constructs a validating object (form, serializer, schema,
    pydantic model): by a class in this file deriving from a validation library, by the
    module it was imported from, or by its name."""
    name = ctx.resolve(callee) or ""
    short = last(name)
    if not short[:1].isupper():
        return False
    local = _local_classes(ctx).get(short)
    if local is not None and name == short:
        return local
    if any(name.startswith(b) for b in VALIDATOR_BASES):
        return True
    module = name.rsplit(".", 1)[0] if "." in name else ""
    if module and VALIDATOR_MODULE_WORDS.search(module.rsplit(".", 1)[-1]):
        return True
    return bool(VALIDATOR_CLASS.search(short))


def _local_classes(ctx: FileContext) -> dict[str, bool]:
    """Classes defined at module level: name -> whether they validate (pydantic, marshmallow,
    forms, serializers, or derived from such a local class)."""
    key = "requests.local_classes"
    if key in ctx.cache:
        return ctx.cache[key]
    found: dict[str, bool] = {}
    classes = [s for s in ctx.module.body if isinstance(s, cst.ClassDef)]
    for _ in range(3):  # a few rounds settle local inheritance chains
        for cls in classes:
            verdict = False
            for base in cls.bases:
                bname = ctx.resolve(base.value) or ""
                if any(bname.startswith(b) for b in VALIDATOR_BASES) or found.get(bname):
                    verdict = True
                elif "." in bname and VALIDATOR_MODULE_WORDS.search(bname.rsplit(".", 1)[0].rsplit(".", 1)[-1]):
                    verdict = True
                elif VALIDATOR_CLASS.search(last(bname)) and last(bname) not in ("Model",):
                    verdict = True
            found[cls.name.value] = verdict
    ctx.cache[key] = found
    return found


def is_validating_call(ctx: FileContext, call: cst.Call) -> bool:
    """Whether ``call`` validates the data it is given."""
    name = ctx.resolve(call.func) or ""
    short = last(name)
    root = name.split(".", 1)[0]
    if short in VALIDATING_LAST and root not in NOT_VALIDATING_ROOTS:
        return True
    if short in ("load", "loads", "validate") and root in NOT_VALIDATING_ROOTS:
        return False
    if VALIDATOR_WORDS.search(short):
        return True
    if is_validator_class(ctx, call.func):
        return True
    # TypeAdapter(X).validate_python(...) / Model.model_validate(...) are covered above.
    return False


def is_conversion(ctx: FileContext, call: cst.Call) -> bool:
    name = ctx.resolve(call.func) or ""
    return name in CONVERSIONS or last(name) in CONVERSION_LAST or last(name) in FILENAME_SANITISERS


def decorator_validates(ctx: FileContext, func: cst.FunctionDef) -> bool:
    for deco in func.decorators:
        expr = deco.decorator
        name = ctx.resolve(expr.func if isinstance(expr, cst.Call) else expr) or ""
        short = last(name)
        if short in VALIDATING_DECORATOR_LAST or VALIDATOR_WORDS.search(short):
            return True
        if short == "expect" or (short in ("route", "post", "put", "patch") and isinstance(expr, cst.Call)
                                 and (arg(expr, keyword="body") or arg(expr, keyword="request_body")
                                      or arg(expr, keyword="schema") or arg(expr, keyword="request_model"))):
            return True
    return False


def _rejects(body: cst.BaseSuite) -> bool:
    """Whether a block ends the request: return, raise, abort(...)."""
    found = False

    class _V(cst.CSTVisitor):
        def visit_Return(self, node: cst.Return) -> None:
            nonlocal found
            found = True

        def visit_Raise(self, node: cst.Raise) -> None:
            nonlocal found
            found = True

        def visit_Call(self, node: cst.Call) -> None:
            nonlocal found
            name = dotted(node.func) or ""
            if last(name) in ("abort", "bad_request", "error_response", "HttpResponseBadRequest", "json_error"):
                found = True

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return False

    walk(body, _V())
    return found


def module_request_helpers(ctx: FileContext) -> dict[str, Taint]:
    """Module-level functions that return client data read from the Flask global request
    (``def payload(): return request.get_json(force=True)``): name -> what they return."""
    key = "requests.helpers"
    if key in ctx.cache:
        return ctx.cache[key]
    ctx.cache[key] = {}
    found: dict[str, Taint] = {}
    for stmt in ctx.module.body:
        if isinstance(stmt, cst.FunctionDef) and not stmt.decorators:
            flow = analyze_flow(ctx, stmt, None)
            for _, taint in flow.returns:
                if taint is not None and not flow.is_validated(taint):
                    found[stmt.name.value] = taint
                    break
    ctx.cache[key] = found
    return found


class RequestFlow(cst.CSTVisitor):
    """Follows client data through one function body, in source order."""

    def __init__(self, ctx: FileContext, func: cst.FunctionDef, handler: Handler | None) -> None:
        super().__init__()
        self.ctx = ctx
        self.func = func
        self.handler = handler
        self.request_names = request_param_names(ctx, func, handler)
        self.env: dict[str, Taint] = {}
        self.result = FlowResult()
        self.helpers: dict[str, Taint] = {}
        self._call_funcs: set[int] = set()
        self._seed_params()

    # -- set-up ---------------------------------------------------------------------------
    def _seed_params(self) -> None:
        handler = self.handler
        if handler is None or handler.framework not in ("fastapi", "starlette"):
            if handler is not None:
                for p in self.func.params.params:
                    ann = _annotation_name(self.ctx, p.annotation)
                    if ann in UPLOAD_ANNOTATIONS or last(ann) == "UploadFile":
                        self._bind_param(p, FILES)
            return
        for p in list(self.func.params.params) + list(self.func.params.kwonly_params):
            ann = _annotation_name(self.ctx, p.annotation)
            default = p.default
            default_name = self.ctx.resolve(default.func) if isinstance(default, cst.Call) else ""
            if ann in UPLOAD_ANNOTATIONS or last(ann) == "UploadFile":
                self._bind_param(p, FILES)
            elif ann in RAW_BODY_ANNOTATIONS or last(ann) in ("Dict", "dict", "Any", "Mapping"):
                if p.name.value in self.request_names:
                    continue
                if last(default_name or "") in ("Depends", "Security", "Header", "Cookie", "Path", "Query"):
                    continue
                self._bind_param(p, BODY)
            elif p.annotation is None and last(default_name or "") == "Body":
                self._bind_param(p, BODY)

    def _bind_param(self, p: cst.Param, kind: str) -> None:
        taint = Taint(kind, True, p, f"parameter {p.name.value}")
        self.env[p.name.value] = taint
        self.result.params[p.name.value] = taint
        self.result.sources.append((p, taint))

    # -- what an expression holds ------------------------------------------------------------
    def _is_request(self, node: cst.BaseExpression) -> bool:
        resolved = self.ctx.resolve(node) or ""
        if resolved in FLASK_REQUESTS:
            return True
        name = dotted(node)
        return name is not None and (name in self.request_names or name == "self.request")

    def source(self, node: cst.BaseExpression) -> Taint | None:
        """The taint when ``node`` itself reads client data from the request."""
        if isinstance(node, cst.Await):
            return self.source(node.expression)
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
            attr = node.func.attr.value
            if attr in REQUEST_CALLS and self._is_request(node.func.value):
                return Taint(REQUEST_CALLS[attr], True, node, self.ctx.code_of(node).strip(), attr in RAW_CALLS)
            return None
        if isinstance(node, cst.Attribute):
            attr = node.attr.value
            if attr in REQUEST_ATTRS and self._is_request(node.value):
                raw = attr in RAW_ATTRS or (attr == "data" and (self.ctx.resolve(node.value) or "") in FLASK_REQUESTS)
                return Taint(REQUEST_ATTRS[attr], True, node, self.ctx.code_of(node).strip(), raw)
        return None

    def taint_of(self, node: cst.BaseExpression | None, depth: int = 0) -> Taint | None:
        if node is None or depth > 25:
            return None
        found = self.source(node)
        if found is not None:
            return found
        d = depth + 1
        if isinstance(node, cst.Name):
            return self.env.get(node.value)
        if isinstance(node, cst.Await):
            return self.taint_of(node.expression, d)
        if isinstance(node, cst.Subscript):
            base = self.taint_of(node.value, d)
            return _part(base)
        if isinstance(node, cst.Attribute):
            base = self.taint_of(node.value, d)
            if base is None:
                return None
            if node.attr.value in ("filename", "name") and base.kind in (FILES, BODY):
                return Taint(FILENAME, False, base.origin, base.what)
            if base.kind == FILENAME and node.attr.value in ("suffix", "suffixes", "stem"):
                return None
            if base.kind in (FILES, BODY):
                if node.attr.value in ("file", "stream"):
                    return base
                if node.attr.value in ("content_type", "mimetype", "size", "content_length", "headers"):
                    return None
                return _part(base)
            return None
        if isinstance(node, cst.Call):
            return self._call_taint(node, d)
        if isinstance(node, (cst.BinaryOperation,)):
            return _part(self.taint_of(node.left, d) or self.taint_of(node.right, d))
        if isinstance(node, cst.FormattedString):
            for part in node.parts:
                if isinstance(part, cst.FormattedStringExpression):
                    t = self.taint_of(part.expression, d)
                    if t is not None:
                        return _part(t)
            return None
        if isinstance(node, cst.ConcatenatedString):
            return _part(self.taint_of(node.left, d) or self.taint_of(node.right, d))
        if isinstance(node, cst.BooleanOperation):
            return self.taint_of(node.left, d) or self.taint_of(node.right, d)
        if isinstance(node, cst.IfExp):
            return self.taint_of(node.body, d) or self.taint_of(node.orelse, d)
        if isinstance(node, cst.Dict):
            for el in node.elements:
                if isinstance(el, cst.StarredDictElement):
                    t = self.taint_of(el.value, d)
                    if t is not None:
                        return t
                else:
                    t = self.taint_of(el.value, d)
                    if t is not None:
                        return _part(t)
            return None
        if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
            for el in node.elements:
                t = self.taint_of(el.value, d)
                if t is not None:
                    return _part(t)
            return None
        if isinstance(node, (cst.ListComp, cst.GeneratorExp, cst.SetComp)):
            return _part(self.taint_of(node.for_in.iter, d))
        if isinstance(node, cst.DictComp):
            return self.taint_of(node.for_in.iter, d)
        if isinstance(node, cst.NamedExpr):
            return self.taint_of(node.value, d)
        return None

    def _call_taint(self, node: cst.Call, depth: int) -> Taint | None:
        name = self.ctx.resolve(node.func) or ""
        short = last(name)
        if isinstance(node.func, cst.Name) and node.func.value in self.helpers:
            return self.helpers[node.func.value]
        if is_conversion(self.ctx, node):
            return None
        if isinstance(node.func, cst.Attribute):
            receiver = self.taint_of(node.func.value, depth)
            if receiver is not None and receiver.kind == FILENAME and short in ("split", "rsplit", "partition",
                                                                                "rpartition", "endswith", "startswith"):
                return None  # the extension, not a path
            if receiver is not None:
                if short in ("get", "getlist", "getone", "getall", "pop"):
                    if arg(node, keyword="type") is not None or (short in ("get", "getlist") and arg(node, 2) is not None):
                        return None
                    return _part(receiver)
                if short in PROPAGATING_METHODS:
                    return receiver if short in ("copy", "to_dict", "dict", "items", "values", "keys", "lists") else _part(receiver)
                return None
        if name in PATH_CALLS and name not in ("werkzeug.utils.safe_join", "flask.safe_join"):
            for a in node.args:
                t = self.taint_of(a.value, depth)
                if t is not None:
                    return _part(t)
            return None
        if name in PASSING_CALLS or short in ("loads",) and name.split(".", 1)[0] in NOT_VALIDATING_ROOTS:
            first = node.args[0].value if node.args else None
            taint = self.taint_of(first, depth)
            return Taint(taint.kind, taint.whole, taint.origin, taint.what) if taint is not None else None
        first = node.args[0].value if node.args and node.args[0].keyword is None else None
        taint = self.taint_of(first, depth) if first is not None else None
        if taint is not None and taint.raw and not isinstance(node.func, cst.Attribute) or \
                taint is not None and taint.raw and short.startswith(("parse", "load", "decode", "read")):
            # A parser of the raw body: its result is the parsed client data.
            return Taint(taint.kind, True, taint.origin, taint.what)
        return None

    # -- traversal -----------------------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return node is self.func

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def _bind(self, target: cst.BaseExpression, taint: Taint | None) -> None:
        if isinstance(target, cst.Name):
            if taint is None:
                self.env.pop(target.value, None)
            else:
                self.env[target.value] = taint
        elif isinstance(target, (cst.Tuple, cst.List)):
            for el in target.elements:
                self._bind(el.value, _part(taint))
        elif isinstance(target, cst.StarredElement):
            self._bind(target.value, taint)

    def _bind_pairs(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        if isinstance(target, (cst.Tuple, cst.List)) and isinstance(value, (cst.Tuple, cst.List)) \
                and len(target.elements) == len(value.elements):
            for t, v in zip(target.elements, value.elements):
                self._bind_pairs(t.value, v.value)
            return
        self._bind(target, self.taint_of(value))

    def _assign_sink(self, node: cst.CSTNode, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        if isinstance(target, cst.Attribute):
            taint = self.taint_of(value)
            if taint is not None:
                self.result.attr_assigns.append((node, target, taint))
        elif isinstance(target, cst.Subscript):
            taint = self.taint_of(value)
            if taint is not None:
                self.result.subscript_assigns.append((node, target, taint))

    def leave_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            self._assign_sink(node, t.target, node.value)
        for t in node.targets:
            self._bind_pairs(t.target, node.value)

    def leave_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._assign_sink(node, node.target, node.value)
            self._bind_pairs(node.target, node.value)

    def leave_AugAssign(self, node: cst.AugAssign) -> None:
        taint = self.taint_of(node.value)
        if taint is not None and isinstance(node.target, cst.Name):
            self.env[node.target.value] = _part(taint)  # type: ignore[assignment]

    def leave_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(node.target, self.taint_of(node.value))

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target, _part(self.taint_of(node.iter)))

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._bind(node.target, _part(self.taint_of(node.iter)))

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._bind(node.asname.name, self.taint_of(node.item))

    def visit_If(self, node: cst.If) -> None:
        self._check_test(node.test, node.body)

    def visit_While(self, node: cst.While) -> None:
        self._check_test(node.test, node.body)

    def visit_Assert(self, node: cst.Assert) -> None:
        self._mark_checked(node.test)

    def _check_test(self, test: cst.BaseExpression, body: cst.BaseSuite) -> None:
        if _rejects(body):
            self._mark_checked(test)

    def _mark_checked(self, test: cst.BaseExpression) -> None:
        """Fields looked at in a test that rejects the request count as validated."""
        flow = self

        class _V(cst.CSTVisitor):
            def visit_Comparison(self, node: cst.Comparison) -> None:
                for t in [node.left] + [c.comparator for c in node.comparisons]:
                    taint = flow.taint_of(t)
                    if taint is not None:
                        flow.result.checked.add(id(taint.origin))

            def visit_Call(self, node: cst.Call) -> None:
                for a in node.args:
                    taint = flow.taint_of(a.value)
                    if taint is not None:
                        flow.result.checked.add(id(taint.origin))
                if isinstance(node.func, cst.Attribute):
                    taint = flow.taint_of(node)
                    if taint is not None:
                        flow.result.checked.add(id(taint.origin))

            def visit_Subscript(self, node: cst.Subscript) -> None:
                taint = flow.taint_of(node)
                if taint is not None:
                    flow.result.checked.add(id(taint.origin))

            def visit_Name(self, node: cst.Name) -> None:
                taint = flow.env.get(node.value)
                if taint is not None and not taint.whole:
                    flow.result.checked.add(id(taint.origin))

        walk(test, _V())

    def visit_Call(self, node: cst.Call) -> None:
        name = self.ctx.resolve(node.func) or ""
        short = last(name)
        tainted = []
        for a in node.args:
            t = self.taint_of(a.value)
            if t is not None:
                tainted.append((a, t))
        receiver = self.taint_of(node.func.value) if isinstance(node.func, cst.Attribute) else None
        src = self.source(node)
        if src is None and isinstance(node.func, cst.Name) and node.func.value in self.helpers:
            src = self.helpers[node.func.value]
        if src is not None:
            self.result.sources.append((node, src))
            self._call_funcs.add(id(node.func))
        if is_validating_call(self.ctx, node) and not (short in ("get", "pop") and receiver is not None):
            for _, t in tainted:
                self.result.validated.add(id(t.origin))
            if receiver is not None and short not in PROPAGATING_METHODS:
                self.result.validated.add(id(receiver.origin))
            if not tainted and short in HANDLER_VALIDATION_LAST:
                self.result.handler_validated = True
            return
        if tainted or receiver is not None:
            self.result.calls.append(CallEvent(node, name, tainted, receiver))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if id(node) in self._call_funcs:
            return
        src = self.source(node)
        if src is not None:
            self.result.sources.append((node, src))

    def visit_Return(self, node: cst.Return) -> None:
        self.result.returns.append((node, self.taint_of(node.value) if node.value is not None else None))


def _part(taint: Taint | None) -> Taint | None:
    if taint is None or not taint.whole:
        return taint
    return Taint(taint.kind, False, taint.origin, taint.what, taint.raw)


def analyze_flow(ctx: FileContext, func: cst.FunctionDef, handler: Handler | None) -> FlowResult:
    """Follow client data through ``func`` (memoised per file)."""
    key = ("requests.flow", id(func), handler is None)
    if key in ctx.cache:
        return ctx.cache[key]
    result = request_flow(ctx, func, handler).result
    if handler is not None and decorator_validates(ctx, func):
        result.handler_validated = True
    ctx.cache[key] = result
    return result


def request_flow(ctx: FileContext, func: cst.FunctionDef, handler: Handler | None) -> RequestFlow:
    """The finished flow of ``func``: ``taint_of`` then answers with the bindings as they
    are at the end of the function (memoised per file)."""
    key = ("requests.flow-visitor", id(func), handler is None)
    if key not in ctx.cache:
        flow = RequestFlow(ctx, func, handler)
        if handler is not None:
            flow.helpers = module_request_helpers(ctx)
        walk(func, flow)
        ctx.cache[key] = flow
    return ctx.cache[key]
