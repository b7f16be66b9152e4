"""The kept runs as the command line prints them: a table for people, JSON for scripts."""
from __future__ import annotations

import json
from dataclasses import asdict

from netbuilder.common.text import byte_size, shown_within
from netbuilder.runs import DiskUsage, RunDiff, RunInfo, RunListing

from .run_text import duration


def runs_table(listing: RunListing, usage: DiskUsage) -> str:
    """One row per run, oldest first; `*` marks the project's model, `★` a starred run."""
    if not listing.runs:
        return "No runs kept yet: train the project (netbuilder-cli train PROJECT) to keep one."
    header = ("", "run", "name", "epochs", "best", "time", "samples/s", "size", "changes from the run before it")
    rows = [header] + [_row(run, listing.current, usage) for run in listing.runs]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header) - 1)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1] for row in rows]
    pruned = sum(not run.has_weights for run in listing.runs)
    footer = (f"{len(listing.runs)} run{'s' * (len(listing.runs) != 1)}, {byte_size(usage.total)} "
              f"({byte_size(usage.weights)} of weights{f'; {pruned} pruned' if pruned else ''}); "
              "* the project's model")
    return "\n".join(line.rstrip() for line in lines) + "\n" + footer


def _row(run: RunInfo, current: str | None, usage: DiskUsage) -> tuple[str, ...]:
    marks = ("*" if run.id == current else " ") + ("★" if run.starred else " ")
    if run.best_val_accuracy is not None:
        best = f"{100 * run.best_val_accuracy:.1f}%"
    elif run.best_val_loss is not None:
        best = f"loss {run.best_val_loss:.4g}"
    else:
        best = "-"
    speed = f"{run.samples_per_second:,.0f}" if run.samples_per_second is not None else "-"
    size = byte_size(usage.per_run.get(run.id, 0)) + ("" if run.has_weights else " (pruned)")
    return (marks, run.id, shown_within(run.name, 30), str(run.epochs), best, duration(run.seconds), speed, size,
            run.changes)


def runs_json(listing: RunListing, usage: DiskUsage) -> str:
    """The listing for scripts: every run.json field, its size on disk, whether it is the project's model."""
    runs = [{**run.to_dict(), "bytes": usage.per_run.get(run.id, 0), "model": run.id == listing.current}
            for run in listing.runs]
    return json.dumps({"runs": runs, "bytes": usage.total, "problems": list(listing.problems)}, ensure_ascii=True,
                      indent=1)


def diff_json(before: RunInfo, after: RunInfo, diff: RunDiff) -> str:
    """What changed, for scripts: the summary line and each difference as data."""
    return json.dumps({"before": before.id, "after": after.id, "summary": diff.summary, **asdict(diff)},
                      ensure_ascii=True, indent=1, default=str)
