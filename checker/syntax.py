"""Fast, read-only walks over libcst trees.

libcst's visitor protocol rebuilds every node's children as it goes, which costs about as
much as parsing. A read-only walk only needs each node's children in source order: these
helpers read the node fields directly, in the order libcst's own
``_visit_and_replace_children`` visits them, without recursion.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from typing import Iterator

import libcst as cst

#: Nodes that hold only whitespace or punctuation.
TRIVIA: tuple[type, ...] = (
    cst.SimpleWhitespace, cst.ParenthesizedWhitespace, cst.TrailingWhitespace, cst.EmptyLine, cst.Newline,
    cst.Comment, cst.Comma, cst.Dot, cst.Colon, cst.Semicolon, cst.AssignEqual, cst.LeftParen, cst.RightParen,
    cst.LeftSquareBracket, cst.RightSquareBracket, cst.LeftCurlyBrace, cst.RightCurlyBrace, cst.ImportStar,
)
_TRIVIA_NAMES = frozenset(t.__name__ for t in TRIVIA)

# Each child is visited as ``visit_<kind>(self, "<field>", ...)`` in libcst's own code.
_FIELD = re.compile(r"visit_[a-z_]+\(\s*self,\s*\"([a-z_]+)\"")
_ORDER: dict[type, tuple[str, ...]] = {}
# type -> 0 not a node, 1 trivia, 2 node (isinstance against libcst's abstract bases is slow)
_KIND: dict[type, int] = {}


def child_fields(cls: type) -> tuple[str, ...]:
    """A node class's fields in the order libcst visits them, which is source order."""
    order = _ORDER.get(cls)
    if order is None:
        names = [f.name for f in dataclasses.fields(cls)]
        try:
            source = inspect.getsource(cls._visit_and_replace_children)
        except (OSError, TypeError):
            source = ""
        seen: list[str] = []
        for match in _FIELD.finditer(source):
            if match.group(1) in names and match.group(1) not in seen:
                seen.append(match.group(1))
        order = _ORDER[cls] = tuple(seen + [n for n in names if n not in seen])
    return order


def _kind(cls: type) -> int:
    kind = _KIND.get(cls)
    if kind is None:
        kind = _KIND[cls] = 0 if not issubclass(cls, cst.CSTNode) else 1 if issubclass(cls, TRIVIA) else 2
    return kind


def children(node: cst.CSTNode, trivia: bool = False) -> list[cst.CSTNode]:
    """The node's children in source order (whitespace and punctuation only if asked)."""
    least = 1 if trivia else 2
    out: list[cst.CSTNode] = []
    for name in child_fields(type(node)):
        value = getattr(node, name)
        kind = _KIND.get(type(value))
        if kind is None:
            kind = _kind(type(value))
        if kind >= least:
            out.append(value)
        elif kind == 0 and (type(value) is tuple or type(value) is list):
            for item in value:
                item_kind = _KIND.get(type(item))
                if item_kind is None:
                    item_kind = _kind(type(item))
                if item_kind >= least:
                    out.append(item)
    return out


def descendants(node: cst.CSTNode, *types: type) -> Iterator[cst.CSTNode]:
    """Every node below ``node`` (not itself), in source order; only of ``types`` if given."""
    stack = list(reversed(children(node)))
    while stack:
        current = stack.pop()
        if not types or isinstance(current, types):
            yield current
        stack.extend(reversed(children(current)))


def wants_trivia(visitor: object) -> bool:
    return any(name.split("_", 1)[1] in _TRIVIA_NAMES for name in dir(type(visitor))
               if name.startswith(("visit_", "leave_")))


def walk(node: cst.CSTNode, visitor: cst.CSTVisitor) -> None:
    """What ``node.visit(visitor)`` does for a read-only visitor, several times faster:
    ``on_visit`` (``visit_<Node>``) before the children, which it may skip by returning
    False, and ``on_leave`` (``leave_<Node>``) after them. Whitespace and punctuation
    nodes are visited only when the visitor has methods for them or its own ``on_visit``."""
    trivia = wants_trivia(visitor) or type(visitor).on_visit is not cst.CSTVisitor.on_visit
    stack: list[tuple[cst.CSTNode, bool]] = [(node, False)]
    while stack:
        current, leaving = stack.pop()
        if leaving:
            visitor.on_leave(current)
            continue
        stack.append((current, True))
        if visitor.on_visit(current):
            stack.extend((child, False) for child in reversed(children(current, trivia)))
