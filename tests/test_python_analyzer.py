"""The libcst analyzer's own walk and position pass agree with libcst's visitor and
PositionProvider, node for node."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from checker.analyzers.python import _Walker, positions_of
from checker.rule import FileContext
from checker.syntax import TRIVIA as _TRIVIA, walk

PROJECT = Path(__file__).resolve().parents[1]
SNIPPET = '''\
# leading comment
import os, sys as system  # trailing
from .models import (User,
                     Order)


@decorator(arg=1)
@other
async def handler(request, *, page: int = 1) -> dict:
    """Docstring."""
    if page > 1 and request.user:  # why
        return {"a": [x for x in range(page) if x], **other}
    elif (page
          == 0):
        pass
    else:
        try:
            value = await call(f"{page!r:>10}")
        except (KeyError, ValueError) as exc:
            raise RuntimeError("x") from exc
        finally:
            del value
    return lambda y=2: y ** 2


class Model(Base, metaclass=Meta):
    x: int = 1
    match x:
        case [1, *rest]:
            pass
'''
SOURCES = [SNIPPET, SNIPPET.replace("\n", "\r\n")] + [
    p.read_text(encoding="utf-8") for p in sorted((PROJECT / "fixtures").rglob("*.py"))[:60]
]


@pytest.mark.parametrize("index", range(len(SOURCES)))
def test_positions_match_libcst(index: int) -> None:
    module = cst.parse_module(SOURCES[index])
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    mine = positions_of(module, None)
    for node, rng in expected.items():
        assert mine[id(node)] == (rng.start.line, rng.start.column, rng.end.line, rng.end.column), node
    # Asked for a few nodes only, the same answers.
    some = [n for n in expected if isinstance(n, (cst.Call, cst.FunctionDef, cst.IndentedBlock, cst.Name))][:40]
    few = positions_of(module, some)
    assert {k: few[k] for k in map(id, some)} == {id(n): mine[id(n)] for n in some}


class _Order(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if not isinstance(node, _TRIVIA):
            self.seen.append(type(node).__name__)
        return True


def test_walk_visits_nodes_in_libcst_order() -> None:
    module = cst.parse_module(SNIPPET)
    reference = _Order()
    module.visit(reference)

    class Recorder:
        triggers = ()

        def __init__(self) -> None:
            self.seen: list[str] = []

    recorder = Recorder()
    ctx = FileContext("m.py", SNIPPET, module)
    walker = _Walker(ctx, [], [])
    walker._call = lambda table, node: recorder.seen.append(type(node).__name__) if table is walker.visits else None
    walker.walk(module)
    assert recorder.seen == [n for n in reference.seen if not n.startswith(("Comment",))]
    assert ctx.stack == [] and ctx.imports == {"os": "os", "system": "sys", "User": ".models.User",
                                                "Order": ".models.Order"}


def test_fast_walk_matches_node_visit() -> None:
    module = cst.parse_module(SNIPPET)

    class Names(cst.CSTVisitor):
        def __init__(self) -> None:
            super().__init__()
            self.events: list[str] = []

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            self.events.append("def " + node.name.value)
            return node.name.value != "handler"  # skip the handler's insides

        def visit_Name(self, node: cst.Name) -> None:
            self.events.append(node.value)

        def leave_ClassDef(self, node: cst.ClassDef) -> None:
            self.events.append("end " + node.name.value)

        def visit_Comment(self, node: cst.Comment) -> None:
            self.events.append(node.value)

    reference, mine = Names(), Names()
    module.visit(reference)
    walk(module, mine)
    assert mine.events == reference.events
    assert "# leading comment" in mine.events and "# why" not in mine.events and "page" not in mine.events
