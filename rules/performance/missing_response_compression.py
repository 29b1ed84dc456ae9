from __future__ import annotations

import re

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import ProjectContext, ProjectRule
from rules._shared.deps import depends_on
from rules._shared.web import string_value

SLUG = "missing-response-compression"
# Resolved names whose use turns compression on.
COMPRESSORS = frozenset({
    "starlette.middleware.gzip.GZipMiddleware", "fastapi.middleware.gzip.GZipMiddleware",
    "brotli_asgi.BrotliMiddleware", "starlette_compress.CompressMiddleware", "asgi_compress.CompressMiddleware",
    "flask_compress.Compress", "quart_compress.Compress", "sanic_compress.Compress",
    "django.views.decorators.gzip.gzip_page", "django.middleware.gzip.GZipMiddleware",
    "aiohttp_compress.compress_middleware", "litestar.config.compression.CompressionConfig",
})
COMPRESSOR_STRINGS = re.compile(r"GZipMiddleware|BrotliMiddleware|CompressionMiddleware|CompressMiddleware|"
                                r"compression_middleware")
COMPRESSION_PACKAGES = ("flask-compress", "brotli-asgi", "starlette-compress", "django-compression-middleware",
                        "aiohttp-compress", "quart-compress", "sanic-compress", "asgi-compress")
# npm packages that compress the responses of Node applications.
NPM_COMPRESSION = re.compile(r'"(?:compression|@fastify/compress|fastify-compress|koa-compress|shrink-ray-current|'
                             r'@nestjs/compression)"\s*:')
# Reverse-proxy configuration that compresses responses.
PROXY_FILES = re.compile(r"(?:^|/)(?:nginx[^/]*\.conf|[^/]*\.nginx|Caddyfile|httpd\.conf|apache[^/]*\.conf|"
                         r"traefik[^/]*\.ya?ml|docker-compose[^/]*\.ya?ml|compose[^/]*\.ya?ml|haproxy[^/]*\.cfg)$|"
                         r"(?:^|/)(?:nginx|caddy|apache|proxy|deploy|k8s|kubernetes|helm|ops|infra)/.*"
                         r"\.(?:conf|ya?ml|cfg|tpl)$", re.IGNORECASE)
PROXY_COMPRESSION = re.compile(r"^\s*(?:gzip|brotli|zstd)\s+on\s*;|^\s*encode\s+(?:gzip|zstd|br)|"
                               r"AddOutputFilterByType\s+DEFLATE|SetOutputFilter\s+DEFLATE|\bcompress:\s*\{?|"
                               r"middlewares\.[\w-]+\.compress|use-gzip:\s*\"?true|compression\s+algo",
                               re.IGNORECASE | re.MULTILINE)
ADVICE = {
    "flask": "`Compress(app)` from flask-compress",
    "fastapi": "`app.add_middleware(GZipMiddleware, minimum_size=1000)`",
    "starlette": "`Middleware(GZipMiddleware, minimum_size=1000)`",
    "django": "`django.middleware.gzip.GZipMiddleware` at the top of `MIDDLEWARE`",
    "aiohttp": "`response.enable_compression()` or a compressing middleware",
    "express": "`app.use(compression())` from the compression package",
}


