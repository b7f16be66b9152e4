"""Kept runs as a user relies on them: every run kept, listed from small files, used, renamed,
pruned and deleted; an old project's one checkpoint becomes its first run; damage loses nothing."""
import json
import os
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netbuilder.core.compile import compile_graph
from netbuilder.core.project import load_project, project_from_dict, save_project
from netbuilder.data.recipe import Recipe, TableRecipe
from netbuilder.model.checkpoint import (TrainedModel, checkpoint_path, load_trained_model, save_checkpoint)
from netbuilder.model.history import EpochEnded, History
from netbuilder.runs import RunError, RunStore, run_name_problem
from netbuilder.runs.record import RUN_FILE
from netbuilder.runs.store import MIGRATED_NOTE

RECIPE = Recipe("vector", (4,), "classification", ("cat", "dog", "eel"),
                table=TableRecipe(("a", "b", "c", "d"), "pet", "standard", (0.0, 1.0, 2.0, 3.0), (1.0, 2.0, 3.0, 4.0)))
START = 1_765_000_000.0  # a fixed start time, so that ids are known


def network(units=3, learning_rate=0.01):
    nodes = [{"id": "a", "type": "input", "name": "input1", "params": {"kind": "vector", "shape": [4]}},
             {"id": "b", "type": "dense", "name": "fc1", "params": {"units": units}},
             {"id": "c", "type": "output", "name": "output1", "params": {"task": "classification"}}]
    edges = [{"source": "a", "target": "b"}, {"source": "b", "target": "c"}]
    return project_from_dict({"format": "netbuilder-project", "version": 1, "name": "pets", "nodes": nodes,
                              "edges": edges, "dataset": "pets.csv", "training": {"learning_rate": learning_rate}})


def trained(project, fill: float, accuracies=(0.6, 0.8)) -> TrainedModel:
    model = compile_graph(project.graph)
    torch.nn.init.constant_(model.fc1.weight, fill)
    epochs = [EpochEnded(i + 1, len(accuracies), 1.0 - a, a, 1.1 - a, a, 1e-3, 0.5) for i, a in enumerate(accuracies)]
    return TrainedModel(model, RECIPE, History(["cat", "dog", "eel"], "classification", "pets.csv", epochs))


def train(path, project, fill, started, **figures):
    """What TrainingRun.save does after a run: the project's checkpoint, then the run kept."""
    run = trained(project, fill, **figures)
    save_checkpoint(run.model, run.history, path, recipe=RECIPE)
    return RunStore(path).keep(run, project, started=started, samples_per_second=1234.5, ended="completed")


@pytest.fixture
def project_file(tmp_path):
    path = tmp_path / "pets.nbproj"
    save_project(network(), path)
    return path


def test_each_run_is_kept_with_its_network_weights_and_figures(project_file):
    first = train(project_file, network(), 0.25, START)
    second = train(project_file, network(units=3, learning_rate=0.03), 0.5, START + 60, accuracies=(0.7, 0.9, 0.95))
    listing = RunStore(project_file).runs()
    assert [run.id for run in listing.runs] == [first.id, second.id] and listing.current == second.id
    assert listing.problems == ()
    assert second.epochs == 3 and second.best_val_accuracy == 0.95 and second.seconds == 1.5
    assert second.samples_per_second == 1234.5 and second.ended == "completed" and second.dataset == "pets.csv"
    assert (first.changes, second.changes, second.compared_with) == ("", "lr 0.01 → 0.03", first.id)  # for the table
    store = RunStore(project_file)
    assert store.network(first.id).training.learning_rate == 0.01  # as trained, whatever the project says now
    assert torch.equal(store.load_model(first.id).model.fc1.weight, torch.full((3, 4), 0.25))
    assert [epoch.val_accuracy for epoch in store.history(second).epochs] == [0.7, 0.9, 0.95]
    # the project's model is still where predict, evaluate, export and Draw read it: the latest run's
    assert torch.equal(load_trained_model(network(), project_file).model.fc1.weight, torch.full((3, 4), 0.5))


def test_a_run_made_the_project_model_is_what_predict_reads(project_file):
    first = train(project_file, network(), 0.25, START)
    train(project_file, network(), 0.5, START + 60)
    store = RunStore(project_file)
    model = store.use(first.id, load_project(project_file))
    assert torch.equal(model.model.fc1.weight, torch.full((3, 4), 0.25))
    assert torch.equal(load_trained_model(network(), project_file).model.fc1.weight, torch.full((3, 4), 0.25))
    assert store.runs().current == first.id


def test_weights_that_do_not_fit_the_network_now_are_refused_and_nothing_changes(project_file):
    first = train(project_file, network(), 0.25, START)
    train(project_file, network(), 0.5, START + 60)
    before = checkpoint_path(project_file).read_bytes()
    with pytest.raises(RunError, match=r"trained on another network than the project's now \(changed since: fc1 "
                                       r"units 3 → 5\): restore the run's network first"):
        RunStore(project_file).use(first.id, network(units=5))
    assert checkpoint_path(project_file).read_bytes() == before


