from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from checker.model import Confidence, Example, Section, Severity
from checker.rule import FileRule, TextContext

SECRET_NAME = re.compile(r"(?i)(?:password|passwd|pass$|pwd$|secret|token|api_?key|apikey|private_?key|access_?key|"
                         r"auth_?key|credentials?|client_?secret)")
NOT_SECRET_NAME = re.compile(r"(?i)(?:_(?:FILE|PATH|DIR|URL|URI|ID|NAME|USER|USERNAME|HEADER|LENGTH|LEN|TTL|EXPIRY|"
                             r"EXPIRES|EXPIRATION|TIMEOUT|ENABLED|REQUIRED|MIN|MAX|SIZE|TYPE|ALGORITHM|FIELD|PARAM)$)")
PLACEHOLDER = re.compile(r"^(?:|\$\{?[A-Za-z_][A-Za-z0-9_]*(?::?[-=?][^}]*)?\}?|<[^>]*>|changeme|change_me|change-me|"
                         r"xxx+|\*+|none|null|false|true|dummy|placeholder|example|todo|secret|password|\.\.\.)$",
                         re.IGNORECASE)
TOOLCHAIN = re.compile(r"^(?:build-essential|build-base|gcc(?:-\d+)?|g\+\+(?:-\d+)?|make|cmake|clang|"
                       r"[a-z0-9.+\-]+-dev|[a-z0-9.+\-]+-devel|musl-dev|autoconf|automake|libtool|cargo|rust|"
                       r"golang|gfortran|pkg-config|pkgconf)$")
INSTALL = re.compile(r"\b(?:apt-get|apt|apk|yum|dnf|microdnf|zypper)\s+(?:-\S+\s+)*(?:install|add)\b")
REMOVE = re.compile(r"\b(?:apt-get|apt|apk|yum|dnf|zypper)\s+(?:-\S+\s+)*(?:purge|remove|del|autoremove)\b")
ROOT_USERS = frozenset({"root", "0", "0:0", "root:root", "root:0", "0:root"})
MARKER = re.compile(r"[ \t]+#[ \t]*(?:flagged|expect:[^\n]*)[ \t]*$", re.MULTILINE)
NON_ROOT_IMAGES = re.compile(r"(?:nonroot|rootless|non-root)", re.IGNORECASE)


@dataclass
class Instruction:
    line: int
    keyword: str
    args: str
    #: The physical lines the instruction spans: (line number, text).
    source: list[tuple[int, str]] = field(default_factory=list)

    def line_of(self, needle: str) -> int:
        """The physical line where ``needle`` first appears (the first line otherwise)."""
        for number, text in self.source:
            if needle in text:
                return number
        return self.line


@dataclass
class Stage:
    line: int
    image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)


def parse(text: str) -> list[Instruction]:
    """Instructions of a Dockerfile: continuation lines joined, comments dropped."""
    escape = "\\"
    lines = text.splitlines()
    for raw in lines[:5]:
        m = re.match(r"^#\s*escape\s*=\s*(\S)", raw)
        if m:
            escape = m.group(1)
    out: list[Instruction] = []
    buf: list[str] = []
    source: list[tuple[int, str]] = []
    start = 0
    for number, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if not buf:
            if not stripped or stripped.startswith("#"):
                continue
            start = number
        elif stripped.startswith("#") or not stripped:
            continue  # comments and blank lines inside a continuation
        source.append((number, stripped))
        if stripped.endswith(escape):
            buf.append(stripped[:-1])
            continue
        buf.append(stripped)
        out.append(_instruction(start, buf, source))
        buf, source = [], []
    if buf:
        out.append(_instruction(start, buf, source))
    return out


def _instruction(start: int, buf: list[str], source: list[tuple[int, str]]) -> Instruction:
    keyword, _, args = " ".join(buf).partition(" ")
    return Instruction(start, keyword.upper(), args.strip(), list(source))


def key_values(args: str) -> list[tuple[str, str]]:
    """``ENV``/``ARG`` arguments as (name, value) pairs (``ENV A=1 B="x y"``, ``ENV A 1``)."""
    try:
        tokens = shlex.split(args, posix=True)
    except ValueError:
        tokens = args.split()
    if not tokens:
        return []
    if "=" not in tokens[0]:
        name = tokens[0]
        return [(name, " ".join(tokens[1:]))] if len(tokens) > 1 else [(name, "")]
    pairs = []
    for token in tokens:
        name, sep, value = token.partition("=")
        pairs.append((name, value if sep else ""))
    return pairs


