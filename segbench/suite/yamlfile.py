"""Reading a suite's YAML safely, with a line number for every key path.

Suite files are shared between labs, so they are read as untrusted input:
``yaml.SafeLoader`` only (no Python objects), UTF-8 only, no duplicate keys
(YAML would silently keep the last), and a bound on the size the document
expands to through aliases (a "billion laughs" file is a few lines that
expand to billions of values).
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["YamlProblem", "read_yaml", "MAX_VALUES"]

#: the most values (scalars, mappings, sequences) a suite may expand to
MAX_VALUES = 100_000


class YamlProblem(Exception):
    """The file cannot be used; ``line`` (1-based, or None) and a one-line message."""

    def __init__(self, line: int | None, message: str):
        self.line = line
        self.message = message
        super().__init__(message)


def read_yaml(raw: bytes) -> tuple[Any, dict[tuple, int]]:
    """Parse a suite file's bytes.

    Returns
    -------
    data : object
        What ``yaml.safe_load`` gives.
    lines : dict
        Each key path (tuple of keys / list indices) mapped to its 1-based line.

    Raises
    ------
    YamlProblem
        Not UTF-8, invalid YAML, a duplicate or complex key, an alias loop, or more than
        :data:`MAX_VALUES` values once aliases are expanded.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlProblem(line, f"not UTF-8 text (byte {raw[exc.start]:#04x}); save the file as UTF-8") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        msg = getattr(exc, "problem", None) or str(exc)
        raise YamlProblem(mark.line + 1 if mark else None, f"invalid YAML: {msg}; check indentation and quoting") from None
    except RecursionError:
        raise YamlProblem(None, "the document is nested too deeply to be a suite") from None
    if root is None:
        return None, {}
    _check_size_and_keys(root)
    lines: dict[tuple, int] = {}
    try:
        _index(root, (), lines)
    except RecursionError:
        raise YamlProblem(None, "the document is nested too deeply to be a suite") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:  # e.g. a tag SafeLoader cannot construct
        mark = getattr(exc, "problem_mark", None)
        msg = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise YamlProblem(mark.line + 1 if mark else None, f"invalid YAML: {msg}") from None
    return data, lines


def _check_size_and_keys(root: yaml.Node) -> None:
    """Count values with aliases expanded (each node's size computed once, so
    the check itself stays linear in the file), and refuse loops (an alias
    inside the value it names), duplicate keys and keys that are not scalars."""
    sizes: dict[int, int] = {}
    started: set[int] = set()  # nodes whose children are being counted
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if not children_done and id(node) in started:  # reached again from inside itself
            raise YamlProblem(
                node.start_mark.line + 1,
                "an alias refers to a value that contains it (a loop, e.g. `&a [*a]`); "
                "a suite holds no loops: remove the alias",
            )
        started.add(id(node))
        children = _children(node)
        if children_done or not children:
            sizes[id(node)] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[id(node)] > MAX_VALUES:
                raise YamlProblem(
                    node.start_mark.line + 1,
                    f"the document expands to more than {MAX_VALUES} values (through aliases); "
                    "a suite is far smaller: remove the alias chains",
                )
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise YamlProblem(
                        key_node.start_mark.line + 1,
                        "a key is a list or mapping (a complex key, `? [a, b]`); a suite's keys are "
                        "names: write the key as a plain name",
                    )
                key = key_node.value
                if key in seen:
                    raise YamlProblem(
                        key_node.start_mark.line + 1,
                        f"key {key!r} appears twice in one mapping (first on line {seen[key]}); keep one",
                    )
                seen[key] = key_node.start_mark.line + 1


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _index(node: yaml.Node, path: tuple, lines: dict[tuple, int]) -> None:
    """Line of every key path; runs after the size check, so it is bounded."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            sub = path + (key_node.value,)
            lines.setdefault(sub, key_node.start_mark.line + 1)
            _index(value_node, sub, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, path + (i,), lines)
