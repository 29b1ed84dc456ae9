from __future__ import annotations

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import FileRule
from checker.syntax import walk
from rules._shared.web import arg


def _is_empty_body(func: cst.FunctionDef) -> bool:
    """Only ``pass``, ``...`` and strings (docstrings, notes)."""
    body = func.body
    stmts = body.body if isinstance(body, (cst.IndentedBlock, cst.SimpleStatementSuite)) else ()
    for stmt in stmts:
        smalls = stmt.body if isinstance(stmt, cst.SimpleStatementLine) else [stmt]
        for small in smalls:
            if isinstance(small, cst.Pass):
                continue
            if isinstance(small, cst.Expr) and isinstance(small.value, (cst.Ellipsis, cst.SimpleString,
                                                                         cst.ConcatenatedString)):
                continue
            return False
    return True


GENERATED = ("auto generated", "end alembic commands", "todo", "fixme", "xxx")


def _explained(func: cst.FunctionDef) -> bool:
    """Whether an empty body carries a comment saying why (``# nothing to undo: ...``);
    Alembic's generated markers and TODOs do not count."""
    comments: list[str] = []

    class _Comments(cst.CSTVisitor):
        def visit_Comment(self, node: cst.Comment) -> None:
            comments.append(node.value.lower())

    body = func.body
    if isinstance(body, cst.IndentedBlock):
        for stmt in body.body:  # the block's header (the ``def`` line's own comment) is not read
            walk(stmt, _Comments())
        for line in body.footer:
            walk(line, _Comments())
    return any(not any(word in c for word in GENERATED) for c in comments)


def _raises_not_implemented(func: cst.FunctionDef) -> bool:
    body = func.body
    stmts = body.body if isinstance(body, cst.IndentedBlock) else ()
    for stmt in stmts:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Raise):
                    exc = small.exc.func if isinstance(small.exc, cst.Call) else small.exc
                    if isinstance(exc, cst.Name) and exc.value in ("NotImplementedError", "Exception", "RuntimeError"):
                        return True
                elif not (isinstance(small, cst.Expr) and isinstance(small.value, (cst.SimpleString, cst.ConcatenatedString))):
                    return False
        else:
            return False
    return False


def _is_none(node: cst.BaseExpression | None) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