class MissingResponseCompression(ProjectRule):
    """
    ## What it does
    Reports a web application that compresses none of its responses: no compression
    middleware in the code (Starlette/FastAPI `GZipMiddleware`, `BrotliMiddleware`,
    flask-compress `Compress(app)`, Django `GZipMiddleware` or `@gzip_page`, aiohttp
    compression), none among the declared dependencies (requirements, pyproject, and for
    Express applications `compression` in `package.json`), and no
    reverse-proxy configuration in the repository that compresses (nginx `gzip on;`,
    Caddy `encode gzip`, Apache `DEFLATE`, a Traefik `compress` middleware). It reports
    only when the repository defines an application (an app object, or Django settings
    with `MIDDLEWARE`).

    ## Why is this bad?
    JSON and HTML shrink to a fifth or less when compressed. Without it every response
    costs several times the bandwidth and transfer time, which users on slow networks feel
    on every page, and egress is paid for by the byte.

    ## Known limits
    Compression configured outside the repository (a CDN, a load balancer, a proxy
    configured elsewhere) is not visible: suppress the finding with a reason. The check is
    per repository, not per application.
    """

    slug = SLUG
    checklist = "Response compression enabled"
    section = Section.PERFORMANCE
    severity = Severity.LOW
    confidence = Confidence.LOW
    languages = ("python", "javascript", "typescript")
    summary = "The application does not compress its responses"
    triggers = ("GZip", "Gzip", "gzip", "Brotli", "Compress", "compress", "MIDDLEWARE")
    bad = (
        Example(
            "from fastapi import FastAPI\n\n"
            "app = FastAPI(title='orders')  # flagged\n\n"
            "@app.get('/orders')\n"
            "async def orders():\n"
            "    return []\n",
            path="main.py",
        ),
    )
    good = (
        Example(
            "from fastapi import FastAPI\n"
            "from fastapi.middleware.gzip import GZipMiddleware\n\n"
            "app = FastAPI(title='orders')\n"
            "app.add_middleware(GZipMiddleware, minimum_size=1000)\n\n"
            "@app.get('/orders')\n"
            "async def orders():\n"
            "    return []\n",
            path="main.py",
        ),
    )

    # -- per file: compression in code, and Django settings ---------------------------------
    def visit_Name(self, node: cst.Name) -> None:
        self._symbol(node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._symbol(node)

    def _symbol(self, node: cst.Name | cst.Attribute) -> None:
        if self.ctx.is_test:
            return
        name = self.ctx.resolve(node) or ""
        if name in COMPRESSORS:
            self.record({"t": "compression", "via": name}, node)

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        if self.ctx.is_test:
            return
        value = string_value(node) or ""
        if COMPRESSOR_STRINGS.search(value) and "." in value:
            self.record({"t": "compression", "via": value}, node)

    def visit_Assign(self, node: cst.Assign) -> None:
        if self.ctx.is_test:
            return
        for t in node.targets:
            if isinstance(t.target, cst.Name) and t.target.value == "MIDDLEWARE" and \
                    isinstance(node.value, (cst.List, cst.Tuple)):
                entries = [string_value(e.value) or "" for e in node.value.elements]
                if any(e.startswith("django.") for e in entries):
                    self.record({"t": "django-settings"}, node)

    # -- the project -------------------------------------------------------------------------
    def check(self, project: ProjectContext) -> None:
        apps = [f for f in project.facts("apps") if not project.is_test(f.path)]
        own = [f for f in project.facts(SLUG) if not project.is_test(f.path)]
        django = [f for f in own if f.data["t"] == "django-settings"]
        anchors = [(f.path, f.line, f.data.get("framework") or "") for f in apps] + \
                  [(f.path, f.line, "django") for f in django]
        if not anchors:
            return
        self.checked()
        if any(f.data["t"] == "compression" for f in own):
            return
        if depends_on(project, *COMPRESSION_PACKAGES) is not None:
            return
        for file in project.files:
            if file.path.rsplit("/", 1)[-1] == "package.json" and "node_modules/" not in file.path \
                    and NPM_COMPRESSION.search(project.read_text(file.path) or ""):
                return
        for file in project.files:
            if PROXY_FILES.search(file.path) and file.size < 1_000_000:
                text = project.read_text(file.path) or ""
                if PROXY_COMPRESSION.search(text):
                    return
        path, line, framework = min(anchors, key=lambda a: (a[0], a[1]))
        how = ADVICE.get(framework, "a compression middleware")
        self.report_at(path, line, f"no response is compressed: the application has no compression middleware and the "
                                   f"repository no compressing proxy configuration; add {how}, or enable gzip/brotli "
                                   "in the reverse proxy")