def _substitute(value: str, args: dict[str, str]) -> str | None:
    """``${VAR}``/``$VAR`` replaced from ARG defaults; None when a variable has no default."""
    missing = False

    def repl(m: re.Match) -> str:
        nonlocal missing
        name = m.group(1) or m.group(3)
        default = m.group(2)
        if name in args and args[name]:
            return args[name]
        if default:
            return default
        missing = True
        return ""

    out = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)", repl, value)
    return None if missing else out


class DockerfileHygiene(FileRule):
    """
    ## What it does
    Reads Dockerfiles (`Dockerfile`, `*.dockerfile`, `Containerfile`) and reports:

    * the final image running as root: no `USER` instruction in the final stage (or the
      stage it builds on), or `USER root` as the last one;
    * no `HEALTHCHECK` in the final stage (or `HEALTHCHECK NONE`);
    * base images that are not pinned: no tag or the `latest` tag (`FROM python`,
      `FROM node:latest`); a digest or a version tag is fine, build-argument images are
      resolved from `ARG` defaults;
    * secrets baked into the image: `ENV`/`ARG` with a secret-like name (password, secret,
      token, API key...) and a literal value (the value is never shown);
    * a single-stage build that installs a compiler toolchain (`build-essential`, `gcc`,
      `*-dev` packages) and keeps it in the image instead of building in a separate stage.

    ## Why is this bad?
    A process running as root turns any code-execution bug into control of the container
    and a step towards the host. Without a health check the runtime cannot tell a wedged
    container from a working one. `latest` makes builds irreproducible and lets an upstream
    change break production silently. `ENV` and `ARG` values are stored in the image
    metadata and history, readable by anyone who can pull it. Toolchains left in the final
    image make it larger and give an attacker a compiler.

    ## Known limits
    Users set by the base image (distroless `:nonroot`, some vendor images) are only known
    from tags and names containing `nonroot`/`rootless`. Health checks defined by the
    orchestrator (Kubernetes probes) are not seen; suppress the finding with that reason.
    """

    slug = "dockerfile-hygiene"
    checklist = "Docker multi-stage builds; health checks; security"
    section = Section.ARCHITECTURE
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    languages = ("dockerfile",)
    text_languages = ("dockerfile",)
    cwe = ("CWE-250",)
    summary = "The Dockerfile runs as root, lacks a health check, uses unpinned images or bakes in secrets"
    triggers = ("\x00dockerfile-only\x00",)
    bad = (
        Example(
            "FROM python:latest  # flagged\n"
            "ENV APP_HOME=/srv/app\n"
            "ENV STRIPE_API_KEY=sk_test_51Hx7QpLkq2V9d8f  # flagged\n"
            "WORKDIR /srv/app\n"
            "COPY . .\n"
            "RUN pip install --no-cache-dir -r requirements.txt\n"
            'CMD ["gunicorn", "app:create_app()"]\n',
            path="Dockerfile",
        ),
    )
    good = (
        Example(
            "FROM python:3.12-slim AS build\n"
            "RUN apt-get update && apt-get install -y --no-install-recommends build-essential\n"
            "COPY requirements.txt .\n"
            "RUN pip wheel --wheel-dir /wheels -r requirements.txt\n\n"
            "FROM python:3.12-slim\n"
            "ARG STRIPE_API_KEY\n"
            "COPY --from=build /wheels /wheels\n"
            "RUN pip install --no-cache-dir /wheels/* && useradd --create-home app\n"
            "COPY . /srv/app\n"
            "USER app\n"
            "HEALTHCHECK --interval=30s CMD curl -fsS http://localhost:8000/healthz || exit 1\n"
            'CMD ["gunicorn", "app:create_app()"]\n',
            path="Dockerfile",
        ),
    )

    def check_text(self, ctx: TextContext) -> None:
        if ctx.is_test:
            return
        # Test markers (`# flagged`, `# expect: slug`) trail the lines of examples and fixtures.
        text = MARKER.sub("", ctx.text)
        instructions = parse(text)
        global_args: dict[str, str] = {}
        stages: list[Stage] = []
        for ins in instructions:
            if ins.keyword == "FROM":
                parts = [p for p in ins.args.split() if not p.startswith("--")]
                image = parts[0] if parts else ""
                name = parts[2] if len(parts) >= 3 and parts[1].lower() == "as" else None
                stages.append(Stage(ins.line, image, name))
            elif not stages:
                if ins.keyword == "ARG":
                    for key, value in key_values(ins.args):
                        global_args[key] = value
            else:
                stages[-1].instructions.append(ins)
        if not stages:
            return
        self.checked()
        names = {s.name.lower(): s for s in stages if s.name}
        for stage in stages:
            self._check_base(stage, names, global_args)
        for ins in instructions:
            if ins.keyword in ("ENV", "ARG"):
                self._check_secrets(ins)
        self._check_final(stages, names)
        if len(stages) == 1:
            self._check_toolchain(stages[0])

    def _check_base(self, stage: Stage, names: dict[str, Stage], args: dict[str, str]) -> None:
        image = _substitute(stage.image, args)
        if image is None or not image or image.lower() == "scratch" or image.lower() in names:
            return
        if "@" in image:
            return  # pinned by digest
        last = image.rsplit("/", 1)[-1]
        tag = last.split(":", 1)[1] if ":" in last else None
        if tag is None:
            self.report_line(stage.line, f"base image `{image}` has no tag, so it means `latest`: pin a version "
                                         "(or a digest) for reproducible builds")
        elif tag.lower() == "latest":
            self.report_line(stage.line, f"base image `{image}` uses the moving `latest` tag: pin a version (or a "
                                         "digest) for reproducible builds")

    def _check_secrets(self, ins: Instruction) -> None:
        for name, value in key_values(ins.args):
            if not SECRET_NAME.search(name) or NOT_SECRET_NAME.search(name):
                continue
            if PLACEHOLDER.match(value.strip()) or value.strip().startswith("$"):
                continue
            self.report_line(ins.line_of(name), f"`{ins.keyword} {name}` bakes a secret into the image (it stays readable in "
                                       "the image metadata and history): pass it at run time or use a build secret "
                                       "mount (`RUN --mount=type=secret`)", severity=Severity.HIGH, secrets=[value])

    def _check_final(self, stages: list[Stage], names: dict[str, Stage]) -> None:
        final = stages[-1]
        chain = [final]
        seen = {id(final)}
        base = names.get(final.image.lower())
        while base is not None and id(base) not in seen:
            chain.append(base)
            seen.add(id(base))
            base = names.get(base.image.lower())
        user: Instruction | None = None
        health: Instruction | None = None
        for stage in chain:  # the final stage first: its settings win
            for ins in reversed(stage.instructions):
                if ins.keyword == "USER" and user is None:
                    user = ins
                if ins.keyword == "HEALTHCHECK" and health is None:
                    health = ins
        root_image = chain[-1].image
        problems: list[str] = []
        if user is None:
            if not NON_ROOT_IMAGES.search(root_image):
                problems.append("runs as root (no `USER` instruction)")
        elif user.args.split()[0].lower() in ROOT_USERS if user.args.split() else False:
            self.report_line(user.line, "the image ends with `USER root`, so the application runs as root: switch to "
                                        "an unprivileged user after the steps that need root")
        if health is None:
            problems.append("has no `HEALTHCHECK`")
        elif health.args.strip().upper() == "NONE":
            self.report_line(health.line, "`HEALTHCHECK NONE` turns off the container health check",
                             severity=Severity.LOW)
        if problems:
            fixes = []
            if any("root" in p for p in problems):
                fixes.append("switch to an unprivileged `USER`")
            if health is None:
                fixes.append("add a `HEALTHCHECK` that probes the service")
            severity = Severity.MEDIUM if any("root" in p for p in problems) else Severity.LOW
            self.report_line(final.line, f"the final image {' and '.join(problems)}: {'; '.join(fixes)}",
                             severity=severity)

    def _check_toolchain(self, stage: Stage) -> None:
        for ins in stage.instructions:
            if ins.keyword != "RUN" or not INSTALL.search(ins.args):
                continue
            if REMOVE.search(ins.args):
                continue
            found = []
            for segment in re.split(r"&&|;|\|\|", ins.args):
                if not INSTALL.search(segment):
                    continue
                for word in segment.split():
                    word = word.split("=", 1)[0]
                    if TOOLCHAIN.match(word) and word not in found:
                        found.append(word)
            if found:
                shown = ", ".join(f"`{w}`" for w in found[:4])
                self.report_line(ins.line_of(found[0]), f"this single-stage build installs build tools ({shown}) that stay in the "
                                           "final image: build in a separate stage and copy only the results",
                                 severity=Severity.LOW, confidence=Confidence.MEDIUM)
