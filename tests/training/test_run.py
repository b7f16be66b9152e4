"""The training-run service both presenters use: what a paused run shows and changes, and keeping
and saving its weights beside the project with another run's checkpoint kept."""
from dataclasses import replace

import pytest
from test_session import project

from netbuilder.core.project import save_project
from netbuilder.data.recipe import Recipe, TableRecipe
from netbuilder.model.checkpoint import checkpoint_path, load_trained_model
from netbuilder.training.events import BatchEnded, Finished
from netbuilder.runs import RunStore
from netbuilder.training.run import TrainingRun
from netbuilder.training.run_text import duration


def _pause_after(run: TrainingRun, batches: int):
    """The run's events, paused once `batches` batch reports came (the stream then holds)."""
    events = run.events()
    seen = []
    for event in events:
        seen.append(event)
        if isinstance(event, BatchEnded) and event.batch == batches:
            run.pause()
            return events, seen
    raise AssertionError("the run ended before pausing")


def test_a_paused_run_shows_the_schedules_current_rate_and_a_change_sets_the_rate_from_then_on(make_blobs):
    run = TrainingRun(project(epochs=4, schedule="cosine"), dataset=make_blobs(count=240), report_interval=0,
                      threads=1)
    events, seen = _pause_after(run, 10)
    now = run.paused_values()["learning_rate"]
    assert now < run.settings["learning_rate"] == 0.01  # the cosine schedule has lowered it
    run.change_settings(learning_rate=now / 2)
    run.resume()
    after = [event for event in events if isinstance(event, BatchEnded)]
    assert after[0].learning_rate == pytest.approx(now / 2, rel=1e-6)  # trained at the rate asked for
    assert run.settings["learning_rate"] == pytest.approx(0.005, rel=1e-6)  # the schedule scaled alike


def test_a_run_saves_beside_the_project_and_keeps_a_checkpoint_saved_meanwhile(make_blobs, tmp_path):
    path = tmp_path / "blobs.nbproj"
    save_project(project(epochs=1), path)
    classes = ("class 0", "class 1", "class 2")
    recipe = Recipe("vector", (4,), "classification", classes,
                    table=TableRecipe(("a", "b", "c", "d"), "label", "standard", (0.0,) * 4, (1.0,) * 4))
    first, second = (TrainingRun(project(epochs=1), path, dataset=replace(make_blobs(seed=seed), recipe=recipe),
                                 report_interval=0, threads=1) for seed in (0, 1))
    for run in (first, second):
        assert isinstance(list(run.events())[-1], Finished)
    saved_second = second.save(second.kept())
    assert saved_second.path == checkpoint_path(path) and saved_second.warnings == []
    assert saved_second.reports[0].startswith(f"Kept this run as {saved_second.run.id} in blobs.runs")
    saved_first = first.save(first.kept())  # the second saved while the first trained: it is kept
    assert saved_first.path != checkpoint_path(path) and saved_first.path.exists()
    assert saved_first.texts[0].startswith("Another run saved blobs.safetensors while this one trained")
    assert saved_first.path.name in saved_first.texts[0]
    assert load_trained_model(project(epochs=1), path).history.epochs  # the kept one still reads
    # both runs are kept; the project's model is the one whose weights it holds
    listing = RunStore(path).runs()
    assert {run.id for run in listing.runs} == {saved_first.run.id, saved_second.run.id}
    assert listing.current == saved_second.run.id


@pytest.mark.parametrize("seconds, text", [(None, "…"), (0.4, "0 s"), (42, "42 s"), (187, "3 min 07 s"),
                                           (3900, "1 h 05 min")])
def test_durations_read_the_same_everywhere(seconds, text):
    assert duration(seconds) == text
