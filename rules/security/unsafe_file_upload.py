from __future__ import annotations

import re

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import ProjectContext, ProjectRule, dotted
from checker.syntax import walk
from rules._shared.requests import FILENAME, FILES, FlowResult, RequestFlow, Taint, analyze_flow, last, request_flow
from rules._shared.web import arg, current_handler

OPEN_CALLS = frozenset({"open", "io.open", "codecs.open", "aiofiles.open", "os.open", "anyio.open_file"})
MOVE_CALLS = frozenset({"shutil.copy", "shutil.copy2", "shutil.copyfile", "shutil.move", "os.rename", "os.replace",
                        "os.makedirs", "os.mkdir"})
PATH_WRITES = frozenset({"write_bytes", "write_text", "open", "touch", "mkdir", "rename", "replace"})
# Methods that store an upload object somewhere without checking it.
STORE_METHODS = frozenset({"save", "write", "copyfileobj", "upload_fileobj", "put_object", "upload_file", "put",
                           "writelines", "read", "seek", "close", "chunks"})
UPLOAD_PARAM = re.compile(r"^(?:up(?:loaded)?_?file|file|upload|attachment|document|doc|image|img|avatar|photo|f|fs|"
                          r"file_?storage|uploaded|media)s?$", re.IGNORECASE)
UPLOAD_ANNOTATION = re.compile(r"(?:FileStorage|UploadFile|UploadedFile|InMemoryUploadedFile|TemporaryUploadedFile)$")
SIZE_CHECK = re.compile(r"content_length|\.size\b|\blen\(|\.tell\(|seek\(\s*0\s*,\s*(?:2|os\.SEEK_END)|max_?(?:content_)?(?:length|size)|"
                        r"size_?limit|limit_?size|MAX_[A-Z_]*(?:SIZE|BYTES|LENGTH)|_SIZE\b|st_size|file_?size", re.IGNORECASE)
TYPE_CHECK = re.compile(r"content_type|mimetype|mime|splitext|endswith|\.suffix|extension|ALLOWED|allowed_file|imghdr|"
                        r"magic|filetype|Image\.open|guess_type|\.verify\(|validate_file|FileExtensionValidator|"
                        r"['\"]\.[A-Za-z0-9]{2,5}['\"]",
                        re.IGNORECASE)
LIMIT_SETTING = re.compile(r"MAX_CONTENT_LENGTH|client_max_body_size|LimitRequestBody|max_request_body_size|"
                           r"maxRequestBodySize|client_max_size", re.IGNORECASE)
LIMIT_KEYS = frozenset({"MAX_CONTENT_LENGTH", "max_content_length", "client_max_size", "max_body_size",
                        "MAX_FORM_MEMORY_SIZE", "max_form_memory_size"})
CONFIG_TEXT = re.compile(r"(?:^|/)(?:nginx[^/]*|[^/]*\.conf|Caddyfile|\.env[^/]*|[^/]*\.env|[^/]*\.ya?ml|[^/]*\.toml|"
                         r"[^/]*\.ini|[^/]*\.cfg|[^/]*\.json|httpd[^/]*|\.htaccess)$", re.IGNORECASE)
DEFAULT_LIMITED = frozenset({"aiohttp", "quart"})