def test_the_first_listing_of_an_old_project_turns_its_checkpoint_into_the_first_run(project_file):
    old = trained(network(), 0.75)
    save_checkpoint(old.model, old.history, project_file, recipe=RECIPE)  # as netbuilder saved before runs
    weights = checkpoint_path(project_file).read_bytes()
    listing = RunStore(project_file).runs()
    (run,) = listing.runs
    assert listing.current == run.id and run.note == MIGRATED_NOTE and run.epochs == 2
    assert run.weights_path.read_bytes() == weights and checkpoint_path(project_file).read_bytes() == weights
    assert RunStore(project_file).runs().runs == listing.runs  # once only
    assert torch.equal(RunStore(project_file).load_model(run.id).model.fc1.weight, torch.full((3, 4), 0.75))


def test_weights_saved_some_other_way_become_a_run_of_their_own(project_file):
    train(project_file, network(), 0.25, START)
    other = trained(network(), 0.9)
    save_checkpoint(other.model, other.history, project_file, recipe=RECIPE)  # fine-tuning, say
    listing = RunStore(project_file).runs()
    assert len(listing.runs) == 2 and listing.current == listing.runs[-1].id
    assert torch.equal(RunStore(project_file).load_model(listing.current).model.fc1.weight, torch.full((3, 4), 0.9))


def test_a_damaged_checkpoint_is_not_migrated_and_stays(project_file):
    checkpoint_path(project_file).write_bytes(b"not weights")
    listing = RunStore(project_file).runs()
    assert listing.runs == () and len(listing.problems) == 1
    assert "was not kept as a run" in listing.problems[0] and "stays where it is" in listing.problems[0]
    assert checkpoint_path(project_file).read_bytes() == b"not weights"


def test_two_runs_started_in_the_same_second_both_stay(project_file):
    first = train(project_file, network(), 0.25, START)
    second = train(project_file, network(), 0.5, START)
    assert second.id == f"{first.id}-2"
    assert len(RunStore(project_file).runs().runs) == 2


def test_names_notes_and_stars_are_kept_and_a_run_is_found_by_name(project_file):
    run = train(project_file, network(), 0.25, START)
    store = RunStore(project_file)
    store.update(run.id, name="with BatchNorm ✓", note="lr from the\nlr finder", starred=True)
    found = store.find("with BatchNorm ✓")
    assert (found.id, found.note, found.starred) == (run.id, "lr from the\nlr finder", True)


@pytest.mark.parametrize("name, message", [
    ("two\nlines", "one line of text"), ("bell\x07", "one line of text"), ("x" * 81, "at most 80 characters"),
])
def test_a_name_with_odd_characters_gets_one_clear_message_and_changes_nothing(project_file, name, message):
    run = train(project_file, network(), 0.25, START)
    before = (run.folder / RUN_FILE).read_bytes()
    assert message in run_name_problem(name)
    with pytest.raises(RunError, match=message):
        RunStore(project_file).update(run.id, name=name)
    assert (run.folder / RUN_FILE).read_bytes() == before


def test_an_unknown_run_names_the_runs_there_are(project_file):
    run = train(project_file, network(), 0.25, START)
    with pytest.raises(RunError, match=rf'has no run "nope" \(the latest: {run.id}; netbuilder-cli runs'):
        RunStore(project_file).find("nope")


def test_a_corrupt_run_file_gets_one_line_and_the_other_runs_are_listed(project_file):
    first = train(project_file, network(), 0.25, START)
    second = train(project_file, network(), 0.5, START + 60)
    (first.folder / RUN_FILE).write_text('{"format": "netbuilder-run", "version": 1, "epochs": "many"')
    listing = RunStore(project_file).runs()
    assert [run.id for run in listing.runs] == [second.id]
    (problem,) = listing.problems
    assert first.id in problem and "its files are kept" in problem and "\n" not in problem
    assert (first.folder / "network.safetensors").exists()


def test_a_run_folder_deleted_by_hand_is_just_gone_and_the_model_stays(project_file):
    first = train(project_file, network(), 0.25, START)
    second = train(project_file, network(), 0.5, START + 60)
    weights = checkpoint_path(project_file).read_bytes()
    for path in second.folder.iterdir():
        path.unlink()
    second.folder.rmdir()
    listing = RunStore(project_file).runs()
    assert [run.id for run in listing.runs] == [first.id] and listing.current is None and listing.problems == ()
    assert checkpoint_path(project_file).read_bytes() == weights  # not taken for a new run either


def test_a_run_folder_without_its_run_file_is_named_and_kept(project_file):
    run = train(project_file, network(), 0.25, START)
    (run.folder / RUN_FILE).unlink()
    listing = RunStore(project_file).runs()
    assert listing.runs == () and f"has no {RUN_FILE}" in listing.problems[0]
    assert run.weights_path.exists()


