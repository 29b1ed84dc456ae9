from __future__ import annotations

import re

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import FileRule
from rules._shared.sql import Built, StringFlow
from rules._shared.web import arg, string_value

EVAL = frozenset({"eval", "exec", "builtins.eval", "builtins.exec"})
# Calls that run their first argument through a shell.
SHELL_ALWAYS = frozenset({"os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput",
                          "commands.getoutput", "commands.getstatusoutput", "asyncio.create_subprocess_shell",
                          "popen2.popen2", "platform.popen"})
SHELL_METHODS = frozenset({"subprocess_shell"})  # loop.subprocess_shell
SUBPROCESS = frozenset({"subprocess.call", "subprocess.run", "subprocess.Popen", "subprocess.check_call",
                        "subprocess.check_output"})
# Deserialisers that run code embedded in the data.
UNSAFE_LOADERS = {
    "pickle.loads": "pickle", "pickle.load": "pickle", "pickle.Unpickler": "pickle",
    "cPickle.loads": "pickle", "cPickle.load": "pickle", "_pickle.loads": "pickle", "_pickle.load": "pickle",
    "dill.loads": "dill", "dill.load": "dill", "cloudpickle.loads": "pickle", "cloudpickle.load": "pickle",
    "jsonpickle.decode": "jsonpickle", "jsonpickle.loads": "jsonpickle",
    "shelve.open": "shelve", "pandas.read_pickle": "pickle", "marshal.loads": "marshal", "marshal.load": "marshal",
}
YAML_LOAD = frozenset({"yaml.load", "yaml.load_all"})
YAML_UNSAFE = frozenset({"yaml.unsafe_load", "yaml.unsafe_load_all"})
YAML_SAFE_LOADERS = frozenset({"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader", "FullLoader",
                               "CFullLoader"})
SHELL_SANITIZERS = frozenset({"quote", "int", "float", "len", "abs", "round", "escapeshellarg", "cmd_quote",
                              "shell_quote", "join_cmd", "isoformat", "uuid4", "hex"})
# Expressions whose text marks data from outside the process.
UNTRUSTED_HINTS = ("request.", "request(", ".recv(", "websocket", ".cookies", "upload", ".body", "params",
                   "b64decode", "urlsafe_b64decode", "requests.", "urlopen", "message")


STORAGE_WORDS = frozenset({"cache", "caches", "caching", "serializer", "serializers", "serialization", "pickler",
                           "picklers", "codec", "codecs", "migrations"})


