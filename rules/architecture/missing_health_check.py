from __future__ import annotations

import re

from checker.model import Confidence, Example, Section, Severity
from checker.rule import ProjectContext, ProjectRule

HEALTH_PATH = re.compile(
    r"(?:^|[/^])(?:health|healthz|healthcheck|health[-_]check|ready|readyz|readiness|live|livez|liveness|"
    r"alive|ping|status|heartbeat)(?:$|[/$.?\\]|-check)",
    re.IGNORECASE,
)
HEALTH_HANDLER = re.compile(r"^(?:health|healthz|healthcheck|health_check|readiness|liveness|ping|heartbeat)",
                            re.IGNORECASE)


class MissingHealthCheck(ProjectRule):
    """
    ## What it does
    Reports a web application that declares routes but none that a load balancer or an
    orchestrator could probe: no `/health`, `/healthz`, `/ready`, `/livez`, `/ping`-style
    route in any of its frameworks' routing styles (decorators, URL patterns, route
    tables, Express routers).

    ## Why is this bad?
    Without a health endpoint, deployments cannot tell a starting or wedged instance from
    a healthy one: traffic is sent to instances that cannot serve it, and broken rollouts
    are not stopped.

    Only applications are judged: an application object (`Flask(...)`, `FastAPI()`...) or a
    Django project (settings with `ROOT_URLCONF`). Blueprints, routers and reusable Django
    apps without one are a library, deployed by someone else's application.

    ## Known limits
    The check is per repository: a repository holding several services passes as soon as
    one of them has a health route. Health checks served outside the application (a
    sidecar, a management port) are not seen; suppress the finding with a reason.
    """

    slug = "missing-health-check"
    checklist = "Health check endpoints implemented"
    section = Section.ARCHITECTURE
    severity = Severity.LOW
    confidence = Confidence.MEDIUM
    languages = ("python", "javascript", "typescript")
    summary = "The application has no health check endpoint"
    bad = (
        Example(
            "from flask import Flask\n\n"
            "app = Flask(__name__)  # flagged\n\n"
            "@app.get('/orders')\n"
            "def orders():\n"
            "    return []\n",
            path="app.py",
        ),
    )
    good = (
        Example(
            "from fastapi import FastAPI\n\n"
            "api = FastAPI()\n\n"
            "@api.get('/healthz', include_in_schema=False)\n"
            "async def healthz():\n"
            "    return {'status': 'ok'}\n",
            path="main.py",
        ),
    )

    def check(self, project: ProjectContext) -> None:
        routes = [f for f in project.facts("routes") if not project.is_test(f.path)]
        apps = [f for f in project.facts("apps") if not project.is_test(f.path)]
        django = [f for f in project.facts("django-projects") if not project.is_test(f.path)]
        if not apps and not django:
            return  # routes without an application: a library of blueprints or reusable apps
        apps = apps + django
        self.checked()
        for fact in routes:
            path = fact.data.get("path") or ""
            handler = fact.data.get("handler") or ""
            if HEALTH_PATH.search(path) or HEALTH_HANDLER.match(handler):
                return
        anchor = min(apps or routes, key=lambda f: (f.path, f.line))
        where = "application" if apps else "routes"
        self.report_at(anchor.path, anchor.line,
                       f"this {where} has {len(routes)} route(s) and no health check endpoint "
                       "(add a cheap `/healthz` that load balancers can probe)")
