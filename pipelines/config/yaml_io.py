"""YAML with line numbers, and schema validation whose errors name the file, line and field.

Every configuration loader goes through :func:`load_yaml` (parse, cached, with the line of every
mapping key and list item) and :func:`validate_model` (a pydantic model; the first error becomes a
:class:`~pipelines.errors.ConfigError` naming file, line and dotted field).
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from pipelines.errors import ConfigError

__all__ = ["deep_merge", "line_of", "load_validated", "load_yaml", "plain", "validate_model"]

M = TypeVar("M", bound=BaseModel)


# libyaml's parser when PyYAML has it (7x faster on a 2,000-station network file, measured); its
# nodes carry the same line marks.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


#: Largest number of nodes a document may expand to through its aliases (a "billion laughs"
#: file of a few hundred bytes expands to 10^9 and would hang validation, not the parser).
MAX_EXPANDED_NODES = 1_000_000


def _expanded_size(root: yaml.Node) -> int:
    """Nodes of ``root`` with every alias expanded, counted without expanding (memoised)."""
    size: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in size:
            continue
        if isinstance(node, yaml.ScalarNode):
            size[id(node)] = 1
            continue
        kids = (
            [v for kv in node.value for v in kv]
            if isinstance(node, yaml.MappingNode)
            else node.value
        )
        if done:
            size[id(node)] = min(1 + sum(size.get(id(k), 0) for k in kids), 10 * MAX_EXPANDED_NODES)
        else:
            stack.append((node, True))
            stack.extend((k, False) for k in kids if id(k) not in size)
    return size[id(root)]


class _LineLoader(_SafeLoader):
    """SafeLoader that remembers the line of every mapping key and refuses alias bombs."""

    def get_single_node(self):  # noqa: D102 - PyYAML's hook: the composed document
        node = super().get_single_node()
        if node is not None and _expanded_size(node) > MAX_EXPANDED_NODES:
            raise _AliasBomb(node.start_mark.line + 1)
        return node


class _AliasBomb(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


class _LinedDict(dict):
    lines: dict
    line: int


class _LinedList(list):
    lines: list[int]
    line: int


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    # a key given twice is an error (YAML would keep the last one in silence); keys a `<<`
    # merge brings in may be overridden, so mappings with a merge are left to PyYAML
    if not any(k.tag == "tag:yaml.org,2002:merge" for k, _ in node.value):
        first: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if isinstance(key, str | int) and key in first:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} appears twice (first on line {first[key]})",
                    key_node.start_mark,
                )
            if isinstance(key, str | int):
                first[key] = key_node.start_mark.line + 1
    mapping = _SafeLoader.construct_mapping(loader, node, deep=deep)
    lines = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, str | int):
            lines[key] = key_node.start_mark.line + 1
    mapping = _LinedDict(mapping)
    mapping.lines = lines
    mapping.line = node.start_mark.line + 1
    return mapping


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode, deep: bool = False) -> list:
    seq = _LinedList(_SafeLoader.construct_sequence(loader, node, deep=deep))
    seq.lines = [n.start_mark.line + 1 for n in node.value]
    seq.line = node.start_mark.line + 1
    return seq


def _construct_int(loader: _LineLoader, node: yaml.ScalarNode) -> int | str:
    # YAML 1.1 reads `0501` as octal 321 and `8:30` as base-60 510: a station code or a clock
    # time written without quotes would change in silence. They stay the text as written.
    text = loader.construct_scalar(node)
    if _AS_WRITTEN.fullmatch(text):
        return text
    return _SafeLoader.construct_yaml_int(loader, node)


def _construct_float(loader: _LineLoader, node: yaml.ScalarNode) -> float | str:
    text = loader.construct_scalar(node)
    if ":" in text:  # YAML 1.1 base-60 float (`1:30.5`)
        return text
    return _SafeLoader.construct_yaml_float(loader, node)


#: Plain scalars YAML 1.1 would read as octal (leading zero) or base-60 (with colons) integers.
_AS_WRITTEN = re.compile(r"[-+]?0[0-7_]+|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+")

_LineLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_LineLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


_YAML_CACHE: dict[tuple[str, str], Any] = {}


def load_yaml(path: Path) -> Any:
    """Parse a YAML file, keeping line numbers for error messages.

    Parsed files are cached by path and content hash (a scheduled run or a replay
    reads the same standards thousands of times); callers get a deep copy, so they may mutate it.

    Raises
    ------
    ConfigError
        If the file is missing or is not valid YAML.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(str(path), None, "", "file not found")
    raw = path.read_bytes()
    key = (str(path.resolve()), hashlib.blake2b(raw, digest_size=16).hexdigest())
    if key not in _YAML_CACHE:
        text = ""
        try:
            text = raw.decode("utf-8")
            _YAML_CACHE[key] = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
        except _AliasBomb as exc:
            why = f"aliases expand to more than {MAX_EXPANDED_NODES:,} nodes (an alias bomb?)"
            raise ConfigError(str(path), exc.line, "", why) from exc
        except yaml.MarkedYAMLError as exc:
            line = exc.problem_mark.line + 1 if exc.problem_mark else None
            raise ConfigError(str(path), line, "", f"invalid YAML: {exc.problem}") from exc
        except yaml.reader.ReaderError as exc:  # a control character: a position, no mark
            line = text[: exc.position].count("\n") + 1
            why = f"invalid YAML: {exc.reason} (character {exc.character!r})"
            raise ConfigError(str(path), line, "", why) from exc
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise ConfigError(str(path), line, "", f"not UTF-8: {exc}") from exc
    return copy.deepcopy(_YAML_CACHE[key])