class MigrationWithoutRollback(FileRule):
    """
    ## What it does
    Finds database migrations that cannot be rolled back:

    * Alembic (and Flask-Migrate) revisions whose `downgrade()` does nothing (`pass`,
      `...`, only a docstring), raises `NotImplementedError`, or is missing while
      `upgrade()` changes something; an empty `downgrade()` with a comment explaining why
      nothing needs undoing (`# nothing to do: the data fix is harmless to keep`) is a
      declared decision and is accepted, Alembic's generated comments and TODOs are not;
    * Django migrations with `RunPython` operations that have no `reverse_code` and
      `RunSQL` operations that have no `reverse_sql` (Django then refuses to migrate
      backwards past them).

    An explicit no-op reverse (`migrations.RunPython.noop`, `migrations.RunSQL.noop`) is a
    declared decision that undoing the step needs no work, and is accepted. Django's schema
    operations (`AddField`, `CreateModel`...) reverse themselves and are not reported.

    ## Why is this bad?
    A deployment that goes wrong is undone by rolling the code back and the schema with it.
    A migration with no way down turns every failed release into a manual database repair
    under time pressure.

    ## Known limits
    The rule checks that a rollback exists, not that it undoes exactly what the upgrade did.
    """

    slug = "migration-without-rollback"
    checklist = "Database migrations with up() and down(); a rollback path for every change"
    section = Section.ARCHITECTURE
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    languages = ("python", "javascript", "typescript")
    summary = "A database migration has no working rollback"
    triggers = ("def upgrade", "RunPython", "RunSQL")
    bad = (
        Example(
            '"""add invoice status\n\nRevision ID: 3f2a1c9d8e7b\n"""\n'
            "import sqlalchemy as sa\n"
            "from alembic import op\n\n"
            "revision = '3f2a1c9d8e7b'\n"
            "down_revision = '9b1e0d2c4a55'\n\n"
            "def upgrade():\n"
            "    op.add_column('invoice', sa.Column('status', sa.String(20), nullable=True))\n\n"
            "def downgrade():  # flagged\n"
            "    pass\n",
            path="migrations/versions/3f2a1c9d8e7b_add_invoice_status.py",
        ),
        Example(
            "from django.db import migrations\n\n"
            "def backfill_slugs(apps, schema_editor):\n"
            "    Article = apps.get_model('blog', 'Article')\n"
            "    for article in Article.objects.filter(slug=''):\n"
            "        article.slug = str(article.pk)\n"
            "        article.save(update_fields=['slug'])\n\n"
            "class Migration(migrations.Migration):\n"
            "    dependencies = [('blog', '0007_article_slug')]\n"
            "    operations = [\n"
            "        migrations.RunPython(backfill_slugs),  # flagged\n"
            "    ]\n",
            path="blog/migrations/0008_backfill_slugs.py",
        ),
    )
    good = (
        Example(
            "import sqlalchemy as sa\n"
            "from alembic import op\n\n"
            "revision = '3f2a1c9d8e7b'\n"
            "down_revision = '9b1e0d2c4a55'\n\n"
            "def upgrade():\n"
            "    op.add_column('invoice', sa.Column('status', sa.String(20), nullable=True))\n\n"
            "def downgrade():\n"
            "    op.drop_column('invoice', 'status')\n",
            path="migrations/versions/3f2a1c9d8e7b_add_invoice_status.py",
        ),
        Example(
            "from django.db import migrations\n\n"
            "def backfill_slugs(apps, schema_editor):\n"
            "    Article = apps.get_model('blog', 'Article')\n"
            "    Article.objects.filter(slug='').update(slug='untitled')\n\n"
            "class Migration(migrations.Migration):\n"
            "    dependencies = [('blog', '0007_article_slug')]\n"
            "    operations = [\n"
            "        migrations.RunPython(backfill_slugs, migrations.RunPython.noop),\n"
            "        migrations.RunSQL('CREATE INDEX a_slug ON blog_article (slug)', reverse_sql='DROP INDEX a_slug'),\n"
            "    ]\n",
            path="blog/migrations/0008_backfill_slugs.py",
        ),
    )

    def visit_Module(self, node: cst.Module) -> None:
        if self.ctx.is_test:
            return
        functions = {s.name.value: s for s in node.body if isinstance(s, cst.FunctionDef)}
        upgrade = functions.get("upgrade")
        if upgrade is None or not self._alembic_revision(node):
            return
        self.checked()
        downgrade = functions.get("downgrade")
        if _is_empty_body(upgrade):
            return  # merge points and empty revisions change nothing
        if downgrade is None:
            self.report(upgrade.name, "this Alembic revision has no `downgrade()`: write the steps that undo "
                                      "`upgrade()` so a failed release can be rolled back")
        elif _is_empty_body(downgrade):
            if _explained(downgrade):
                return  # a comment declares that nothing needs undoing
            self.report(downgrade.name, "`downgrade()` does nothing, so rolling back leaves the schema changed by "
                                        "`upgrade()`: write the reverse steps")
        elif _raises_not_implemented(downgrade):
            self.report(downgrade.name, "`downgrade()` refuses to run: this revision cannot be rolled back; write "
                                        "the reverse steps (or a data-preserving alternative)")

    def _alembic_revision(self, node: cst.Module) -> bool:
        names: set[str] = set()
        for stmt in node.body:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    targets = small.targets if isinstance(small, cst.Assign) else \
                        [small] if isinstance(small, cst.AnnAssign) else []
                    for t in targets:
                        target = t.target
                        if isinstance(target, cst.Name):
                            names.add(target.value)
        return "revision" in names and "down_revision" in names or self.ctx.imported("alembic")

    def visit_Call(self, node: cst.Call) -> None:
        if self.ctx.is_test:
            return
        name = self.ctx.resolve(node.func) or ""
        last = name.rsplit(".", 1)[-1]
        if last not in ("RunPython", "RunSQL") or not (name.startswith("django.db.migrations") or "migrations" in name
                                                        or "/migrations/" in f"/{self.ctx.path}"):
            return
        self.checked()
        if last == "RunPython":
            reverse = arg(node, 1, keyword="reverse_code")
            if reverse is None or _is_none(reverse):
                self.report(node, "`RunPython` has no `reverse_code`, so this migration cannot be unapplied: pass a "
                                  "reverse function (or `migrations.RunPython.noop` when nothing needs undoing)")
        else:
            reverse = arg(node, 1, keyword="reverse_sql")
            if reverse is None or _is_none(reverse):
                self.report(node, "`RunSQL` has no `reverse_sql`, so this migration cannot be unapplied: give the SQL "
                                  "that undoes it (or `migrations.RunSQL.noop`)")
