"""The docked panels on their own: palette, inspector, summary table and problems list."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox

from netbuilder.core.commands import AddNode, Connect, SetParams, SetTraining
from netbuilder.core.graph import Graph
from netbuilder.core.layers import ParamError, all_specs, get_spec
from netbuilder.core.project import Project, load_template
from netbuilder.gui.document import Document
from netbuilder.gui.editor.view import LAYER_MIME_TYPE
from netbuilder.gui.panels.inspector import InspectorPanel
from netbuilder.gui.panels.palette import LayerPalette
from netbuilder.gui.panels.problems import ProblemsPanel
from netbuilder.core.summary import human_count
from netbuilder.gui.panels.summary import SummaryPanel


def document_with(*type_ids: str, chained: bool = True) -> tuple[Document, list[str]]:
    graph = Graph()
    nodes = [graph.add(type_id) for type_id in type_ids]
    if chained:
        graph.chain(*nodes)
    return Document(Project(graph=graph)), [n.id for n in nodes]


# --- palette ------------------------------------------------------------------------------------

def test_the_palette_lists_every_layer_once_by_category(qtbot):
    palette = LayerPalette()
    qtbot.addWidget(palette)
    assert sorted(palette.visible_type_ids()) == sorted(spec.type_id for spec in all_specs())
    assert palette.item_for("conv2d").parent().text(0) == "Convolution"


@pytest.mark.parametrize("query, expected", [
    ("conv", ["conv2d", "conv1d", "conv_transpose2d", "dropout2d"]),  # Dropout2d by its description
    ("CONV2", ["conv2d", "conv_transpose2d"]),  # Keras calls the latter Conv2DTranspose
    ("residual", ["transformer_encoder", "add"]),  # found by their descriptions
    ("pool whole", ["global_avg_pool"]),  # every word must match, in the title or the description
    ("warp drive", []),
    ("", None),
])
def test_the_search_box_filters_by_title_and_description(qtbot, query, expected):
    palette = LayerPalette()
    qtbot.addWidget(palette)
    palette.search.setText(query)
    visible = palette.visible_type_ids()
    if expected is None:
        assert len(visible) == len(all_specs())
    else:
        assert visible == expected
    categories_shown = [palette.tree.topLevelItem(i) for i in range(palette.tree.topLevelItemCount())
                        if not palette.tree.topLevelItem(i).isHidden()]
    assert all(any(not h.child(i).isHidden() for i in range(h.childCount())) for h in categories_shown)


def test_enter_in_the_search_box_adds_the_first_match(qtbot):
    palette = LayerPalette()
    qtbot.addWidget(palette)
    palette.search.setText("dropout")
    with qtbot.waitSignal(palette.layer_chosen) as chosen:
        palette.search.returnPressed.emit()
    assert chosen.args == ["dropout"]


def test_double_clicking_a_layer_chooses_it(qtbot):
    palette = LayerPalette()
    qtbot.addWidget(palette)
    with qtbot.waitSignal(palette.layer_chosen) as chosen:
        palette.tree.itemDoubleClicked.emit(palette.item_for("lstm"), 0)
    assert chosen.args == ["lstm"]


def test_a_palette_drag_carries_the_type_id(qtbot):
    palette = LayerPalette()
    qtbot.addWidget(palette)
    mime = palette.mime_data_for("maxpool2d")
    assert bytes(mime.data(LAYER_MIME_TYPE)).decode("utf-8") == "maxpool2d"
    heading = palette.item_for("maxpool2d").parent()
    assert not palette.tree.mimeData([heading]).hasFormat(LAYER_MIME_TYPE)  # categories cannot be dragged


# --- inspector ----------------------------------------------------------------------------------

@pytest.fixture
def inspect(qtbot):
    def make(*type_ids: str) -> tuple[InspectorPanel, Document, list[str]]:
        document, ids = document_with(*type_ids)
        panel = InspectorPanel(document)
        qtbot.addWidget(panel)
        panel.show_node(ids[-1])
        return panel, document, ids
    return make


@pytest.mark.parametrize("type_id, param, widget", [
    ("conv2d", "filters", QSpinBox), ("conv2d", "padding", QComboBox), ("conv2d", "bias", QCheckBox),
    ("input", "kind", QComboBox), ("input", "shape", QLineEdit), ("dropout", "rate", QDoubleSpinBox),
    ("batchnorm", "eps", QLineEdit), ("batchnorm", "momentum", QDoubleSpinBox),
])
def test_each_parameter_gets_a_widget_of_its_kind_within_its_limits(inspect, type_id, param, widget):
    panel, _, _ = inspect("input", type_id) if type_id != "input" else inspect("input")
    field = panel.fields[param].widget
    assert type(field) is widget
    spec_param = get_spec(type_id).param(param)
    if isinstance(field, (QSpinBox, QDoubleSpinBox)):
        assert (field.minimum(), field.maximum()) == (spec_param.min, spec_param.max)
    if param == "padding":
        assert field.isEditable()  # valid, same or a number of pixels


def test_every_layer_type_can_be_shown(inspect, qtbot):
    document = Document()
    panel = InspectorPanel(document)
    qtbot.addWidget(panel)
    for spec in all_specs():
        command = AddNode(spec.type_id)
        document.push(command)
        panel.show_node(command.node.id)
        assert set(panel.fields) == {p.name for p in spec.params}
        assert panel.name_edit.text() == command.node.name


def test_a_committed_edit_is_one_undo_step(inspect):
    panel, document, (_, conv) = inspect("input", "conv2d")
    filters = panel.fields["filters"].widget
    filters.setValue(16)
    filters.editingFinished.emit()  # leaving the box after the change must not push it again
    assert document.graph.nodes[conv].params["filters"] == 16
    assert document.undo_stack.count() == 1
    assert panel.info_labels["shape"].text() == "16×26×26"
    assert panel.info_labels["params"].text() == "160"


def test_padding_takes_a_word_or_a_number_and_refuses_others_with_the_reason(inspect):
    panel, document, (_, conv) = inspect("input", "conv2d")
    padding = panel.fields["padding"].widget
    for typed, stored in (("same", "same"), ("2", 2)):
        padding.setEditText(typed)
        padding.lineEdit().editingFinished.emit()
        assert document.graph.nodes[conv].params["padding"] == stored
    assert panel.info_labels["shape"].text() == "32×30×30"

    padding.setEditText("wide")
    padding.lineEdit().editingFinished.emit()
    assert document.graph.nodes[conv].params["padding"] == 2
    assert panel.error_text("padding") == "padding must be a whole number or one of valid, same, not 'wide'"
    assert document.undo_stack.count() == 2


@pytest.mark.parametrize("typed, reason", [
    ("1×0×28", "each size in shape must be between 1 and 1000000"),
    ("one by 28", "shape must be sizes like 1×28×28, not 'one by 28'"),
])
def test_an_invalid_input_shape_is_refused_and_shown_beside_the_field(inspect, typed, reason):
    panel, document, (node,) = inspect("input")
    field = panel.fields["shape"].widget
    field.setText(typed)
    field.editingFinished.emit()
    assert panel.error_text("shape") == reason
    assert field.text() == typed  # kept as typed so it can be corrected
    assert document.graph.nodes[node].params["shape"] == (1, 28, 28)
    assert document.undo_stack.count() == 0

    field.setText("3x32x32")
    field.editingFinished.emit()
    assert panel.error_text("shape") == ""
    assert field.text() == "3×32×32"
    assert document.graph.nodes[node].params["shape"] == (3, 32, 32)


def test_small_floats_such_as_eps_are_edited_as_text(inspect):
    panel, document, (_, _, norm) = inspect("input", "conv2d", "batchnorm")
    eps = panel.fields["eps"].widget
    assert eps.text() == "1e-05"
    eps.setText("1e-3")
    eps.editingFinished.emit()
    assert document.graph.nodes[norm].params["eps"] == pytest.approx(1e-3)
    eps.setText("tiny")
    eps.editingFinished.emit()
    assert panel.error_text("eps") == "eps must be a number, not 'tiny'"


def test_rename_is_undoable_and_refuses_bad_names_with_the_reason(inspect):
    panel, document, (image, conv) = inspect("input", "conv2d")
    panel.name_edit.setText("features")
    panel.name_edit.editingFinished.emit()
    assert document.graph.nodes[conv].name == "features"

    for bad, reason in (("2nd", '"2nd" is not a valid name: use up to 64 letters, digits and _, starting with a letter'),
                        ("input1", 'the name "input1" is already used: choose another name, such as input1_1'),
                        ("forward", '"forward" clashes with an attribute every PyTorch model has (model.forward): '
                                    "choose another name, such as forward_1"),
                        ("<b>x</b>\x1b[2J", '"<b>x</b>\\x1b[2J" is not a valid name: use up to 64 letters, digits and _, '
                                           "starting with a letter")):
        panel.name_edit.setText(bad)
        panel.name_edit.editingFinished.emit()
        assert panel.error_text("name") == reason
        assert document.graph.nodes[conv].name == "features"
    assert panel.errors["name"].textFormat() == Qt.TextFormat.PlainText  # what was typed is never markup
    document.undo_stack.undo()
    assert panel.name_edit.text() == "conv1"
    assert panel.error_text("name") == ""


def test_the_inspector_follows_undo_and_shows_the_node_problems(inspect):
    panel, document, (image, conv) = inspect("input", "conv2d")
    document.push(SetParams(image, {"shape": (1, 2, 2)}))
    assert panel.info_labels["shape"].text() == "— (see problems)"
    assert 'Conv2d "conv1" kernel 3 > input height 2: use a smaller kernel' in panel.problem_messages[0]
    document.undo_stack.undo()
    assert panel.problem_messages == ['Conv2d "conv1" is not connected onward yet: connect its output to a later layer']
    assert panel.info_labels["shape"].text() == "32×26×26"


def test_the_inspector_empties_when_its_node_is_deleted_or_the_project_replaced(inspect):
    panel, document, (image, conv) = inspect("input", "conv2d")
    from netbuilder.core.commands import RemoveNodes

    document.push(RemoveNodes([conv]))
    assert panel.node_id is None
    panel.show_node(image)
    document.replace_project(load_template("1-mlp"))
    assert panel.node_id is None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(typed=st.text(alphabet="0123456789x×, -()abc", max_size=14))
def test_any_typed_shape_is_either_stored_as_parsed_or_refused_with_a_reason(inspect, typed):
    panel, document, (node,) = inspect("input")
    field = panel.fields["shape"].widget
    field.setText(typed)
    field.editingFinished.emit()
    try:
        expected = get_spec("input").param("shape").coerce(typed)
    except ParamError as error:
        assert panel.error_text("shape") == str(error)
        assert document.graph.nodes[node].params["shape"] == (1, 28, 28)
    else:
        assert panel.error_text("shape") == ""
        assert document.graph.nodes[node].params["shape"] == expected


# --- summary --------------------------------------------------------------------------------------

def test_summary_rows_follow_the_data_flow_with_a_totals_row(qtbot):
    document = Document()
    for type_id in ("output", "dense", "flatten", "input"):  # added back to front
        document.push(AddNode(type_id))
    ids = {n.type_id: n.id for n in document.graph.nodes.values()}
    for source, target in (("input", "flatten"), ("flatten", "dense"), ("dense", "output")):
        document.push(Connect(ids[source], ids[target]))
    panel = SummaryPanel(document)
    qtbot.addWidget(panel)

    assert panel.node_ids() == [ids["input"], ids["flatten"], ids["dense"], ids["output"]]
    assert panel.row_texts(ids["dense"]) == ["fc1", "Dense", "64", "50,240", "100 K", "16.0 KB"]
    totals = [panel.table.item(4, column).text() for column in range(6)]
    # 784 + 784 + 64 + 64 values per sample, 64 samples of 4 bytes
    assert totals == ["Total", "4 layers", "", "50,240", "100 K", "424.0 KB"]
    assert "Total params: 50,240 (196.2 KB of float32 weights)" in panel.totals.text()


def test_summary_follows_edits_and_shows_dashes_for_layers_with_problems(qtbot):
    document, (image, dense) = document_with("input", "dense")
    panel = SummaryPanel(document)
    qtbot.addWidget(panel)
    assert panel.row_texts(dense)[2:] == ["—", "—", "—", "—"]
    assert "needs a flat input" in panel.table.item(1, 2).toolTip()
    assert panel.totals.text().endswith("· 1 layer without a shape is not counted")
    document.push(SetParams(image, {"kind": "vector", "shape": (784,)}))
    assert panel.row_texts(dense)[2:] == ["64", "50,240", "100 K", "16.0 KB"]
    assert "not counted" not in panel.totals.text()


def test_activation_memory_follows_the_training_batch_size(qtbot):
    document, (_, dense) = document_with("input", "dense")
    document.push(SetParams(next(iter(document.graph.nodes)), {"kind": "vector", "shape": (784,)}))
    panel = SummaryPanel(document)
    qtbot.addWidget(panel)
    assert panel.row_texts(dense)[5] == "16.0 KB"  # 64 units x 64 samples x 4 bytes

    document.push(SetTraining(document.project, {"batch_size": 256}))

    assert panel.row_texts(dense)[5] == "64.0 KB"
    assert "batch of 256" in panel.table.horizontalHeaderItem(5).toolTip()
    document.undo_stack.undo()
    assert panel.row_texts(dense)[5] == "16.0 KB"


def test_summary_gives_the_count_keras_shows_where_it_differs_and_why(qtbot):
    panel = SummaryPanel(Document(load_template("2-cnn")))
    qtbot.addWidget(panel)
    assert panel.totals.text().endswith("· Keras shows 93,802 params")
    assert "BatchNorm's moving mean and variance" in panel.totals.toolTip()
    mlp = SummaryPanel(Document(load_template("1-mlp")))
    qtbot.addWidget(mlp)
    assert "Keras" not in mlp.totals.text() and not mlp.totals.toolTip()


def test_selecting_summary_rows_reports_their_nodes_and_mirrors_the_canvas(qtbot):
    document, ids = document_with("input", "flatten", "dense", "output")
    panel = SummaryPanel(document)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.nodes_selected) as selected:
        panel.table.selectRow(2)
    assert selected.args == [[ids[2]]]

    with qtbot.assertNotEmitted(panel.nodes_selected):
        panel.select_ids([ids[0], ids[3]])
    assert {i.row() for i in panel.table.selectedIndexes()} == {0, 3}


@pytest.mark.parametrize("count, text", [(0, "0"), (999, "999"), (1_000, "1 K"), (389_376, "389 K"),
                                         (999_499, "999 K"), (999_999, "1 M"), (5_650_000, "5.65 M"),
                                         (2_500_000_000, "2.5 G")])
def test_large_counts_are_shown_short(count, text):
    assert human_count(count) == text


# --- problems -------------------------------------------------------------------------------------

def test_problems_list_errors_before_warnings_and_clicks_name_the_layer(qtbot):
    document, (image, dense, relu) = document_with("input", "dense", "relu", chained=False)
    document.push(Connect(image, dense))
    panel = ProblemsPanel(document)
    qtbot.addWidget(panel)
    severities = [p.severity for p in sorted(document.analysis.problems, key=lambda p: p.severity != "error")]
    assert severities == sorted(severities)  # "error" < "warning"
    assert panel.messages() == [p.message for p in sorted(document.analysis.problems,
                                                           key=lambda p: p.severity != "error")]
    row = next(i for i, m in enumerate(panel.messages()) if "needs a flat input" in m)
    with qtbot.waitSignal(panel.location_clicked) as clicked:
        panel.list.itemClicked.emit(panel.list.item(row))
    assert clicked.args == [(dense,)]


def test_the_fix_button_applies_the_selected_problems_fix_as_one_undo_step(qtbot):
    document, (image, conv, dense, output) = document_with("input", "conv2d", "dense", "output")
    panel = ProblemsPanel(document)
    qtbot.addWidget(panel)
    assert not panel.fix_button.isEnabled()
    panel.list.setCurrentRow(next(i for i, m in enumerate(panel.messages()) if "needs a flat input" in m))
    assert panel.fix_button.isEnabled() and panel.fix_button.text() == "Fix: Insert Flatten before it"
    panel.fix_button.click()
    assert document.analysis.ok and document.undo_stack.undoText() == "Insert Flatten before it"
    assert not panel.fix_button.isEnabled()
    document.undo_stack.undo()
    assert len(document.graph.nodes) == 4 and any("needs a flat input" in m for m in panel.messages())


def test_an_output_size_other_than_the_class_count_is_a_problem_fixed_with_one_click(qtbot):
    """A Dense with 64 units feeding a classifier trained on the built-in digits (10 classes)
    trains a 64-way classifier: the problems list says so before training, with the fix."""
    document = Document(Project(name="mine", dataset="digits"))
    graph = document.graph
    graph.chain(graph.add("input", kind="vector", shape=(4,)), dense := graph.add("dense", units=64),
                graph.add("output"))
    document.refresh()
    panel = ProblemsPanel(document)
    qtbot.addWidget(panel)
    assert panel.messages() == ['Output "output1" gives 64 class scores but the data has 10 classes: '
                                f'set the units of Dense "{dense.name}" to 10']
    panel.list.setCurrentRow(0)
    assert panel.fix_button.text() == "Fix: Set units to 10"
    panel.fix_button.click()
    assert graph.nodes[dense.id].params["units"] == 10
    assert panel.messages() == ["No problems: every layer fits its inputs"]
    document.undo_stack.undo()
    assert graph.nodes[dense.id].params["units"] == 64 and "64 class scores" in panel.messages()[0]


def test_a_valid_network_says_it_has_no_problems(qtbot):
    document = Document(load_template("2-cnn"))
    panel = ProblemsPanel(document)
    qtbot.addWidget(panel)
    assert panel.messages() == ["No problems: every layer fits its inputs"]
    with qtbot.assertNotEmitted(panel.location_clicked):
        panel.list.itemClicked.emit(panel.list.item(0))


@pytest.mark.parametrize("size", [(1000, 300), (300, 700)])
def test_the_confusion_matrix_row_labels_sit_next_to_its_cells(qtbot, size):
    """In a wide (or tall) panel the matrix fills the plot rather than floating in its middle,
    far from the class names on its left axis and under it."""
    import numpy as np

    from netbuilder.gui.panels.confusion import ConfusionMatrixView

    view = ConfusionMatrixView()
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    qtbot.waitExposed(view)
    confusion = np.diag(np.full(10, 20)) + 1
    view.show_matrix(confusion, np.full(10, 0.9), [str(i) for i in range(10)], epoch=1)
    qtbot.waitUntil(lambda: view.plot.getViewBox().width() > 0)
    box = view.plot.getViewBox()
    top_left, bottom_right = box.mapViewToScene(QPointF(0, 0)), box.mapViewToScene(QPointF(10, 10))
    assert top_left.x() - view.plot.getAxis("left").sceneBoundingRect().right() < 12
    assert view.plot.getAxis("bottom").sceneBoundingRect().top() - bottom_right.y() < 12
