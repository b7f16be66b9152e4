"""Project files: versioned JSON (graph, positions, training settings, dataset), atomic saves.

Loading never executes or unpickles anything, and any malformed file raises one
ProjectFileError saying what is wrong and where.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from ..common.fields import FieldError, Kind, is_count, is_number, read_field
from ..common.files import MB, FileReadError, parse_json, read_bounded, write_atomic
from ..common.text import shown
from .blocks import INSTANCE, BlockDefinition, nesting_cycle
from .graph import BlockLibrary, Edge, EdgeListError, Graph, Node, name_problem
from .layers import ParamError, canonical_type, get_spec
from .settings import TrainingSettings

FORMAT = "netbuilder-project"
VERSION = 3
SUFFIX = ".nbproj"
# A 20,000-layer network saves as about 6 MB; a larger file is not a project (or is /dev/zero).
MAX_PROJECT_BYTES = 64 * MB


class ProjectFileError(Exception):
    """A project file cannot be read; the message names the file and what is wrong where."""


@dataclass
class Project:
    graph: Graph = field(default_factory=Graph)
    name: str = "Untitled"
    description: str = ""
    dataset: str = "digits"  # a built-in dataset name or a path the user chose
    training: TrainingSettings = field(default_factory=TrainingSettings)


def _add_block_library(data: dict) -> dict:
    """Version 1 had no blocks: its network opens unchanged, with an empty block library."""
    return {**data, "version": 2, "blocks": []}


def _add_output_ports(data: dict) -> dict:
    """Version 2's edges all left their source's only output, which an edge without "port" means."""
    return {**data, "version": 3}


# Each migration turns version N's data into version N+1's; the loader applies them in order so
# old files keep opening when the format changes.
MIGRATIONS: dict[int, Callable[[dict], dict]] = {1: _add_block_library, 2: _add_output_ports}


def project_to_dict(project: Project) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "name": project.name,
        "description": project.description,
        **_graph_to_dict(project.graph),
        "blocks": blocks_to_list(project.graph.blocks),
        "dataset": project.dataset,
        "training": project.training.to_dict(),
    }


def blocks_to_list(library: dict[str, BlockDefinition]) -> list[dict[str, Any]]:
    """The block library as a project file holds it."""
    return [{"id": block.id, "name": block.name, **_graph_to_dict(block.graph)} for block in library.values()]


def _graph_to_dict(graph: Graph) -> dict[str, Any]:
    return {
        "nodes": [{"id": n.id, "type": n.type_id, "name": n.name, "params": _jsonable(n.params),
                   "position": [round(n.position[0], 2), round(n.position[1], 2)]}
                  for n in graph.nodes.values()],
        "edges": [{"source": e.source, "target": e.target, **({"port": e.port} if e.port else {})}
                  for e in graph.edges],
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
        raw = read_bounded(path, MAX_PROJECT_BYTES, "project file")
    except FileReadError as error:
        raise ProjectFileError(str(error)) from None
    return project_from_bytes(raw, path.name)


def project_from_bytes(raw: bytes, source: str) -> Project:
    try:
        data = parse_json(raw, source)
    except FileReadError as error:
        raise ProjectFileError(str(error)) from None
    return project_from_dict(data, source)


def project_from_dict(data: Any, source: str = "project") -> Project:
    version = format_version(data, source, FORMAT, VERSION, "project")
    for old in range(version, VERSION):
        data = MIGRATIONS[old](data)
    return _Reader(source).project(data)


def format_version(data: Any, source: str, format_name: str, newest: int, kind: str) -> int:
    """The format version of the parsed file `data` named `source`, a netbuilder `kind` of file
    (its "format" is `format_name`) that this netbuilder reads up to version `newest`; else
    ProjectFileError saying what the file is not."""
    if not isinstance(data, dict) or data.get("format") != format_name:
        raise ProjectFileError(f"{shown(source)} is not a netbuilder {kind} (no \"format\": \"{format_name}\")")
    version = data.get("version")
    if not is_count(version) or version < 1:
        raise ProjectFileError(f"{shown(source)} has no valid format version")
    if version > newest:
        raise ProjectFileError(f"{shown(source)} was saved by a newer netbuilder (format version {shown(version, 20)}; "
                               f"this one reads up to {newest}): please update netbuilder")
    return version


def block_library_from_dict(data: dict, source: str) -> BlockLibrary:
    """The block definitions listed in `data["blocks"]`, checked as a project's are (the reader of
    block files)."""
    return _Reader(source).library(data)


class _Reader:
    """Checks each part of the data before use, so errors say where they are."""

    def __init__(self, source: str):
        self.source = shown(source)

    def fail(self, where: str, what: str) -> ProjectFileError:
        # `what` may be another module's message quoting values from the file: keep it short and printable
        return ProjectFileError(f"{self.source}: {where}: {shown(what, 150)}")

    def get(self, data: dict, key: str, kind: Kind, where: str, **default: Any) -> Any:
        try:
            return read_field(data, key, kind, **default)
        except FieldError as error:
            if error.missing:
                raise self.fail(where, f'"{key}" is missing') from None
            raise self.fail(where, f'"{key}" has the wrong type ({type(error.value).__name__})') from None

    def project(self, data: dict) -> Project:
        library = self.library(data)
        graph = self.graph(data, "", library)
        self.check_instances(graph, library, "")
        training = self.get(data, "training", "object", "file", default={})
        try:
            settings = TrainingSettings.from_dict(training)
        except ParamError as error:
            raise self.fail("training settings", str(error)) from None
        return Project(graph=graph, name=self.get(data, "name", "text", "file", default="Untitled"),
                       description=self.get(data, "description", "text", "file", default=""),
                       dataset=self.get(data, "dataset", "text", "file", default="digits"), training=settings)

    def library(self, data: dict) -> BlockLibrary:
        """The block definitions of `data["blocks"]` (a project's, or a block file's), each
        instance among them referring to one of them, none inside itself."""
        library = BlockLibrary()
        for index, item in enumerate(self.get(data, "blocks", "list", "file", default=[])):
            block = self.block(item, f"block {index + 1}", library)
            library[block.id] = block
        for block in library.values():
            self.check_instances(block.graph, library, f'block "{block.name}": ')
        cycle = nesting_cycle(library)
        if cycle:
            raise self.fail(f'block "{shown(cycle[0], 40)}"', f"contains itself ({' inside '.join(cycle)})")
        return library

    def graph(self, data: dict, where: str, library: BlockLibrary) -> Graph:
        """The nodes and edges of `data` (the network's, or a block's when `where` names it)."""
        graph = Graph(blocks=library)
        for index, item in enumerate(self.get(data, "nodes", "list", where.rstrip(": ") or "file")):
            graph.insert_node(self.node(item, f"{where}node {index + 1}", graph))
        edges = [self.edge(item, f"{where}edge {index + 1}")
                 for index, item in enumerate(self.get(data, "edges", "list", where.rstrip(": ") or "file"))]
        try:
            graph.insert_edges(edges)  # checked together: one sort finds cycles, not a search per edge
        except EdgeListError as error:
            raise self.fail(f"{where}edge {error.index + 1}", str(error)) from None
        return graph

    def block(self, item: Any, where: str, library: BlockLibrary) -> BlockDefinition:
        if not isinstance(item, dict):
            raise self.fail(where, "is not an object")
        block_id = self.get(item, "id", "text", where)
        if block_id in library:
            raise self.fail(where, f"the id {shown(repr(block_id))} is used twice")
        name = self.get(item, "name", "text", where)
        problem = name_problem(name) or ("the name is used twice" if any(b.name == name for b in library.values())
                                         else None)
        if problem:
            raise self.fail(where, problem)
        return BlockDefinition(block_id, name, self.graph(item, f'block "{name}": ', library))

    def check_instances(self, graph: Graph, library: dict[str, BlockDefinition], where: str) -> None:
        for node in graph.nodes.values():
            if node.type_id == INSTANCE and node.params["block"] not in library:
                raise self.fail(f'{where}node "{node.name}"',
                                f"refers to block {shown(repr(node.params['block']), 40)}, which the file lacks")

    def node(self, item: Any, where: str, graph: Graph) -> Node:
        if not isinstance(item, dict):
            raise self.fail(where, "is not an object")
        node_id = self.get(item, "id", "text", where)
        if node_id in graph.nodes:
            raise self.fail(where, f"the id {shown(repr(node_id))} is used twice")
        type_id = canonical_type(self.get(item, "type", "text", where))
        if type_id is None:
            raise self.fail(where, f"unknown layer type {shown(repr(item['type']))}")
        name = self.get(item, "name", "text", where)
        where = f'{where} ("{shown(name, 40)}")'
        problem = name_problem(name) or ("the name is used twice" if graph.node_named(name) else None)
        if problem:
            raise self.fail(where, problem)
        try:
            params = get_spec(type_id).normalize_params(self.get(item, "params", "object", where, default={}))
        except ParamError as error:
            raise self.fail(where, str(error)) from None
        position = self.get(item, "position", "list", where, default=[0.0, 0.0])
        if len(position) != 2 or not all(is_number(v) for v in position):
            raise self.fail(where, "the position must be two numbers")
        return Node(node_id, type_id, name, params, (float(position[0]), float(position[1])))

    def edge(self, item: Any, where: str) -> Edge:
        if not isinstance(item, dict):
            raise self.fail(where, "is not an object")
        return Edge(self.get(item, "source", "text", where), self.get(item, "target", "text", where),
                    self.get(item, "port", "count", where, default=0))


# --- templates ----------------------------------------------------------------------------------

def template_names() -> list[str]:
    """The template projects shipped in resources/templates, in menu order (file names sort them)."""
    folder = resources.files("netbuilder.resources") / "templates"
    return sorted(p.name[: -len(SUFFIX)] for p in folder.iterdir() if p.name.endswith(SUFFIX))


def load_template(name: str) -> Project:
    path = resources.files("netbuilder.resources") / "templates" / f"{name}{SUFFIX}"
    return project_from_bytes(path.read_bytes(), f"template {name}")
