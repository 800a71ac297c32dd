"""YAML for params.yaml: PyYAML's safe loader, minus two ways a setting silently goes wrong.

- A key given twice in one mapping is an error naming the key path and both lines (PyYAML
  keeps the last value without a word).
- Numbers in exponent form without a dot or without an exponent sign (`5e-5`, `1.0e5`) are
  floats, as in YAML 1.2 and as DVC's `-S` writes them; PyYAML (YAML 1.1) reads them as
  strings, which strict settings would then refuse.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from rftlab.errors import ConfigError


class ParamsLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 exponent floats (duplicate keys are checked by `load_yaml`)."""


ParamsLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def _refuse_duplicates(node: yaml.Node, source: str, path: str, visited: set[int]) -> None:
    if id(node) in visited:  # an alias: its node was checked where the anchor is
        return
    visited.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[tuple[str, Any], int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            where = f"{path}.{key}" if path else str(key)
            if key is not None:
                line = key_node.start_mark.line + 1
                if (key_node.tag, key) in first:
                    raise ConfigError(f"{source}: duplicate key {where} at line {line} "
                                      f"(first at line {first[(key_node.tag, key)]})")
                first[(key_node.tag, key)] = line
            _refuse_duplicates(value_node, source, where, visited)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _refuse_duplicates(item, source, f"{path}[{i}]", visited)


def load_yaml(text: str, source: str) -> Any:
    """Parse one YAML document; ConfigError (naming the line) for invalid YAML or a duplicate key."""
    loader = ParamsLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _refuse_duplicates(node, source, "", set())
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{source}: invalid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    finally:
        loader.dispose()