def plain(obj: Any) -> Any:
    """Copy of parsed YAML as plain dicts and lists (without line bookkeeping)."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [plain(v) for v in obj]
    return obj


def deep_merge(base: dict, override: dict | None) -> dict:
    """Return a copy of ``base`` with ``override`` merged in.

    Mappings merge key by key; anything else (lists included) replaces.
    """
    out = copy.deepcopy(base)
    for k, v in (override or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
        if isinstance(getattr(out, "lines", None), dict) and k in getattr(override, "lines", {}):
            out.lines[k] = override.lines[k]  # errors point at the overriding line
    return out


def line_of(data: Any, loc: tuple) -> int | None:
    """Best line number for a pydantic error location inside parsed YAML ``data``."""
    node, line = data, getattr(data, "line", None)
    for part in loc:
        if isinstance(node, dict) and part in node:
            line = getattr(node, "lines", {}).get(part, line)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            lines = getattr(node, "lines", [])
            line = lines[part] if part < len(lines) else line
            node = node[part]
        else:
            break
    return line


def validate_model(model: type[M], data: Any, path: Path | str) -> M:
    """Validate parsed YAML against a pydantic model.

    Raises
    ------
    ConfigError
        For the first problem, naming the file, the line (when ``data`` came from
        :func:`load_yaml`) and the dotted field, e.g. ``champion.metric``.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # a misspelt key is reported as itself (not as the required field it was meant to be)
        extra = [e for e in errors if e["type"] == "extra_forbidden"]
        err = (extra or errors)[0]
        loc = tuple(p for p in err["loc"] if p != "__root__")
        field = ".".join(str(p) for p in loc) or "(top level)"
        msg = err["msg"]
        if extra and loc:
            msg = f"unknown field {loc[-1]!r}"
            missing = [
                str(e["loc"][-1])
                for e in errors
                if e["type"] == "missing" and tuple(e["loc"][:-1]) == loc[:-1]
            ]
            close = difflib.get_close_matches(str(loc[-1]), missing, n=1)
            if close:
                msg += f" (did you mean {close[0]!r}?)"
        raise ConfigError(str(path), line_of(data, loc), field, msg) from exc


def load_validated(model: type[M], path: Path) -> tuple[M, Any]:
    """Parse and validate a YAML file; return the model and the parsed (lined) data.

    Raises
    ------
    ConfigError
        If the file is missing, not YAML, not a mapping, or does not match the schema.
    """
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(str(path), getattr(data, "line", 1), "", "the file must be a mapping")
    return validate_model(model, data, path), data