class UnsafeFileUpload(ProjectRule):
    """
    ## What it does
    Looks at every place that accepts uploaded files (Flask `request.files`, Django
    `request.FILES`, FastAPI/Starlette `UploadFile` and form files, aiohttp multipart) and
    reports:

    * **high confidence**: the client's file name (`file.filename`, Django's `upload.name`)
      used to build a path that is opened or saved (`file.save(os.path.join(UPLOAD_DIR,
      file.filename))`, `open(f"media/{upload.name}", "wb")`, `Path(dir) / file.filename`)
      without `secure_filename`, `os.path.basename`, `get_valid_filename` or a generated
      name;
    * **low confidence**: an upload handler with no size limit (no check of the size in the
      handler, and for Flask no `MAX_CONTENT_LENGTH` anywhere in the repository, no
      `client_max_body_size` in a web server configuration beside it) or no type check
      (no content type, extension or content sniffing); Django's
      `DATA_UPLOAD_MAX_MEMORY_SIZE = None`, which removes the request body limit.

    Uploads handed to a form or serializer, or to a helper function of the project, are
    taken as checked there. aiohttp (`client_max_size`) and Quart have a default size
    limit.

    ## Why is this bad?
    A file name is client input: `../../app/templates/base.html` overwrites files outside
    the upload folder (path traversal, often remote code execution). Without a size limit
    one request can fill the disk or memory; without a type check the server stores and
    later serves HTML, SVG or executables as if they were images.

    ## Known limits
    Limits set by a proxy whose configuration is not in the repository are not seen;
    suppress the size finding with a reason. Django's storage API (`default_storage.save`)
    cleans names itself and is not reported.
    """

    slug = "unsafe-file-upload"
    checklist = "File uploads: validate MIME types and size limits"
    section = Section.SECURITY
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    scope = "file"
    languages = ("python", "javascript", "typescript")
    cwe = ("CWE-22", "CWE-434", "CWE-400")
    summary = "File uploads are stored unsafely or without limits"
    triggers = ("files", "FILES", "UploadFile", "filename", "MAX_CONTENT_LENGTH", "DATA_UPLOAD_MAX_MEMORY_SIZE",
                "multipart")
    bad = (
        Example(
            "import os\n"
            "from flask import Flask, request\n\n"
            "app = Flask(__name__)\n"
            "UPLOAD_DIR = '/srv/uploads'\n\n"
            "@app.post('/avatars')\n"
            "def upload_avatar():\n"
            "    avatar = request.files['avatar']  # flagged\n"
            "    avatar.save(os.path.join(UPLOAD_DIR, avatar.filename))  # flagged\n"
            "    return {'ok': True}, 201\n",
            path="app.py",
        ),
    )
    good = (
        Example(
            "import os\n"
            "from flask import Flask, request, abort\n"
            "from werkzeug.utils import secure_filename\n\n"
            "app = Flask(__name__)\n"
            "app.config['MAX_CONTENT_LENGTH'] = 2 * 1024 * 1024\n"
            "ALLOWED = {'png', 'jpg'}\n\n"
            "@app.post('/avatars')\n"
            "def upload_avatar():\n"
            "    avatar = request.files['avatar']\n"
            "    if avatar.filename.rsplit('.', 1)[-1].lower() not in ALLOWED:\n"
            "        abort(400)\n"
            "    avatar.save(os.path.join('/srv/uploads', secure_filename(avatar.filename)))\n"
            "    return {'ok': True}, 201\n",
            path="app.py",
        ),
    )

    # -- per file -------------------------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if self.ctx.is_test:
            return
        handler = current_handler(self.ctx, node)
        if handler is not None:
            flow = analyze_flow(self.ctx, node, handler)
            self._traversal(node, flow)
            self._upload(node, handler.framework, flow)
            return
        # A helper receiving an upload object: def store(upload: FileStorage): ...
        params = [p for p in node.params.params
                  if UPLOAD_ANNOTATION.search(self.ctx.code_of(p.annotation.annotation) if p.annotation else "")
                  or (p.annotation is None and UPLOAD_PARAM.match(p.name.value))]
        if not params or ".filename" not in self.ctx.code_of(node) and ".name" not in self.ctx.code_of(node):
            return
        flow_visitor = RequestFlow(self.ctx, node, None)
        for p in params:
            flow_visitor.env[p.name.value] = Taint(FILES, False, p, f"parameter `{p.name.value}`")
        walk(node, flow_visitor)
        self._traversal(node, flow_visitor.result, helper=True)

    def _traversal(self, func: cst.FunctionDef, flow: FlowResult, helper: bool = False) -> None:
        for event in flow.calls:
            name = event.name
            short = last(name)
            call = event.node
            path_args: list[tuple[cst.Arg, Taint]] = []
            if name in OPEN_CALLS or name in MOVE_CALLS:
                targets = call.args[:1] if name in OPEN_CALLS else call.args[1:2] if name.startswith("shutil") else call.args[:2]
                path_args = [(a, t) for a, t in event.args if a in targets or (a.keyword and a.keyword.value in ("file", "dst", "path"))]
            elif short == "save" and isinstance(call.func, cst.Attribute):
                receiver_text = (dotted(call.func.value) or "").lower()
                if "storage" in receiver_text or receiver_text in ("fs", "default_storage"):
                    continue
                if len([a for a in call.args if a.keyword is None]) >= 2 or arg(call, keyword="content") is not None:
                    continue  # Django's FieldFile/Storage.save(name, content): the storage cleans the name
                first = call.args[:1]
                path_args = [(a, t) for a, t in event.args if a in first or (a.keyword and a.keyword.value == "dst")]
            elif short in PATH_WRITES and event.receiver is not None and event.receiver.kind == FILENAME:
                path_args = [(call.args[0] if call.args else cst.Arg(call.func), event.receiver)]
            for _, taint in path_args:
                if taint.kind == FILENAME:
                    self.checked()
                    self.record({"kind": "traversal", "what": _code(self.ctx, call.func)}, call)
                    return

    def _upload(self, func: cst.FunctionDef, framework: str, flow: FlowResult) -> None:
        uploads = [(node, t) for node, t in flow.sources if t.kind == FILES]
        if not uploads:
            return
        state = request_flow(self.ctx, func, current_handler(self.ctx, func))
        used = any(t.kind in (FILES, FILENAME) for t in state.env.values()) or any(
            any(t.kind in (FILES, FILENAME) for _, t in e.args) or (e.receiver is not None and e.receiver.kind in (FILES, FILENAME))
            for e in flow.calls)
        if not used:
            return  # only tested (``if request.FILES: ...``), never read
        node, taint = uploads[0]
        if any(flow.by_validator(t) for _, t in uploads):
            return
        # Handed to a project helper: taken as checked there.
        for event in flow.calls:
            if any(t.kind == FILES for _, t in event.args):
                short = last(event.name)
                if short not in STORE_METHODS and event.name not in OPEN_CALLS and not short.startswith("copy"):
                    return
        code = self.ctx.code_of(func)
        self.checked()
        self.record({"kind": "upload", "framework": framework, "size": bool(SIZE_CHECK.search(code)),
                     "type": bool(TYPE_CHECK.search(code))}, node)

    # -- settings ------------------------------------------------------------------------------------
    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            t = target.target
            key = t.value if isinstance(t, cst.Name) else t.attr.value if isinstance(t, cst.Attribute) else None
            if isinstance(t, cst.Subscript) and len(t.slice) == 1 and isinstance(t.slice[0].slice, cst.Index):
                value = t.slice[0].slice.value
                key = value.evaluated_value if isinstance(value, cst.SimpleString) else None  # type: ignore[assignment]
            self._setting(node, key, node.value)

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self._setting(node, node.keyword.value, node.value)

    def visit_DictElement(self, node: cst.DictElement) -> None:
        if isinstance(node.key, cst.SimpleString):
            self._setting(node, node.key.evaluated_value, node.value)  # type: ignore[arg-type]

    def _setting(self, node: cst.CSTNode, key, value: cst.BaseExpression) -> None:
        if not isinstance(key, str):
            return
        none = isinstance(value, cst.Name) and value.value == "None"
        if key in LIMIT_KEYS and not none:
            self.record({"kind": "limit", "what": key}, node)
        elif key == "DATA_UPLOAD_MAX_MEMORY_SIZE" and none and not self.ctx.is_test:
            self.record({"kind": "unlimited", "what": key}, node)

    # -- the project -----------------------------------------------------------------------------------
    def check(self, project: ProjectContext) -> None:
        facts = [f for f in project.facts(self.slug) if not project.is_test(f.path)]
        limited = any(f.data["kind"] == "limit" for f in facts) or self._limit_in_config(project)
        for fact in facts:
            kind = fact.data["kind"]
            if kind == "traversal":
                self.report_at(fact.path, fact.line,
                               f"the client's file name is used in the path given to `{fact.data['what']}` without "
                               "`secure_filename`: `../` in it writes outside the upload folder")
            elif kind == "unlimited":
                self.report_at(fact.path, fact.line,
                               "`DATA_UPLOAD_MAX_MEMORY_SIZE = None` removes Django's request body size limit",
                               severity=Severity.MEDIUM, confidence=Confidence.MEDIUM)
            elif kind == "upload":
                self.checked()
                sized = fact.data["size"] or fact.data["framework"] in DEFAULT_LIMITED or limited
                missing = []
                if not sized:
                    missing.append("a size limit" + (" (`MAX_CONTENT_LENGTH`)" if fact.data["framework"] == "flask" else ""))
                if not fact.data["type"]:
                    missing.append("a type check (content type or extension)")
                if missing:
                    self.report_at(fact.path, fact.line, f"this upload is accepted without {' and '.join(missing)}",
                                   severity=Severity.MEDIUM if not sized else Severity.LOW, confidence=Confidence.LOW)

    def _limit_in_config(self, project: ProjectContext) -> bool:
        for file in project.files:
            if file.language == "python" or file.size > 300_000 or not CONFIG_TEXT.search(file.path):
                continue
            text = project.read_text(file.path) or ""
            if LIMIT_SETTING.search(text):
                return True
        return False


def _code(ctx, node: cst.CSTNode) -> str:
    text = " ".join(ctx.code_of(node).split())
    return text if len(text) <= 50 else text[:47] + "..."
