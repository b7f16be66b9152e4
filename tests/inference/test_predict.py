"""`netbuilder predict PROJECT FILE…`: images, CSV rows and lines of text in, top classes out."""
import json

import cv2
import numpy as np
import pytest

from netbuilder.core.project import load_project
from netbuilder.data.base import DataError
from netbuilder.data.recipe import Recipe
from netbuilder.model.checkpoint import load_trained_model
from netbuilder.inference.predict import RawSamples, predict_files


def bar(height, width, vertical, rng):
    image = (rng.random((height, width)) * 40).astype(np.uint8)
    if vertical:
        image[:, width // 3: 2 * width // 3] = 255
    else:
        image[height // 3: 2 * height // 3, :] = 255
    return image


@pytest.fixture(scope="module")
def bars_model(tmp_path_factory, cli, make_project):
    folder = tmp_path_factory.mktemp("bars")
    rng = np.random.default_rng(0)
    for name in ("horizontal", "vertical"):
        (folder / "data" / name).mkdir(parents=True)
        for index in range(20):
            cv2.imwrite(str(folder / "data" / name / f"{index}.png"), bar(8, 8, name == "vertical", rng))
    project = make_project(folder / "bars.nbproj", folder / "data", [("flatten", {}), ("dense", {"units": 2})],
                           {"kind": "image", "shape": [1, 28, 28]}, epochs=15)
    assert cli("train", project) == 0
    return project


def test_images_of_any_size_are_read_as_the_training_images_were(bars_model, tmp_path, capsys, cli):
    rng = np.random.default_rng(1)
    cv2.imwrite(str(tmp_path / "tall.png"), bar(120, 90, True, rng))
    cv2.imwrite(str(tmp_path / "wide.jpg"), cv2.cvtColor(bar(40, 64, False, rng), cv2.COLOR_GRAY2BGR))
    capsys.readouterr()
    assert cli("predict", bars_model, tmp_path / "tall.png", tmp_path / "wide.jpg") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["sample", "prediction", "probability", "next"]
    assert [line.split()[:2] for line in lines[1:]] == [["tall.png", "vertical"], ["wide.jpg", "horizontal"]]
    assert all(line.split()[2].endswith("%") for line in lines[1:])


def test_json_gives_every_class_with_probabilities_for_scripts(bars_model, tmp_path, capsys, cli):
    cv2.imwrite(str(tmp_path / "a.png"), bar(8, 8, True, np.random.default_rng(2)))
    capsys.readouterr()
    assert cli("predict", bars_model, tmp_path / "a.png", "--json", "--top", "5") == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["sample"] == "a.png" and record["top"][0]["class"] == "vertical"
    assert [entry["class"] for entry in record["top"]] == ["vertical", "horizontal"]
    assert sum(entry["probability"] for entry in record["top"]) == pytest.approx(1.0, abs=1e-5)


def test_csv_rows_are_read_by_column_name_with_the_training_scaler(numeric_model, tmp_path, capsys, cli):
    (tmp_path / "new.csv").write_text("y,x\n0.2,10.1\n5.1,4.8\n")  # other column order, no label column
    capsys.readouterr()
    assert cli("predict", numeric_model, tmp_path / "new.csv", "--top", "1") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:4] for line in lines[1:]] == [["new.csv", "row", "2", "high"], ["new.csv", "row", "3", "mid"]]


def test_lines_of_text_use_the_training_vocabulary(tmp_path, capsys, cli, make_project):
    rows = [f"{'good great' if index % 2 else 'bad awful'} film,{('neg', 'pos')[index % 2]}" for index in range(40)]
    (tmp_path / "reviews.csv").write_text("text,label\n" + "\n".join(rows) + "\n")
    project = make_project(tmp_path / "text.nbproj", tmp_path / "reviews.csv",
                           [("embedding", {"vocabulary": 8, "dimension": 4}), ("flatten", {}),
                            ("dense", {"units": 2})],
                           {"kind": "tokens", "shape": [100]}, epochs=20)
    assert cli("train", project) == 0
    (tmp_path / "mine.txt").write_text("Unseen: GOOD, great film!\n\nBAD, awful film\n")
    capsys.readouterr()
    assert cli("predict", project, tmp_path / "mine.txt", "--json") == 0
    records = json.loads(capsys.readouterr().out)
    assert [(r["sample"], r["top"][0]["class"]) for r in records] == [("mine.txt line 1", "pos"),
                                                                        ("mine.txt line 3", "neg")]


def test_a_new_kind_of_raw_input_plugs_in_as_a_reader(bars_model, tmp_path):
    trained = load_trained_model(load_project(bars_model), bars_model)

    def read_drawings(recipe: Recipe, files):
        return RawSamples([bar(30, 30, "vertical" in file.name, np.random.default_rng(3)) for file in files],
                          [file.stem for file in files])

    raw, prediction = predict_files(trained, ["a-vertical.json", "b-horizontal.json"], reader=read_drawings)
    assert raw.names == ["a-vertical", "b-horizontal"] and prediction.names == ["vertical", "horizontal"]


