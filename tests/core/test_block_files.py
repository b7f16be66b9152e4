"""Block files: a block saved from one project loads into another with the blocks nested in it, a
name the project uses is never overwritten, loading is one undo step, and any damaged or hostile
file ends in one short message."""
import json

import pytest
from hypothesis import given, settings, strategies as st

from netbuilder.core.analysis import analyze
from netbuilder.core.block_commands import GroupIntoBlock, InsideBlock, RemoveDefinition, RenameBlock, Ungroup
from netbuilder.core.block_files import (VERSION, block_file_dict, bring_fragment_blocks, load_block_file, load_blocks,
                                         save_block)
from netbuilder.core.commands import (AddNode, Connect, Group, Rename, SetParams, copy_fragment, paste_fragment,
                                     pasted_ids)
from netbuilder.core.blocks import BlockDefinition
from netbuilder.core.graph import BlockAdded, BlockLibrary, BlockRemoved, BlockRenamed, Edge, Graph, GraphError
from netbuilder.core.project import Project, ProjectFileError, project_to_dict

from tests.core.test_blocks import instance_of, residual_net


def nested_project():
    """A residual block "inner" grouped, then grouped again with a ReLU into block "outer"."""
    graph, chosen = residual_net()
    GroupIntoBlock(chosen, name="inner").do(graph)
    inner = instance_of(graph)
    relu = graph.add("relu")
    flatten = graph.outputs_of(inner.id)[0]
    graph.delete_edge(Edge(inner.id, flatten))
    graph.chain(inner, relu, graph.nodes[flatten])
    GroupIntoBlock([inner.id, relu.id], name="outer").do(graph)
    return graph


def block_named(graph, name):
    return next(definition for definition in graph.blocks.values() if definition.name == name)


def test_a_saved_block_loads_into_another_project_with_its_nested_blocks(tmp_path):
    source = nested_project()
    outer = block_named(source, "outer")
    path = tmp_path / "outer.nbblock"
    save_block(source.blocks, outer.id, path)
    loaded = load_block_file(path)
    assert loaded.name == "outer" and sorted(d.name for d in loaded.library.values()) == ["inner", "outer"]

    target, _ = residual_net()
    command, main = load_blocks(target, loaded)
    command.do(target)
    assert target.blocks[main].name == "outer"
    # an instance of the loaded block in the new project counts what the original does
    x = next(n for n in target.nodes.values() if n.type_id == "input")
    instance = AddNode("block", params={"block": main})
    instance.do(target)
    Connect(x.id, instance.node.id).do(target)
    original = analyze(source).info[instance_of(source).id]
    assert analyze(target).info[instance.node.id].params == original.params > 0

    command.undo(target)
    assert set(target.blocks) == set()


def test_loading_a_block_whose_names_the_project_uses_renames_it_and_keeps_the_projects_own(tmp_path):
    source = nested_project()
    path = tmp_path / "outer.nbblock"
    save_block(source.blocks, block_named(source, "outer").id, path)
    target = nested_project()
    before = json.dumps(project_to_dict(Project(graph=target)), sort_keys=True)
    command, main = load_blocks(target, load_block_file(path))
    command.do(target)
    names = sorted(d.name for d in target.blocks.values())
    assert names == ["inner", "inner_1", "outer", "outer_1"] and target.blocks[main].name == "outer_1"
    # the loaded outer block holds the loaded inner one, not the project's
    loaded_outer = target.blocks[main]
    inner_instance = instance_of(loaded_outer.graph)
    assert target.blocks[inner_instance.params["block"]].name == "inner_1"
    command.undo(target)
    assert json.dumps(project_to_dict(Project(graph=target)), sort_keys=True) == before


def test_saving_a_block_writes_only_it_and_the_blocks_inside_it():
    graph = nested_project()
    data = block_file_dict(graph.blocks, block_named(graph, "inner").id)
    assert [block["name"] for block in data["blocks"]] == ["inner"]
    assert data["format"] == "netbuilder-block" and data["version"] == VERSION


def test_library_changes_reach_its_listeners_as_typed_events():
    graph, chosen = residual_net()
    heard = []
    graph.blocks.listeners.append(heard.append)
    group = GroupIntoBlock(chosen, name="res")
    group.do(graph)
    block_id = instance_of(graph).params["block"]
    rename = RenameBlock(block_id, "residual")
    rename.do(graph)
    rename.undo(graph)
    group.undo(graph)
    assert [type(event) for event in heard] == [BlockAdded, BlockRenamed, BlockRenamed, BlockRemoved]
    assert heard[1].definition.id == block_id


