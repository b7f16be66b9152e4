"""Qt-free: every training run kept beside its project, listed, compared and restored.

`store` keeps the runs of one project (`digits.nbproj` -> `digits.runs/<run id>/`), each with its
`record` (run.json: what a table of runs shows), and `diff` says what changed between two of them.
Below training (which keeps a run when it ends), the command line and the window, which both
list, compare, use and prune them through this package.
Listing, naming, starring, deleting and comparing runs import no torch (the window lists them as a
project opens); reading weights and histories does, when asked.
"""
from .diff import LayerChanged, LayerRef, LayerRewired, ParamChange, RunDiff, SettingChange, diff_projects
from .record import RunError, RunInfo, run_id_for, run_name_problem
from .store import DiskUsage, RunListing, RunStore

__all__ = ["DiskUsage", "LayerChanged", "LayerRef", "LayerRewired", "ParamChange", "RunDiff", "RunError", "RunInfo",
           "RunListing", "RunStore", "SettingChange", "diff_projects", "run_id_for",
           "run_name_problem"]
