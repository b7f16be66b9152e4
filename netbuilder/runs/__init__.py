"""Qt-free: every training run kept beside its project, listed, compared and restored.

`store` keeps the runs of one project (`digits.nbproj` -> `digits.runs/<run id>/`), `diff` says
what changed between two of them. Below training (which keeps a run when it ends), the command
line and the window, which both list, compare, use and prune them through these two modules.
"""
from .diff import LayerChanged, LayerRef, LayerRewired, ParamChange, RunDiff, SettingChange, diff_projects
from .store import DiskUsage, RunError, RunInfo, RunListing, RunStore, run_id_for, run_name_problem

__all__ = ["DiskUsage", "LayerChanged", "LayerRef", "LayerRewired", "ParamChange", "RunDiff", "RunError", "RunInfo",
           "RunListing", "RunStore", "SettingChange", "diff_projects", "run_id_for",
           "run_name_problem"]