def test_an_edit_inside_a_nested_block_is_heard_by_the_one_library():
    graph = nested_project()
    heard = []
    graph.blocks.listeners.append(heard.append)
    outer = block_named(graph, "outer")
    relu = next(n.id for n in outer.graph.nodes.values() if n.type_id == "relu")
    InsideBlock(outer.id, GroupIntoBlock([relu], name="act")).do(graph)
    assert [type(event) for event in heard] == [BlockAdded] and heard[0].definition.name == "act"


@pytest.mark.parametrize("name, message", [("inner", 'another block is named "inner"'),
                                           ("not a name", "is not a valid name"), ("class", "Python keyword")])
def test_renaming_a_block_is_refused_with_the_reason(name, message):
    graph = nested_project()
    with pytest.raises(GraphError, match=message):
        RenameBlock(block_named(graph, "outer").id, name).do(graph)
    assert block_named(graph, "outer")


# --- damaged and hostile files --------------------------------------------------------------------

def saved_text(tmp_path):
    graph = nested_project()
    path = tmp_path / "outer.nbblock"
    save_block(graph.blocks, block_named(graph, "outer").id, path)
    return path, path.read_text()


def refusal(path) -> str:
    with pytest.raises(ProjectFileError) as caught:
        load_block_file(path)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 400 and "Traceback" not in message
    return message


