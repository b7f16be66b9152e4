"""Block files (`.nbblock`): one block definition, with every block nested inside it, saved to
reuse in other projects. Versioned JSON like a project file, written atomically and read through
the same bounded reader and checks, so a damaged or hostile file ends in one ProjectFileError.

Loading adds the definitions to a project's library as one undoable command; a name the project
already uses gets a free one ("res" -> "res_1"), so nothing in the project is overwritten.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..common.files import FileReadError, parse_json, read_bounded, write_atomic
from ..common.text import shown
from .block_commands import AddDefinition
from .blocks import INSTANCE, BlockDefinition, with_nested
from .commands import Group
from .graph import NAME_LIMIT, BlockLibrary, Graph, Node
from .project import MAX_PROJECT_BYTES, ProjectFileError, block_library_from_dict, blocks_to_list, format_version

FORMAT = "netbuilder-block"
VERSION = 2  # 2: an edge may name its source's output port (a block with several outputs)
SUFFIX = ".nbblock"


@dataclass
class BlockFile:
    """What a block file holds: the block it was saved for (`main`, an id of `library`) and the
    library of it and every block nested inside it."""

    main: str
    library: BlockLibrary

    @property
    def name(self) -> str:
        return self.library[self.main].name


def block_file_dict(library: dict[str, BlockDefinition], block_id: str) -> dict[str, Any]:
    """The block file of definition `block_id` of `library`, as JSON data."""
    chosen = {found: library[found] for found in with_nested(library, [block_id])}
    return {"format": FORMAT, "version": VERSION, "block": block_id, "blocks": blocks_to_list(chosen)}


def save_block(library: dict[str, BlockDefinition], block_id: str, path: str | os.PathLike) -> None:
    """Write definition `block_id` with the blocks nested in it to `path`, atomically."""
    text = json.dumps(block_file_dict(library, block_id), indent=2, ensure_ascii=False) + "\n"
    write_atomic(Path(path), text.encode("utf-8"))


def load_block_file(path: str | os.PathLike) -> BlockFile:
    path = Path(path)
    try:
        raw = read_bounded(path, MAX_PROJECT_BYTES, "block file")
        data = parse_json(raw, path.name)
    except FileReadError as error:
        raise ProjectFileError(str(error)) from None
    return block_file_from_dict(data, path.name)


def block_file_from_dict(data: Any, source: str) -> BlockFile:
    format_version(data, source, FORMAT, VERSION, "block file")
    library = block_library_from_dict(data, source)
    main = data.get("block")
    if not isinstance(main, str) or main not in library:
        raise ProjectFileError(f'{shown(source)}: "block" does not name one of the blocks the file holds')
    return BlockFile(main, library)


def load_blocks(graph: Graph, loaded: BlockFile) -> tuple[Group, str]:
    """The command adding the blocks of `loaded` to the library of `graph` (one undo step), with
    fresh ids and, where the project already has a block of that name, a free name; and the id the
    file's main block will have."""
    parts, new_ids = _adding(graph, loaded.library, {})
    main = new_ids[loaded.main]
    name = next(part.definition.name for part in parts if part.definition.id == main)
    return Group(parts, f'Load block "{name}"'), main


def bring_blocks(graph: Graph, library: BlockLibrary) -> tuple[list[AddDefinition], dict[str, str]]:
    """For pasting cards copied with their blocks (`library`): the commands adding the blocks the
    project of `graph` lacks, and the id each block of `library` has in the project. A block the
    project has under the same id, with the same name and layers and every block inside it the
    project's too, is the project's own (a paste within a project shares its blocks); any other
    is added as loading a block file adds it."""
    own: dict[str, str] = {}
    for block_id in library:  # library order: a block's inner blocks may come after it, so ask each
        if _same_in(graph.blocks, library, block_id):
            own[block_id] = block_id
    return _adding(graph, {block_id: d for block_id, d in library.items() if block_id not in own}, own)


def bring_fragment_blocks(graph: Graph, fragment: dict) -> tuple[list[AddDefinition], dict]:
    """For pasting `fragment` (clipboard data, copy_fragment's) into the project of `graph`: the
    commands adding the blocks it carries that the project lacks (bring_blocks), and the fragment
    with its block cards naming their blocks' ids in the project. Blocks that are not valid raise
    ProjectFileError; the nodes are left for the caller to check, as any pasted nodes."""
    carried, nodes = fragment.get("blocks", []), fragment.get("nodes")
    if not carried or not isinstance(nodes, list):
        return [], fragment
    parts, new_ids = bring_blocks(graph, block_library_from_dict({"blocks": carried}, "the clipboard data"))
    nodes = [{**node, "params": {**node["params"], "block": new_ids[node["params"]["block"]]}}
             if isinstance(node, dict) and node.get("type") == INSTANCE and isinstance(node.get("params"), dict)
             and isinstance(node["params"].get("block"), str) and node["params"]["block"] in new_ids else node for node in fragment.get("nodes", [])]
    return parts, {**fragment, "nodes": nodes}


def _same_in(project: dict[str, BlockDefinition], library: dict[str, BlockDefinition], block_id: str) -> bool:
    """Whether the project's block `block_id` is `library`'s, inner blocks included."""
    return all(found in project and blocks_to_list({found: project[found]}) == blocks_to_list({found: library[found]})
               for found in with_nested(library, [block_id]))


def _adding(graph: Graph, blocks: dict[str, BlockDefinition],
            known: dict[str, str]) -> tuple[list[AddDefinition], dict[str, str]]:
    """The commands adding `blocks` to the library of `graph` under fresh ids and free names, their
    cards referring to the new ids (or to `known`'s, blocks the project has), and every id's new one."""
    library = graph.blocks
    taken_ids, taken_names = set(library), {definition.name for definition in library.values()}
    new_ids = dict(known)
    new_names: dict[str, str] = {}
    for old_id, definition in blocks.items():
        new_ids[old_id] = _free(taken_ids, "b")
        new_names[old_id] = definition.name if definition.name not in taken_names else \
            _free(taken_names, f"{definition.name[:NAME_LIMIT - 8]}_")
        taken_names.add(new_names[old_id])
    added = [AddDefinition(BlockDefinition(new_ids[old_id], new_names[old_id],
                                           _renumbered(definition.graph, library, new_ids)))
             for old_id, definition in blocks.items()]
    return added, new_ids


def _free(taken: set[str], prefix: str) -> str:
    """The first of `prefix`1, `prefix`2, ... that is not in `taken`, which it joins."""
    number = 1
    while f"{prefix}{number}" in taken:
        number += 1
    taken.add(f"{prefix}{number}")
    return f"{prefix}{number}"


def _renumbered(graph: Graph, library: BlockLibrary, new_ids: dict[str, str]) -> Graph:
    """A copy of a loaded block's graph in `library`, its instances naming their blocks' new ids."""
    copy = Graph(blocks=library)
    copy.insert_nodes([Node(node.id, node.type_id, node.name, {**node.params, "block": new_ids[node.params["block"]]}
                            if node.type_id == INSTANCE else dict(node.params), node.position)
                       for node in graph.nodes.values()])
    copy.insert_edges(list(graph.edges))
    return copy
