"""``causal-priors <command> --help``: every config key with its type, default and one-line doc.

Generated from the config dataclasses themselves, so help cannot drift from the code. A field's doc is the
string literal right under it (CleanRL's convention, what ``tyro`` reads too) or, failing that, the comment
on its line (``#:`` or ``#``). The sources are parsed with :mod:`ast` and :mod:`tokenize`, nothing is
executed. (``tyro`` itself was not used: it builds ``--key value`` parsers, and our commands keep the
``key=value`` words with YAML presets and experiment files that ``causal_priors.config`` merges.)
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import io
import re
import textwrap
import tokenize
import typing
from typing import Any

#: width of the ``key: type = default`` column
KEY_WIDTH = 44


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """``{field name: one-line doc}`` of a dataclass, from its source (docstrings under fields, else comments)."""
    source = textwrap.dedent(inspect.getsource(cls))
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#:").strip()
    body = ast.parse(source).body[0]
    assert isinstance(body, ast.ClassDef)
    docs: dict[str, str] = {}
    statements = body.body
    for i, node in enumerate(statements):
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        after = statements[i + 1] if i + 1 < len(statements) else None
        if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str):
            text = after.value.value
        else:
            text = comments.get(node.end_lineno or node.lineno, "")
        docs[node.target.id] = one_line(text)
    return docs


def one_line(text: str) -> str:
    """The first sentence of a docstring on one line, with reST double backticks made single."""
    flat = " ".join(inspect.cleandoc(text).split()).replace("``", "`")
    end = re.search(r"\.\s+(?=[A-Z])", flat)  # a sentence ends before a capital ("e.g. x" does not end one)
    return flat[: end.start() + 1] if end else flat


def _type_name(annotation: Any) -> str:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", repr(annotation))
    return text.replace("typing.", "")


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return "???"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def config_keys(schema: type, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """``(dotted key, type, default, doc)`` for every leaf key of a dataclass schema, nested ones expanded."""
    hints = typing.get_type_hints(schema)
    docs = field_docs(schema)
    rows: list[tuple[str, str, str, str]] = []
    for f in dataclasses.fields(schema):
        key = f"{prefix}{f.name}"
        kind = hints.get(f.name, f.type)
        if dataclasses.is_dataclass(kind) and isinstance(kind, type):
            rows.extend(config_keys(kind, key + "."))
            continue
        rows.append((key, _type_name(f.type), _show(_default(f)), docs.get(f.name, "")))
    return rows


def describe(schema: type, prefix: str = "") -> str:
    """The key table of ``schema``: one line per key, ``key: type = default  doc``."""
    lines = []
    for key, kind, default, doc in config_keys(schema, prefix):
        head = f"  {key}: {kind} = {default}"
        lines.append(f"{head:<{KEY_WIDTH}} {doc}" if len(head) < KEY_WIDTH else f"{head}\n{'':<{KEY_WIDTH}} {doc}")
    return "\n".join(lines)


def command_help(usage: str, sections: list[tuple[str, type, str]], notes: str = "") -> str:
    """Help text: the usage line(s), then each ``(title, schema, key prefix)`` section's key table, then notes."""
    parts = [usage.strip()]
    for title, schema, prefix in sections:
        parts.append(f"{title}:\n{describe(schema, prefix)}")
    if notes:
        parts.append(notes.strip())
    return "\n\n".join(parts) + "\n"
