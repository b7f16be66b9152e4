"""An imported model saved as a project with trained weights: the graph as a .nbproj, the weights
as its checkpoint (netbuilder's format, beside it), with a recipe fitting the input, so that
predict, the Draw panel and further training start from the imported weights (the project's
training setting start_from_weights is on)."""
from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path

from netbuilder.core.analysis import analyze
from netbuilder.core.compile import input_nodes, output_node
from netbuilder.core.project import save_project
from netbuilder.data.recipe import PADDING, UNKNOWN, ImageRecipe, Recipe, TableRecipe, TextRecipe
from netbuilder.model.checkpoint import save_checkpoint
from netbuilder.model.history import History

from .importer import ImportedModel


def imported_recipe(imported: ImportedModel) -> Recipe:
    """How raw data becomes the imported model's input, as far as a model alone tells: images are
    scaled as MNIST's (the seed networks' convention; 1×28×28 ones also centred as MNIST's digits),
    table columns and words are numbered, and the classes are named by their index. Nothing here
    was fitted on data; training fits its own."""
    graph = imported.project.graph
    analysis = analyze(graph)
    (first_input, *_) = input_nodes(graph, analysis)
    shape = graph.nodes[first_input].params["shape"]
    output = output_node(graph)
    task = graph.nodes[output].params["task"]
    classes = tuple(str(index) for index in range(math.prod(analysis.info[output].shape))) \
        if task == "classification" else ()
    if imported.input_kind == "tokens":
        vocabulary = next(node.params["vocabulary"] for node in _all_nodes(graph) if node.type_id == "embedding")
        words = (PADDING, UNKNOWN, *(f"token{index}" for index in range(2, vocabulary)))
        return Recipe("tokens", shape, task, classes, text=TextRecipe(words, shape[0], "text", "label"))
    if imported.input_kind == "image" and shape[0] in (1, 3):
        # a 1×28×28 model reads drawings and photos of digits as MNIST was made (the Draw panel's way)
        return Recipe("image", shape, task, classes,
                      image=ImageRecipe(shape[1], shape[2], shape[0], digits=shape == (1, 28, 28)))
    values = math.prod(shape)
    return Recipe(imported.input_kind, shape, task, classes,
                  table=TableRecipe(tuple(f"x{index + 1}" for index in range(values)), "label", "none",
                                    (0.0,) * values, (1.0,) * values))


def _all_nodes(graph):
    yield from graph.nodes.values()
    for definition in graph.blocks.values():
        yield from definition.graph.nodes.values()


def save_imported(imported: ImportedModel, project_path: str | os.PathLike, source: str) -> Path:
    """Write the project and its checkpoint (atomically each); returns the checkpoint's path. The
    project's training starts from those weights (transfer learning): a run of fresh weights
    would throw away what was imported."""
    recipe = imported_recipe(imported)
    project = replace(imported.project, training=imported.project.training.replace(start_from_weights=True))
    save_project(project, project_path)
    history = History(list(recipe.class_names), recipe.task, dataset=f"imported from {source}")
    return save_checkpoint(imported.model, history, project_path, recipe=recipe)
