"""`netbuilder evaluate --data FILE` reads FILE exactly as the training data was read: the three
measured defects (a rebuilt vocabulary, a refitted scaler, shifted class indices) as tests."""
import random
import re

import torch
from safetensors.torch import save as save_safetensors



def accuracy(output: str) -> float:
    return float(re.search(r"Accuracy on .*: ([\d.]+)%", output).group(1))


POSITIVE, NEGATIVE = ["good", "great", "fine", "lovely"], ["bad", "awful", "poor", "dull"]


def reviews(rng, count, weights):
    """Texts of three words from one side, the words drawn with the given frequencies."""
    rows = []
    for index in range(count):
        label = ("pos", "neg")[index % 2]
        words = rng.choices(POSITIVE if label == "pos" else NEGATIVE, weights=weights, k=3)
        rows.append(f"{' '.join(words)},{label}")
    return "text,label\n" + "\n".join(rows) + "\n"


def test_a_text_classifier_reads_a_test_file_with_its_own_vocabulary(tmp_path, capsys, cli, make_project):
    rng = random.Random(0)
    (tmp_path / "train.csv").write_text(reviews(rng, 80, [8, 4, 2, 1]))
    # the same words and labels, but the rarest words are now the most frequent: a vocabulary
    # rebuilt from this file would give every word another id
    (tmp_path / "test.csv").write_text(reviews(rng, 40, [1, 2, 4, 8]))
    project = make_project(tmp_path / "text.nbproj", tmp_path / "train.csv",
                           [("embedding", {"vocabulary": 16, "dimension": 8}), ("lstm", {"hidden_size": 8}),
                            ("dense", {"units": 2})], {"kind": "tokens", "shape": [100]}, epochs=15)
    assert cli("train", project) == 0
    capsys.readouterr()
    assert cli("evaluate", project, "--data", tmp_path / "test.csv") == 0
    output = capsys.readouterr().out
    assert "40 samples of test.csv" in output and accuracy(output) == 100.0


def test_a_test_file_with_skewed_class_sizes_keeps_the_training_scaler(numeric_model, tmp_path, capsys, cli,
                                                                       cluster_rows):
    (tmp_path / "skewed.csv").write_text(cluster_rows([100, 5, 5], seed=1))
    assert cli("evaluate", numeric_model, "--data", tmp_path / "skewed.csv") == 0
    output = capsys.readouterr().out
    assert "110 samples of skewed.csv" in output and accuracy(output) == 100.0


def test_a_test_file_lacking_a_class_keeps_the_class_indices(numeric_model, tmp_path, capsys, cli, cluster_rows):
    (tmp_path / "two.csv").write_text(cluster_rows([20, 0, 20], seed=2))
    assert cli("evaluate", numeric_model, "--data", tmp_path / "two.csv") == 0
    output = capsys.readouterr().out.splitlines()
    assert accuracy(output[0]) == 100.0
    assert output[2].split()[-4:] == ["high", "low", "mid", "accuracy"]  # the model's classes, none named "2"
    mid_row = next(line for line in output if line.startswith("mid"))
    assert mid_row.split()[-1] == "-"  # no samples of that class, and nothing shifted into its place


def test_rows_with_a_label_the_model_does_not_know_are_left_out_by_name(numeric_model, tmp_path, capsys, cli,
                                                                        cluster_rows):
    (tmp_path / "extra.csv").write_text(cluster_rows([10, 10, 10], seed=3) + "3.0,3.0,giant\n")
    assert cli("evaluate", numeric_model, "--data", tmp_path / "extra.csv") == 0
    captured = capsys.readouterr()
    assert 'left out 1 sample with labels the model was not trained on: "giant"' in captured.err
    assert "30 of the 31 samples of extra.csv" in captured.out and accuracy(captured.out) == 100.0


def test_without_data_the_validation_part_of_the_training_data_is_used(tmp_path, capsys, cli, make_project,
                                                                       cluster_rows):
    (tmp_path / "train.csv").write_text(cluster_rows([20, 20, 20], seed=0))
    project = make_project(tmp_path / "points.nbproj", tmp_path / "train.csv", [("dense", {"units": 3})],
                           {"kind": "vector", "shape": [2]}, epochs=2)
    assert cli("train", project) == 0
    capsys.readouterr()
    assert cli("evaluate", project) == 0
    assert capsys.readouterr().out.startswith("Accuracy on 12 validation samples of ")


def test_an_integer_target_trains_as_regression_when_the_output_says_so(tmp_path, capsys, cli, make_project):
    rng = random.Random(4)
    rows = []
    for _ in range(60):
        rating = rng.randint(1, 5)
        rows.append(f"{rating * 2 + rng.uniform(-0.1, 0.1):.3f},{rng.uniform(0, 1):.3f},{rating}")
    (tmp_path / "ratings.csv").write_text("quality,noise,rating\n" + "\n".join(rows) + "\n")
    project = make_project(tmp_path / "ratings.nbproj", tmp_path / "ratings.csv", [("dense", {"units": 1})],
                           {"kind": "vector", "shape": [2]}, task="regression", epochs=150, learning_rate=0.05)
    assert cli("train", project) == 0
    capsys.readouterr()
    assert cli("evaluate", project, "--data", tmp_path / "ratings.csv") == 0
    output = capsys.readouterr().out
    error = float(re.search(r"Mean squared error on 60 samples of ratings.csv: ([\d.]+)", output).group(1))
    assert error < 0.1  # predicting the mean rating would score about 2


def test_an_older_checkpoint_is_refused_with_a_request_to_train_again(numeric_model, capsys, cli):
    numeric_model.with_suffix(".safetensors").write_bytes(
        save_safetensors({"w": torch.zeros(1)}, metadata={"format": "netbuilder-weights"}))
    assert cli("evaluate", numeric_model) == 2
    err = capsys.readouterr().err
    assert "without the recipe" in err and "train the model again" in err and len(err.splitlines()) == 1