def test_predictions_that_would_outgrow_the_free_memory_are_refused_with_the_figures(bars_model, monkeypatch):
    """Every sample's scores and probabilities are kept: a model of 100,000 classes on 100,000
    rows would need 80 GB. Refused before they are made, saying what to do."""
    import netbuilder.inference.predict as predict_module

    trained = load_trained_model(load_project(bars_model), bars_model)
    images = [bar(8, 8, True, np.random.default_rng(4))] * 300

    def read_images(recipe: Recipe, files):
        return RawSamples(images, [f"image {index}" for index in range(len(images))])

    monkeypatch.setattr(predict_module, "available_memory", lambda: 2 * 300 * 2 * 4 - 1)
    with pytest.raises(DataError, match=r"Predicting 300 samples of 2 scores each needs about 4.7 KB; this computer "
                                        r"has 4.7 KB free: predict fewer samples at a time"):
        predict_files(trained, ["many"], reader=read_images)
    monkeypatch.setattr(predict_module, "available_memory", lambda: 2 * 300 * 2 * 4)
    assert len(predict_files(trained, ["many"], reader=read_images)[1]) == 300


@pytest.mark.parametrize("make, message", [
    (lambda tmp: tmp / "missing.png", "There is no image file"),
    (lambda tmp: (tmp / "folder.png").mkdir() or tmp / "folder.png", "is a folder, not an image file"),
    (lambda tmp: tmp / "notes.txt", "the model reads images"),
])
def test_files_the_model_cannot_read_are_one_line(bars_model, tmp_path, capsys, make, message, cli):
    (tmp_path / "notes.txt").write_text("hello\n")
    capsys.readouterr()
    assert cli("predict", bars_model, make(tmp_path)) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_predict_without_training_says_to_train_first(tmp_path, capsys, cli, make_project, cluster_rows):
    (tmp_path / "train.csv").write_text(cluster_rows([5, 5, 5], seed=0))
    project = make_project(tmp_path / "p.nbproj", tmp_path / "train.csv", [("dense", {"units": 3})],
                           {"kind": "vector", "shape": [2]})
    assert cli("predict", project, tmp_path / "train.csv") == 2
    assert "train the model first" in capsys.readouterr().err


def test_a_regression_model_prints_its_predicted_values(tmp_path, capsys, cli, make_project):
    (tmp_path / "line.csv").write_text("x,y\n" + "".join(f"{i},{(2 * i + 1) / 10}\n" for i in range(20)))
    project = make_project(tmp_path / "line.nbproj", tmp_path / "line.csv", [("dense", {"units": 1})],
                           {"kind": "vector", "shape": [1]}, task="regression", epochs=150, learning_rate=0.1)
    assert cli("train", project) == 0
    (tmp_path / "new.csv").write_text("x\n4.5\n")
    capsys.readouterr()
    assert cli("predict", project, tmp_path / "new.csv", "--json") == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["sample"] == "new.csv row 2" and record["values"][0] == pytest.approx(1.0, abs=0.1)
    assert cli("predict", project, tmp_path / "new.csv") == 0
    assert capsys.readouterr().out.splitlines()[0].split() == ["sample", "prediction"]


def test_an_image_with_no_ink_is_said_to_be_empty_not_given_a_class(bars_model, tmp_path, capsys, cli):
    rng = np.random.default_rng(4)
    cv2.imwrite(str(tmp_path / "blank.png"), np.full((28, 28), 255, np.uint8))
    cv2.imwrite(str(tmp_path / "grain.png"), (120 + rng.random((40, 40)) * 20).astype(np.uint8))
    cv2.imwrite(str(tmp_path / "tall.png"), bar(40, 40, True, rng))
    files = [tmp_path / "blank.png", tmp_path / "grain.png", tmp_path / "tall.png"]
    capsys.readouterr()
    assert cli("predict", bars_model, *files) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split(None, 1) == ["blank.png", "(the image is empty)"]
    assert lines[2].split(None, 1) == ["grain.png", "(the image is empty)"]
    assert lines[3].split()[:2] == ["tall.png", "vertical"]
    assert cli("predict", bars_model, *files, "--json") == 0
    blank, grain, tall = json.loads(capsys.readouterr().out)
    assert blank["nothing_to_read"] == grain["nothing_to_read"] == "the image is empty"
    assert blank["top"] == grain["top"] == [] and blank["close_call"] is None
    assert tall["nothing_to_read"] is None and tall["top"][0]["class"] == "vertical"


@pytest.mark.parametrize("margin", [0.0, 1.01])
def test_rows_whose_two_top_classes_are_close_are_marked(bars_model, tmp_path, capsys, cli, monkeypatch, margin):
    # the margin decides: with 0 no answer is a close call, with above 1 every answer is
    monkeypatch.setattr("netbuilder.data.certainty.CLOSE_CALL_MARGIN", margin)
    cv2.imwrite(str(tmp_path / "tall.png"), bar(40, 40, True, np.random.default_rng(5)))
    capsys.readouterr()
    assert cli("predict", bars_model, tmp_path / "tall.png", "--top", "1") == 0
    row = capsys.readouterr().out.splitlines()[1]
    assert cli("predict", bars_model, tmp_path / "tall.png", "--top", "1", "--json") == 0
    (record,) = json.loads(capsys.readouterr().out)
    if margin:
        assert row.split()[:4] == ["tall.png", "vertical", "or", "horizontal?"]
        assert record["close_call"] == ["vertical", "horizontal"]
    else:
        assert row.split()[:2] == ["tall.png", "vertical"] and "?" not in row
        assert record["close_call"] is None
    assert [entry["class"] for entry in record["top"]] == ["vertical"]