def test_pruning_keeps_the_weights_of_starred_runs_the_last_n_and_the_model_and_every_history(project_file):
    runs = [train(project_file, network(), 0.1 * i, START + 60 * i) for i in range(5)]
    store = RunStore(project_file)
    store.update(runs[0].id, starred=True)
    store.use(runs[1].id, network())
    before = store.disk_usage()
    freed = store.prune(keep_last=2)
    kept = {run.id: run.has_weights for run in store.runs().runs}
    assert kept == {runs[0].id: True, runs[1].id: True, runs[2].id: False, runs[3].id: True, runs[4].id: True}
    assert freed > 0 and store.disk_usage().total == before.total - freed
    assert len(store.history(runs[2].id).epochs) == 2  # the curves stay
    with pytest.raises(RunError, match="no weights any more"):
        store.load_model(runs[2].id)


def test_deleting_runs_frees_their_space_and_keeps_the_model(project_file):
    runs = [train(project_file, network(), 0.1 * i, START + 60 * i) for i in range(3)]
    store = RunStore(project_file)
    usage = store.disk_usage()
    assert usage.total == sum(usage.per_run.values()) and set(usage.per_run) == {run.id for run in runs}
    freed = store.delete([runs[0].id, runs[2].id])
    assert freed == usage.per_run[runs[0].id] + usage.per_run[runs[2].id]
    assert [run.id for run in store.runs().runs] == [runs[1].id]
    assert torch.equal(load_trained_model(network(), project_file).model.fc1.weight, torch.full((3, 4), 0.2))


def test_deleting_an_unknown_run_deletes_nothing(project_file):
    run = train(project_file, network(), 0.25, START)
    with pytest.raises(RunError):
        RunStore(project_file).delete([run.id, "nope"])
    assert run.folder.exists()


def test_a_listing_reads_no_weights(project_file, monkeypatch):
    for i in range(3):
        train(project_file, network(), 0.1, START + 60 * i)
    read = []
    original = os.open

    def watching_open(file, *args, **kwargs):
        read.append(os.fspath(file))
        return original(file, *args, **kwargs)

    monkeypatch.setattr(os, "open", watching_open)
    RunStore(project_file).runs()
    assert read and all(not path.endswith(".safetensors") for path in read)


def test_run_files_are_json_a_person_can_read(project_file):
    run = train(project_file, network(), 0.25, START)
    document = json.loads((run.folder / RUN_FILE).read_text())
    assert document["format"] == "netbuilder-run" and document["id"] == run.id and document["epochs"] == 2


def test_using_a_run_first_keeps_weights_no_run_holds(project_file):
    first = train(project_file, network(), 0.25, START)
    other = trained(network(), 0.9)
    save_checkpoint(other.model, other.history, project_file, recipe=RECIPE)  # saved some other way, not listed
    store = RunStore(project_file)
    store.use(first, network())
    (_, kept), current = [run.id for run in store.runs().runs], store.runs().current
    assert current == first.id
    assert torch.equal(store.load_model(kept).model.fc1.weight, torch.full((3, 4), 0.9))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(max_size=100), note=st.text(max_size=200))
def test_any_name_or_note_is_kept_exactly_or_refused_with_one_line(project_file, name, note):
    kept_runs = RunStore(project_file).runs().runs  # the fixture's folder lives through every example
    run = kept_runs[0] if kept_runs else train(project_file, network(), 0.25, START)
    before = (run.folder / RUN_FILE).read_bytes()
    try:
        RunStore(project_file).update(run.id, name=name, note=note)
    except RunError as error:
        assert "\n" not in str(error) and len(str(error)) < 200
        assert (run.folder / RUN_FILE).read_bytes() == before
        return
    kept = RunStore(project_file).find(run.id)
    assert (kept.name, kept.note) == (name, note)
    if name and name != run.id:
        assert RunStore(project_file).find(name).id == run.id


def test_a_delete_cut_short_leaves_no_half_run_and_its_leftovers_go_later(project_file, monkeypatch):
    first = train(project_file, network(), 0.25, START)

    def killed(path, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("netbuilder.runs.store.shutil.rmtree", killed)
    with pytest.raises(KeyboardInterrupt):
        RunStore(project_file).delete([first.id])
    monkeypatch.undo()
    listing = RunStore(project_file).runs()
    assert listing.runs == () and listing.problems == ()
    (leftover,) = [path for path in first.folder.parent.iterdir() if path.name.endswith(".deleting")]
    os.utime(leftover, (START, START))
    train(project_file, network(), 0.5, START + 60)
    assert not leftover.exists()


def test_listing_naming_and_deleting_runs_import_no_torch(project_file):
    """The window lists a project's runs as it opens, before anything imports torch (about 2 s)."""
    import subprocess
    import sys

    first = train(project_file, network(), 0.25, START)
    train(project_file, network(), 0.5, START + 60)
    code = (f"import sys; from netbuilder.runs import RunStore; store = RunStore({str(project_file)!r}); "
            f"store.runs(); store.disk_usage(); store.update({first.id!r}, name='a'); store.delete(['a']); "
            "store.diff(*store.runs().runs * 2); print(sorted(m for m in ('torch', 'PySide6') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    assert result.stdout.strip() == "[]"
    assert len(RunStore(project_file).runs().runs) == 1