def test_a_truncated_block_file_is_refused_saying_so(tmp_path):
    path, text = saved_text(tmp_path)
    path.write_text(text[: len(text) // 2])
    assert "is damaged: it is not valid JSON" in refusal(path)


def test_a_block_file_from_a_newer_netbuilder_or_of_another_kind_is_refused(tmp_path):
    path, text = saved_text(tmp_path)
    data = json.loads(text)
    path.write_text(json.dumps({**data, "version": 99}))
    assert "newer netbuilder" in refusal(path)
    path.write_text(json.dumps({**data, "format": "netbuilder-project"}))
    assert "is not a netbuilder block file" in refusal(path)


def test_huge_numbers_in_a_block_file_are_refused(tmp_path):
    path, text = saved_text(tmp_path)
    data = json.loads(text)
    conv = next(node for block in data["blocks"] for node in block["nodes"] if node["type"] == "conv2d")
    conv["params"]["filters"] = 10 ** 30
    path.write_text(json.dumps(data))
    assert "filters" in refusal(path)
    path.write_text(text.replace('"repeat": 1', '"repeat": 1' + "0" * 5000, 1))
    assert "digits" in refusal(path)


def test_blocks_nested_in_each_other_in_a_file_are_refused(tmp_path):
    path, text = saved_text(tmp_path)
    data = json.loads(text)
    outer = next(block for block in data["blocks"] if block["name"] == "outer")
    inner = next(block for block in data["blocks"] if block["name"] == "inner")
    relu = next(node for node in inner["nodes"] if node["type"] == "relu")
    relu.update(type="block", params={"block": outer["id"], "repeat": 1})
    path.write_text(json.dumps(data))
    assert "contains itself" in refusal(path)


def test_a_block_file_naming_a_block_it_lacks_is_refused(tmp_path):
    path, text = saved_text(tmp_path)
    path.write_text(json.dumps({**json.loads(text), "block": "nowhere"}))
    assert '"block" does not name one of the blocks' in refusal(path)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_change_to_a_block_file_loads_or_is_refused_with_one_message(tmp_path_factory, data):
    path, text = saved_text(tmp_path_factory.mktemp("block"))
    document = json.loads(text)
    junk = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5),
                     st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
    places = []

    def collect(value, trail):
        places.append(trail)
        children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, child in children:
            collect(child, (*trail, key))

    collect(document, ())
    trail = data.draw(st.sampled_from(places[1:]))
    parent = document
    for key in trail[:-1]:
        parent = parent[key]
    parent[trail[-1]] = data.draw(junk)
    path.write_text(json.dumps(document))
    try:
        loaded = load_block_file(path)
    except ProjectFileError as error:
        assert "\n" not in str(error) and len(str(error)) < 400
        return
    target = Graph()
    command, _ = load_blocks(target, loaded)
    command.do(target)
    command.undo(target)
    assert not target.blocks


def test_a_block_no_card_uses_can_be_deleted_and_undo_puts_it_back():
    graph = nested_project()
    heard = []
    graph.blocks.listeners.append(heard.append)
    outer, inner = block_named(graph, "outer"), block_named(graph, "inner")
    with pytest.raises(GraphError, match='used by the card "inner" inside block "outer"'):
        RemoveDefinition(inner.id).do(graph)
    with pytest.raises(GraphError, match='used by the card "outer"'):
        RemoveDefinition(outer.id).do(graph)
    Ungroup(instance_of(graph).id).do(graph)  # the outer block's card gives back its layers
    delete = RemoveDefinition(outer.id)
    delete.do(graph)
    assert list(graph.blocks) == [inner.id] and type(heard[-1]) is BlockRemoved
    delete.undo(graph)
    assert list(graph.blocks) == [inner.id, outer.id] and type(heard[-1]) is BlockAdded


def test_the_library_puts_a_block_back_at_its_place_in_the_order():
    library = BlockLibrary()
    blocks = [BlockDefinition(f"b{i}", f"block{i}", Graph(blocks=library)) for i in range(3)]
    for block in blocks:
        library.add(block)
    index, removed = library.remove("b1")
    assert index == 1 and list(library) == ["b0", "b2"]
    library.add(removed, index)
    assert list(library) == ["b0", "b1", "b2"]


# --- cards copied with their blocks ------------------------------------------------------------------

def paste_into(target, fragment):
    parts, fragment = bring_fragment_blocks(target, fragment)
    command = Group([*parts, *paste_fragment(target, fragment).parts])
    command.do(target)
    return command, pasted_ids(command)


def test_cards_pasted_in_their_own_project_share_its_blocks():
    graph = nested_project()
    fragment = copy_fragment(graph, [instance_of(graph).id])
    assert sorted(block["name"] for block in fragment["blocks"]) == ["inner", "outer"]
    before = dict(graph.blocks)
    _, (pasted,) = paste_into(graph, fragment)
    assert dict(graph.blocks) == before
    assert graph.nodes[pasted].params["block"] == instance_of(graph).params["block"]


def test_cards_pasted_into_another_project_bring_their_blocks_and_never_take_its_own():
    source = nested_project()
    fragment = copy_fragment(source, [instance_of(source).id])
    target = nested_project()  # the same ids and names...
    inner = block_named(target, "inner")
    conv = inner.graph.node_named("conv1")
    SetParams(conv.id, {"filters": 8}).do(inner.graph)  # ...but its inner block differs
    before = json.dumps(project_to_dict(Project(graph=target)), sort_keys=True)
    command, (pasted,) = paste_into(target, fragment)
    names = sorted(block.name for block in target.blocks.values())
    assert names == ["inner", "inner_1", "outer", "outer_1"]
    card_block = target.blocks[target.nodes[pasted].params["block"]]
    assert card_block.name == "outer_1"
    brought_inner = target.blocks[instance_of(card_block.graph).params["block"]]
    assert brought_inner.name == "inner_1"
    assert brought_inner.graph.node_named("conv1").params["filters"] == 4 and conv.params["filters"] == 8
    command.undo(target)
    assert json.dumps(project_to_dict(Project(graph=target)), sort_keys=True) == before


def test_a_pasted_block_whose_inner_block_the_project_has_uses_that_one():
    source = nested_project()
    fragment = copy_fragment(source, [instance_of(source).id])
    target = nested_project()
    outer = block_named(target, "outer")
    relu = next(node for node in outer.graph.nodes.values() if node.type_id == "relu")
    Rename(relu.id, "act").do(outer.graph)  # the outer block differs, the inner one is the same
    _, (pasted,) = paste_into(target, fragment)
    assert sorted(block.name for block in target.blocks.values()) == ["inner", "outer", "outer_1"]
    brought = target.blocks[target.nodes[pasted].params["block"]]
    assert instance_of(brought.graph).params["block"] == block_named(target, "inner").id


def test_damaged_blocks_on_the_clipboard_are_refused_with_a_message():
    graph = nested_project()
    fragment = copy_fragment(graph, [instance_of(graph).id])
    fragment["blocks"][0]["nodes"] = "nothing"
    with pytest.raises(ProjectFileError, match="the clipboard data"):
        bring_fragment_blocks(Graph(), fragment)
