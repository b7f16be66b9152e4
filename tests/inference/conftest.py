"""Predicting needs trained models: the training tests' small projects and command line."""
from tests.training.conftest import cli, cluster_rows, make_project, numeric_model  # noqa: F401 (fixtures)