def _path_words(text: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+", text)]


def _true(node: cst.BaseExpression | None) -> bool:
    return isinstance(node, cst.Name) and node.value == "True"


def _walk(node: cst.CSTNode):
    yield node
    for child in node.children:
        yield from _walk(child)


class InsecureCodeExecution(FileRule):
    """
    ## What it does
    Finds code execution driven by data:
    - `eval`/`exec` of anything but a constant string;
    - commands run through a shell (`subprocess.*(..., shell=True)`, `os.system`,
      `os.popen`, `subprocess.getoutput`, `asyncio.create_subprocess_shell`) when the
      command is not constant; a command built by interpolating values (f-string, `%`,
      `+`, `.format()`) is reported with high confidence, a command passed in from
      elsewhere with medium confidence; `shlex.quote`d parts are fine;
    - deserialisers that run code embedded in the data: `pickle`/`cPickle`/`dill`/
      `cloudpickle` `load(s)`, `Unpickler`, `jsonpickle.decode`, `shelve.open`,
      `pandas.read_pickle`, `marshal.load(s)`; and `yaml.load` without a safe loader,
      `yaml.unsafe_load`, ruamel's `YAML(typ="unsafe")`.

    Not reported: a constant shell command (`subprocess.run("ls -l", shell=True)`:
    nothing outside the code decides what runs); deserialising a file whose path is a
    constant (a model shipped with the application); `eval`/`exec` and shell commands
    driven by the operator (`input()`, `sys.stdin`, Django management commands,
    click/typer/Flask CLI commands); pickling inside cache backends, serializer and
    codec classes and migrations (their job is to store or convert the application's
    own data).

    ## Why is this bad?
    Whoever controls the evaluated string, a shell word, or the pickled bytes runs
    their own code with the application's rights (CWE-94, CWE-78, CWE-502). Pass
    argument lists without `shell=True`, parse data with `json` or `yaml.safe_load`,
    and never unpickle data that crossed a trust boundary.

    ## Known limits
    Whether deserialised data can be tampered with is not decided: pickles read from a
    queue or a store outside a cache class are reported with medium confidence (anyone
    who can write to that store can run code in the application), with high confidence
    when the data visibly comes from a request or the network. Test code is skipped.
    """

    slug = "insecure-code-execution"
    checklist = "OWASP security"
    section = Section.SECURITY
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    languages = ("python", "javascript", "typescript")
    cwe = ("CWE-94", "CWE-78", "CWE-502")
    summary = "Data is executed as code, a shell command or a pickle"
    triggers = ("eval", "exec", "system", "popen", "shell", "pickle", "Pickle", "dill", "shelve", "marshal",
                "yaml", "YAML", "getoutput", "jsonpickle")
    bad = (
        Example(
            "import subprocess as sp\n"
            "import pickle\n"
            "from flask import request\n\n"
            "def thumbnail(name):\n"
            "    cmd = f'convert uploads/{name} -resize 64x64 thumbs/{name}'\n"
            "    sp.run(cmd, shell=True, check=True)  # flagged\n\n"
            "def restore():\n"
            "    return pickle.loads(request.get_data())  # flagged\n\n"
            "def calc():\n"
            "    return eval(request.args['expr'])  # flagged\n"
        ),
    )
    good = (
        Example(
            "import ast\n"
            "import shlex\n"
            "import subprocess\n"
            "import yaml\n\n"
            "def thumbnail(name):\n"
            "    subprocess.run(['convert', f'uploads/{name}', '-resize', '64x64', f'thumbs/{name}'], check=True)\n"
            "    subprocess.run(f'du -sh {shlex.quote(name)}', shell=True)\n"
            "    subprocess.run('ls -l /var/log', shell=True)\n\n"
            "def parse(text):\n"
            "    config = yaml.load(text, Loader=yaml.SafeLoader)\n"
            "    return ast.literal_eval(config['limits'])\n"
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._flow: StringFlow | None = None

    def _built(self, node: cst.BaseExpression) -> Built:
        if self._flow is None:
            self._flow = StringFlow(self.ctx, sanitizers=SHELL_SANITIZERS, fragment_words=frozenset())
        return self._flow.evaluate(node)

    def visit_Call(self, node: cst.Call) -> None:
        if self.ctx.is_test:
            return
        name = self.ctx.resolve(node.func) or ""
        if name in EVAL and isinstance(node.func, cst.Name):
            self._eval(node, name)
        elif name in SHELL_ALWAYS or (isinstance(node.func, cst.Attribute) and node.func.attr.value in SHELL_METHODS):
            self._shell(node, arg(node, 0) or arg(node, keyword="cmd") or arg(node, keyword="command"), f"`{name}()`")
        elif name in SUBPROCESS:
            if _true(arg(node, keyword="shell")):
                self._shell(node, arg(node, 0) or arg(node, keyword="args"), f"`{name}(shell=True)`")
        elif name in UNSAFE_LOADERS:
            self._deserialise(node, name, UNSAFE_LOADERS[name])
        elif name in YAML_LOAD:
            self._yaml(node, name)
        elif name in YAML_UNSAFE:
            self.checked()
            if string_value(arg(node, 0)) is None:
                self.report(node, f"`{name}` builds arbitrary Python objects: use `yaml.safe_load`")
        elif name in ("ruamel.yaml.YAML", "ruamel.yaml.main.YAML"):
            self.checked()
            if string_value(arg(node, keyword="typ")) == "unsafe":
                self.report(node, "ruamel `YAML(typ='unsafe')` builds arbitrary Python objects: use `typ='safe'`")

    def _operator_tool(self) -> bool:
        """Command-line tools run by the operator: Django management commands, click,
        typer and Flask CLI commands (their arguments are the operator's own)."""
        if "management/commands/" in self.ctx.path:
            return True
        for node in self.ctx.ancestors():
            if isinstance(node, cst.FunctionDef):
                for deco in node.decorators:
                    expr = deco.decorator.func if isinstance(deco.decorator, cst.Call) else deco.decorator
                    name = self.ctx.resolve(expr) or ""
                    if name.startswith(("click.", "typer.", "flask.cli.")) or name.endswith(
                            (".command", ".group", ".option", ".argument")):
                        return True
        return False

    def _typed_by_operator(self, node: cst.BaseExpression) -> bool:
        """``code = input(...)`` or ``sys.stdin.read()``: the operator's own input."""
        if isinstance(node, cst.Call):
            return (self.ctx.resolve(node.func) or "") in ("input", "builtins.input", "sys.stdin.read",
                                                             "sys.stdin.readline")
        if isinstance(node, cst.Name):
            func = self.ctx.enclosing_function()
            if func is None:
                return False
            values = [sub.value for sub in _walk(func) if isinstance(sub, cst.Assign) and any(
                isinstance(t.target, cst.Name) and t.target.value == node.value for t in sub.targets)]
            return any(self._typed_by_operator(v) for v in values)
        return False

    def _eval(self, node: cst.Call, name: str) -> None:
        code = arg(node, 0) or arg(node, keyword="source")
        if code is None:
            return
        self.checked()
        if self._operator_tool() or self._typed_by_operator(code):
            return
        built = self._built(code)
        if built.known and not built.dynamic:
            return
        if not built.known and built.safe:
            return
        self.report(node, f"`{name.rsplit('.', 1)[-1]}` of a non-constant string runs whatever code it holds: "
                          "parse the data instead (`ast.literal_eval`, `json.loads`, a lookup table)",
                    confidence=self._untrusted_confidence(code, built))

    def _shell(self, node: cst.Call, command: cst.BaseExpression | None, what: str) -> None:
        if command is None or isinstance(command, (cst.List, cst.Tuple)):
            return
        self.checked()
        if self._operator_tool():
            return
        built = self._built(command)
        if built.safe or (built.known and not built.dynamic):
            return
        if built.known and built.dynamic:
            part = " ".join(self.ctx.code_of(built.dynamic[0].node).split())[:40]
            self.report(node, f"shell command built from `{part}` runs through {what}: a `;`, `|` or `$(...)` in "
                              "it runs other commands; pass an argument list without `shell=True` (or `shlex.quote`)")
        else:
            self.report(node, f"non-constant shell command runs through {what}: pass an argument list without "
                              "`shell=True`", confidence=self._untrusted_confidence(command, built, Confidence.MEDIUM))

    def _storage_layer(self) -> bool:
        """Cache backends and serializer classes: pickling is their job; what they are
        fed is judged where data enters."""
        words = set(_path_words(self.ctx.path))
        cls = self.ctx.enclosing_class()
        if cls is not None:
            words |= set(_path_words(cls.name.value))
        return bool(words & STORAGE_WORDS)

    def _deserialise(self, node: cst.Call, name: str, kind: str) -> None:
        data = arg(node, 0) or arg(node, keyword="file") or arg(node, keyword="data") or \
            arg(node, keyword="filename") or arg(node, keyword="filepath_or_buffer")
        if data is None:
            return
        self.checked()
        if string_value(data) is not None or self._constant_file(data) or self._storage_layer():
            return
        confidence = self._untrusted_confidence(data, None, Confidence.MEDIUM)
        self.report(node, f"`{name}` runs code embedded in the data ({kind}): only load data the application "
                          "wrote itself to storage nobody else can write; prefer JSON", confidence=confidence)

    def _yaml(self, node: cst.Call, name: str) -> None:
        data = arg(node, 0) or arg(node, keyword="stream")
        if data is None or string_value(data) is not None:
            return
        self.checked()
        loader = arg(node, keyword="Loader") or arg(node, 1)
        loader_name = (self.ctx.resolve(loader) or "").rsplit(".", 1)[-1] if loader is not None else None
        if loader_name in YAML_SAFE_LOADERS:
            return
        if loader is not None and loader_name is None:
            return  # a loader chosen elsewhere
        what = f"`Loader={loader_name}`" if loader_name else "no safe `Loader`"
        self.report(node, f"`{name}` with {what} builds arbitrary Python objects: use `yaml.safe_load`")

    def _constant_file(self, data: cst.BaseExpression) -> bool:
        """``open("model.pkl", "rb")`` or a ``with open(CONSTANT) as f`` handle."""
        if isinstance(data, cst.Call) and (self.ctx.resolve(data.func) or "") in ("open", "io.open", "gzip.open",
                                                                                   "bz2.open", "lzma.open"):
            path = arg(data, 0)
            return string_value(path) is not None or self._built(path).safe if path is not None else False
        if isinstance(data, cst.Name):
            func = self.ctx.enclosing_function()
            scope = func if func is not None else self.ctx.module
            for sub in _walk(scope):
                if isinstance(sub, cst.WithItem) and isinstance(sub.asname, cst.AsName) and \
                        isinstance(sub.asname.name, cst.Name) and sub.asname.name.value == data.value:
                    return self._constant_file(sub.item)
        return False

    def _untrusted_confidence(self, node: cst.BaseExpression, built: Built | None,
                              otherwise: Confidence = Confidence.HIGH) -> Confidence:
        text = self.ctx.code_of(node)
        if any(hint in text for hint in UNTRUSTED_HINTS):
            return Confidence.HIGH
        if built is not None and built.dynamic:
            return Confidence.HIGH
        return otherwise
