"""Project files: versioned JSON (graph, positions, training settings, dataset), atomic saves.

Loading never executes or unpickles anything, and any malformed file raises one
ProjectFileError saying what is wrong and where.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from ..files import write_atomic
from .graph import Edge, EdgeListError, Graph, Node, name_problem
from .layers import ParamError, canonical_type, get_spec
from .settings import TrainingSettings

FORMAT = "netbuilder-project"
VERSION = 1
SUFFIX = ".nbproj"


class ProjectFileError(Exception):
    """A project file cannot be read; the message names the file and what is wrong where."""


@dataclass
class Project:
    graph: Graph = field(default_factory=Graph)
    name: str = "Untitled"
    description: str = ""
    dataset: str = "digits"  # a built-in dataset name or a path the user chose
    training: TrainingSettings = field(default_factory=TrainingSettings)


# Each migration turns version N's data into version N+1's. None are needed yet; the
# loader applies them in order so old files keep opening when the format changes.
MIGRATIONS: dict[int, Callable[[dict], dict]] = {}


def project_to_dict(project: Project) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "name": project.name,
        "description": project.description,
        "nodes": [{"id": n.id, "type": n.type_id, "name": n.name, "params": _jsonable(n.params),
                   "position": [round(n.position[0], 2), round(n.position[1], 2)]}
                  for n in project.graph.nodes.values()],
        "edges": [{"source": e.source, "target": e.target} for e in project.graph.edges],
        "dataset": project.dataset,
        "training": project.training.to_dict(),
    }


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


def save_project(project: Project, path: str | os.PathLike) -> None:
    """Write atomically: a crash mid-save leaves the previous file intact."""
    text = json.dumps(project_to_dict(project), indent=2, ensure_ascii=False) + "\n"
    write_atomic(Path(path), text.encode("utf-8"))


def load_project(path: str | os.PathLike) -> Project:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ProjectFileError(f"Cannot read {path.name}: {error.strerror or error}") from None
    return project_from_bytes(raw, path.name)


def project_from_bytes(raw: bytes, source: str) -> Project:
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise ProjectFileError(f"{source} is not a netbuilder project (not UTF-8 text)") from None
    except (json.JSONDecodeError, ValueError) as error:
        where = f" at line {error.lineno}, column {error.colno}" if isinstance(error, json.JSONDecodeError) else ""
        raise ProjectFileError(f"{source} is damaged: it is not valid JSON{where}") from None
    except RecursionError:
        raise ProjectFileError(f"{source} is damaged: it nests too deeply") from None
    return project_from_dict(data, source)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed")


def project_from_dict(data: Any, source: str = "project") -> Project:
    reader = _Reader(source)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ProjectFileError(f"{source} is not a netbuilder project (no \"format\": \"{FORMAT}\")")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ProjectFileError(f"{source} has no valid format version")
    if version > VERSION:
        raise ProjectFileError(f"{source} was saved by a newer netbuilder (format version {version}; "
                               f"this one reads up to {VERSION}): please update netbuilder")
    for old in range(version, VERSION):
        data = MIGRATIONS[old](data)
    return reader.project(data)


class _Reader:
    """Checks each part of the data before use, so errors say where they are."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, where: str, what: str) -> ProjectFileError:
        return ProjectFileError(f"{self.source}: {where}: {what}")

    def get(self, data: dict, key: str, kind: type | tuple[type, ...], where: str, default: Any = ...) -> Any:
        if key not in data:
            if default is ...:
                raise self.fail(where, f'"{key}" is missing')
            return default
        value = data[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
            raise self.fail(where, f'"{key}" has the wrong type ({type(value).__name__})')
        return value

    def project(self, data: dict) -> Project:
        graph = Graph()
        for index, item in enumerate(self.get(data, "nodes", list, "file")):
            graph.insert_node(self.node(item, f"node {index + 1}", graph))
        edges = [self.edge(item, f"edge {index + 1}") for index, item in enumerate(self.get(data, "edges", list, "file"))]
        try:
            graph.insert_edges(edges)  # checked together: one sort finds cycles, not a search per edge
        except EdgeListError as error:
            raise self.fail(f"edge {error.index + 1}", str(error)) from None
        training = self.get(data, "training", dict, "file", {})
        try:
            settings = TrainingSettings.from_dict(training)
        except ParamError as error:
            raise self.fail("training settings", str(error)) from None
        return Project(graph=graph, name=self.get(data, "name", str, "file", "Untitled"),
                       description=self.get(data, "description", str, "file", ""),
                       dataset=self.get(data, "dataset", str, "file", "digits"), training=settings)

    def node(self, item: Any, where: str, graph: Graph) -> Node:
        if not isinstance(item, dict):
            raise self.fail(where, "is not an object")
        node_id = self.get(item, "id", str, where)
        if node_id in graph.nodes:
            raise self.fail(where, f"the id {node_id!r} is used twice")
        type_id = canonical_type(self.get(item, "type", str, where))
        if type_id is None:
            raise self.fail(where, f"unknown layer type {item['type']!r}")
        name = self.get(item, "name", str, where)
        where = f'{where} ("{name}")'
        problem = name_problem(name) or (f'the name "{name}" is used twice' if graph.node_named(name) else None)
        if problem:
            raise self.fail(where, problem)
        try:
            params = get_spec(type_id).normalize_params(self.get(item, "params", dict, where, {}))
        except ParamError as error:
            raise self.fail(where, str(error)) from None
        position = self.get(item, "position", list, where, [0.0, 0.0])
        if len(position) != 2 or not all(_finite_number(v) for v in position):
            raise self.fail(where, "the position must be two numbers")
        return Node(node_id, type_id, name, params, (float(position[0]), float(position[1])))

    def edge(self, item: Any, where: str) -> Edge:
        if not isinstance(item, dict):
            raise self.fail(where, "is not an object")
        return Edge(self.get(item, "source", str, where), self.get(item, "target", str, where))


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# --- templates ----------------------------------------------------------------------------------

def template_names() -> list[str]:
    """The template projects shipped in resources/templates, in menu order (file names sort them)."""
    folder = resources.files("netbuilder.resources") / "templates"
    return sorted(p.name[: -len(SUFFIX)] for p in folder.iterdir() if p.name.endswith(SUFFIX))


def load_template(name: str) -> Project:
    path = resources.files("netbuilder.resources") / "templates" / f"{name}{SUFFIX}"
    return project_from_bytes(path.read_bytes(), f"template {name}")
