"""The runs of one project, kept beside it: `digits.nbproj` -> `digits.runs/<run id>/`.

Each run's folder holds the network and settings exactly as trained (`network.nbproj`), its
weights, history and recipe in the one-file checkpoint format (`network.safetensors`, beside the
network as a project's checkpoint is beside the project, so the checkpoint functions read it
unchanged) and a small `run.json` (name, note, star and the figures a table shows), which is all
that listing reads. A run's folder is written under a hidden name and renamed into place, so a
listing never sees half a run. The project's model stays `digits.safetensors`, where predict,
evaluate, export and the Draw panel read it; `model.json` in the runs folder says which run it
is (valid while that file is the one it names), so a checkpoint saved some other way, or before
runs were kept, becomes a run of its own the next time the runs are listed: nothing is lost.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from netbuilder.common.fields import FieldError, read_field
from netbuilder.common.files import FileReadError, parse_json, read_bounded, write_atomic
from netbuilder.common.text import shown
from netbuilder.core.project import Project, ProjectFileError, load_project, save_project
from netbuilder.model.checkpoint_files import checkpoint_path, checkpoint_version
from netbuilder.model.file_lock import locked
from netbuilder.model.history import History

from .diff import RunDiff, diff_projects
from .record import (NETWORK_FILE, RUN_FILE, RunError, RunInfo, note_problem, read_run, run_id_for, run_name_problem,
                     run_summary, write_run_file)

if TYPE_CHECKING:  # netbuilder.model.checkpoint imports torch: listing runs, naming and deleting them do not
    from netbuilder.model.checkpoint import TrainedModel

RUNS_SUFFIX = ".runs"
MODEL_FILE = "model.json"  # which run's weights the project's model is
MODEL_FORMAT = "netbuilder-run-model"
MAX_MODEL_FILE_BYTES = 64 * 1024
PARTIAL, LEAVING = "partial", "deleting"  # suffixes of the hidden folders of a run being written or deleted
STALE_LEFTOVER_SECONDS = 3600  # such a folder this old was left by a process that was killed
MIGRATED_NOTE = ("Kept from weights saved beside the project that no run held (saved before netbuilder kept every "
                 "run); its network and settings are the project's as they were when it was kept.")


@dataclass(frozen=True)
class RunListing:
    runs: tuple[RunInfo, ...]  # oldest first
    current: str | None  # the id of the run whose weights are the project's model, if it is kept
    problems: tuple[str, ...] = ()  # one line per run folder that could not be read (its files are kept)


@dataclass(frozen=True)
class DiskUsage:
    per_run: dict[str, int]  # bytes per run id
    weights: int  # bytes of the runs' checkpoint files (weights with their histories): about what pruning can free

    @property
    def total(self) -> int:
        return sum(self.per_run.values())


class RunStore:
    """The runs kept for the project file `project_path`, in `<stem>.runs` beside its checkpoint
    (`folder`: the checkpoint's folder when not beside the project, as the command line's --out)."""

    def __init__(self, project_path: str | os.PathLike, folder: str | os.PathLike | None = None):
        self.project_path = Path(project_path)
        self.checkpoint = checkpoint_path(project_path, folder)
        self.folder = self.checkpoint.with_suffix(RUNS_SUFFIX)

    # --- reading ----------------------------------------------------------------------------------
    def runs(self) -> RunListing:
        """Every kept run, oldest first, reading run.json files only. A checkpoint beside the project
        that no run holds (saved before runs were kept, or some other way) becomes a run first."""
        problems = []
        try:
            self.migrate()
        except RunError as error:
            problems.append(str(error))
        runs = []
        for folder in self._run_folders():
            try:
                runs.append(read_run(folder))
            except RunError as error:
                problems.append(str(error))
        return RunListing(tuple(runs), self.current(), tuple(problems))

    def find(self, key: str | RunInfo) -> RunInfo:
        """The run whose id or name is `key` (a RunInfo from `runs` is taken as it is). Raises
        RunError naming the runs there are. The methods below take a key as this one does."""
        if isinstance(key, RunInfo):
            return key
        listing = self.runs()
        for run in listing.runs:
            if run.id == key:
                return run
        named = [run for run in listing.runs if run.name == key]
        if len(named) == 1:
            return named[0]
        if named:
            raise RunError(f'{len(named)} runs are named "{shown(key, 40)}": choose one by its id '
                           f"({', '.join(run.id for run in named)}).")
        known = ", ".join(run.title for run in listing.runs[-5:]) or "none yet"
        raise RunError(f'{shown(self.project_path.name)} has no run "{shown(key, 40)}" (the latest: {shown(known)}; '
                       "netbuilder-cli runs PROJECT lists them).")

    def find_with_weights(self, key: str | RunInfo) -> RunInfo:
        """`find`, for a run whose weights are still kept (RunError once pruned)."""
        run = self.find(key)
        if not run.has_weights:
            raise RunError(f'Run "{shown(run.title)}" has no weights any more (they were pruned); its history '
                           "and network are kept: train it again to use it.")
        return run

    def current(self) -> str | None:
        """The id of the kept run whose weights the project's model is, None when it is none of them."""
        pointer = self._read_pointer()
        if pointer is None:
            return None
        run_id, version = pointer
        if version != checkpoint_version(self.project_path, self.checkpoint.parent) or not _is_run_id(run_id):
            return None
        return run_id if (self.folder / run_id / RUN_FILE).is_file() else None

    def network(self, key: str | RunInfo) -> Project:
        """The run's network and settings as it was trained (to restore it, or to compare)."""
        run = self.find(key)
        try:
            return load_project(run.network_path)
        except ProjectFileError as error:
            raise RunError(f'Run "{shown(run.title)}" cannot be read ({error}); its files are kept.') from None

    def history(self, key: str | RunInfo) -> History:
        """The run's curves, confusion matrices and changes of settings (also once pruned)."""
        from netbuilder.model.checkpoint import CheckpointError, load_history_and_recipe

        run = self.find(key)
        try:
            return load_history_and_recipe(run.network_path)[0]
        except CheckpointError as error:
            raise RunError(f'Run "{shown(run.title)}" cannot be read ({error}).') from None

    def load_model(self, key: str | RunInfo) -> TrainedModel:
        """The run's own network with its weights: what `--run` evaluates, predicts with and exports."""
        run = self.find_with_weights(key)
        return _trained(self.network(run), run)

    def diff(self, before: str | RunInfo, after: str | RunInfo) -> RunDiff:
        """What changed from run `before` to run `after` (settings and network)."""
        return diff_projects(self.network(before), self.network(after))

    def disk_usage(self) -> DiskUsage:
        """The space each run takes (its folder's files), and its weights among them. Raises RunError
        when the runs folder cannot be read."""
        per_run, weights = {}, 0
        for folder in self._run_folders():
            try:
                sizes = {entry.name: entry.stat().st_size for entry in os.scandir(folder) if entry.is_file()}
            except OSError:
                continue  # deleted meanwhile, or unreadable (the listing names it)
            per_run[folder.name] = sum(sizes.values())
            weights += sizes.get(checkpoint_path(folder / NETWORK_FILE).name, 0)
        return DiskUsage(per_run, weights)

    # --- keeping ----------------------------------------------------------------------------------
    def keep(self, trained: TrainedModel, network: Project, *, started: float, samples_per_second: float | None,
             ended: str = "", current: bool = True) -> RunInfo:
        """Keep a finished run: `network` as it was trained, `trained`'s weights, history and
        recipe, the figures for the table; `current`: its weights are the project's model now
        (the checkpoint beside the project was just written from them). Raises OSError."""
        from netbuilder.model.checkpoint import checkpoint_bytes

        data = checkpoint_bytes(trained.model, trained.history, recipe=trained.recipe)
        run = run_summary(trained.history, run_id_for(started), started, samples_per_second, ended)
        return self._add(run, network, data, current)

    def migrate(self) -> RunInfo | None:
        """Keep the project's checkpoint as a run when no run holds it (the first listing after
        runs were kept, or weights saved some other way); the checkpoint itself stays where it
        is. Returns the new run, None when there was nothing to do. Raises RunError."""
        version = checkpoint_version(self.project_path, self.checkpoint.parent)
        pointer = self._read_pointer()
        if version is None or (pointer is not None and pointer[1] == version):
            return None
        from netbuilder.model.checkpoint import MAX_CHECKPOINT_BYTES, CheckpointError, load_history_and_recipe

        name = shown(self.checkpoint.name)
        try:
            history, _ = load_history_and_recipe(self.project_path, self.checkpoint.parent)
            data = read_bounded(self.checkpoint, MAX_CHECKPOINT_BYTES, "checkpoint")
            network = load_project(self.project_path)
        except (CheckpointError, FileReadError, ProjectFileError) as error:
            raise RunError(f"{name} was not kept as a run ({error}); it stays where it is.") from None
        started = os.stat(self.checkpoint).st_mtime - sum(epoch.seconds for epoch in history.epochs)
        run = replace(run_summary(history, run_id_for(started), started, None, ""), note=MIGRATED_NOTE)
        try:
            return self._add(run, network, data, current=True)
        except OSError as error:
            raise RunError(f"{name} was not kept as a run ({error.strerror or error}); it stays where it is.") from None

    def keep_unkept_checkpoint(self) -> None:
        """Before the project's checkpoint is replaced: keep it as a run if no run holds it (a
        damaged one, which cannot be kept, is replaced as it always was)."""
        with contextlib.suppress(RunError):
            self.migrate()

    # --- changing ---------------------------------------------------------------------------------
    def update(self, key: str | RunInfo, *, name: str | None = None, note: str | None = None,
               starred: bool | None = None) -> RunInfo:
        """Rename a run, change its note or its star. Raises RunError (a name or note that cannot
        be kept) or OSError."""
        run = self.find(key)
        changes = {"name": name, "note": note, "starred": starred}
        problem = (run_name_problem(name) if name is not None else None) or \
            (note_problem(note) if note is not None else None)
        if problem:
            raise RunError(problem)
        run = replace(run, **{field: value for field, value in changes.items() if value is not None})
        write_run_file(run)
        return run

    def use(self, key: str | RunInfo, network: Project) -> TrainedModel:
        """Make run `key`'s weights the project's model (what predict, evaluate, export and the Draw
        panel read). `network`: the project's network now, which the weights must fit (restore the
        run's network first when it changed). Returns the model. Raises RunError or OSError."""
        from netbuilder.model.checkpoint import MAX_CHECKPOINT_BYTES, CheckpointError, load_trained_model

        run = self.find_with_weights(key)
        try:
            trained = load_trained_model(network, run.network_path)
        except CheckpointError as error:
            changes = diff_projects(self.network(run), network)
            if changes.same:  # the same network: the run's file itself is at fault
                raise RunError(f'Run "{shown(run.title)}": {error}') from None
            raise RunError(f'Run "{shown(run.title)}" was trained on another network than the project\'s now '
                           f"(changed since: {changes.summary}): restore the run's network first to use its "
                           "weights.") from None
        data = read_bounded(run.weights_path, MAX_CHECKPOINT_BYTES, "checkpoint")
        self.keep_unkept_checkpoint()
        self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        with locked(self.checkpoint):
            write_atomic(self.checkpoint, data)
            self._point_to(run.id)
        return trained

    def delete(self, keys: list[str | RunInfo]) -> int:
        """Delete runs (all of `keys` are found first); returns the bytes freed. The project's model
        stays as it is, also when it came from a deleted run. Raises RunError or OSError."""
        runs = [self.find(key) for key in keys]
        usage = self.disk_usage().per_run
        for run in runs:
            # hidden first, so that a delete cut short leaves no half run in the listing
            leaving = run.folder.with_name(f".{run.id}.{LEAVING}")
            os.rename(run.folder, leaving)
            shutil.rmtree(leaving)
        return sum(usage.get(run.id, 0) for run in runs)

    def prune(self, keep_last: int) -> int:
        """Drop the weights of every run but the starred ones, the last `keep_last` and the project's
        model; their histories and networks stay. Returns the bytes freed. Raises OSError."""
        import torch

        from netbuilder.model.checkpoint import CheckpointError, checkpoint_bytes, load_history_and_recipe

        listing = self.runs()
        kept = {run.id for run in listing.runs[len(listing.runs) - keep_last:]} if keep_last > 0 else set()
        before = self.disk_usage().total
        for run in listing.runs:
            if not run.has_weights or run.starred or run.id in kept or run.id == listing.current:
                continue
            try:
                history, recipe = load_history_and_recipe(run.network_path)
            except CheckpointError:
                continue  # a damaged checkpoint is left as it is for the person to look at
            write_atomic(run.weights_path, checkpoint_bytes(torch.nn.Module(), history, recipe=recipe))
            write_run_file(replace(run, has_weights=False))
        return before - self.disk_usage().total

    # --- inside -----------------------------------------------------------------------------------
    def _run_folders(self) -> list[Path]:
        try:
            entries = sorted(entry.name for entry in os.scandir(self.folder)
                             if entry.is_dir() and not entry.name.startswith("."))
        except FileNotFoundError:
            return []
        except OSError as error:
            raise RunError(f"The runs in {shown(self.folder)} cannot be read: {error.strerror or error}") from None
        return [self.folder / name for name in entries]

    def _add(self, run: RunInfo, network: Project, weights: bytes, current: bool) -> RunInfo:
        """Write the run under a hidden name and rename it into place under a free id; what changed
        from the latest run kept before it is noted in it."""
        run = replace(run, **self._changes_from_latest(network))
        self.folder.mkdir(parents=True, exist_ok=True)
        self._remove_stale_leftovers()
        partial = Path(tempfile.mkdtemp(prefix=f".{run.id}.", suffix=f".{PARTIAL}", dir=self.folder))
        try:
            os.chmod(partial, 0o777 & ~_umask())  # mkdtemp's 0700 would hide the run from the user's other accounts
            save_project(network, partial / NETWORK_FILE)
            write_atomic(checkpoint_path(partial / NETWORK_FILE), weights)
            run = self._place(run, partial)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        if current:
            self._point_to(run.id)
        return run

    def _remove_stale_leftovers(self) -> None:
        """Hidden folders that a run saved or deleted when the process was killed left behind."""
        now = time.time()
        for entry in os.scandir(self.folder):
            if entry.name.startswith(".") and entry.name.endswith((PARTIAL, LEAVING)) and entry.is_dir():
                with contextlib.suppress(OSError):  # another process's, still at work, or not ours to remove
                    if now - entry.stat().st_mtime > STALE_LEFTOVER_SECONDS:
                        shutil.rmtree(entry.path)

    def _changes_from_latest(self, network: Project) -> dict[str, str]:
        folders = self._run_folders()
        if not folders:
            return {}
        try:
            latest = load_project(folders[-1] / NETWORK_FILE)
        except ProjectFileError:
            return {}  # a run that cannot be read: the new one is kept all the same
        return {"changes": diff_projects(latest, network).summary, "compared_with": folders[-1].name}

    def _place(self, run: RunInfo, partial: Path) -> RunInfo:
        number = 1
        while True:
            run_id = run.id if number == 1 else f"{run.id}-{number}"
            placed = replace(run, id=run_id, folder=self.folder / run_id)
            write_run_file(replace(placed, folder=partial))
            try:
                os.rename(partial, placed.folder)  # fails when the id is taken: two runs started the same second
                return placed
            except OSError:
                if not placed.folder.exists():
                    raise
                number += 1

    def _point_to(self, run_id: str) -> None:
        version = checkpoint_version(self.project_path, self.checkpoint.parent)
        document = {"format": MODEL_FORMAT, "version": 1, "run": run_id, "checkpoint": list(version or ())}
        write_atomic(self.folder / MODEL_FILE, (json.dumps(document) + "\n").encode())

    def _read_pointer(self) -> tuple[str, tuple[int, ...]] | None:
        try:
            document = parse_json(read_bounded(self.folder / MODEL_FILE, MAX_MODEL_FILE_BYTES, "run file"), MODEL_FILE)
            if document.get("format") != MODEL_FORMAT:
                return None
            return read_field(document, "run", "text"), tuple(read_field(document, "checkpoint", "numbers"))
        except (FileReadError, FieldError, AttributeError):
            return None  # none, or damaged: the project's model is then no run's, and is kept as one


def _is_run_id(text: str) -> bool:
    """A name a run folder can have (model.json names one): no path, nothing hidden."""
    return bool(text) and not text.startswith(".") and "/" not in text and "\\" not in text


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _trained(network: Project, run: RunInfo) -> TrainedModel:
    from netbuilder.model.checkpoint import CheckpointError, load_trained_model

    try:
        return load_trained_model(network, run.network_path)
    except CheckpointError as error:
        raise RunError(f'Run "{shown(run.title)}": {error}') from None


