import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from netbuilder.training.metrics import MAX_CONFUSION_CLASSES, Evaluation, evaluate, format_confusion


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 60), st.integers(2, 6), st.integers(0, 2**31 - 1), st.integers(1, 17))
def test_confusion_and_accuracy_agree_with_counting(count, classes, seed, batch_size):
    generator = torch.Generator().manual_seed(seed)
    scores = torch.randn(count, classes, generator=generator)
    labels = torch.randint(0, classes, (count,), generator=generator)
    result = evaluate(torch.nn.Identity(), scores, labels, "classification", batch_size)

    predicted = scores.argmax(1).numpy()
    expected = np.zeros((classes, classes), np.int64)
    for true, guess in zip(labels.numpy(), predicted):
        expected[true, guess] += 1
    assert np.array_equal(result.confusion, expected) and np.array_equal(result.predictions, predicted)
    assert result.accuracy == np.mean(predicted == labels.numpy())
    for cls in range(classes):
        members = labels.numpy() == cls
        if members.any():
            assert result.per_class_accuracy[cls] == np.mean(predicted[members] == cls)
        else:
            assert np.isnan(result.per_class_accuracy[cls])
    assert abs(result.loss - float(torch.nn.functional.cross_entropy(scores, labels))) < 1e-5


def test_regression_reports_the_mean_squared_error_and_outputs():
    targets = torch.tensor([[1.0], [2.0]])
    result = evaluate(torch.nn.Identity(), torch.tensor([[1.0], [4.0]]), targets, "regression")
    assert result.loss == 2.0 and result.accuracy is None and result.predictions.tolist() == [[1.0], [4.0]]


def test_evaluate_restores_training_mode():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5))
    evaluate(model, torch.randn(4, 2), torch.tensor([0, 1, 0, 1]), "classification")
    assert model.training


def _evaluation(confusion: np.ndarray | None, per_class: list[float]) -> Evaluation:
    return Evaluation(0.0, 0.5, confusion, np.array(per_class), np.zeros(0, np.int64))


def test_confusion_table_is_aligned_and_names_classes():
    table = format_confusion(_evaluation(np.array([[5, 0], [12345, 7]]), [1.0, 7 / 12352]), ["cat", "dog"])
    table = table.splitlines()
    assert len({len(line) for line in table}) == 1
    assert table[0].split()[-3:] == ["cat", "dog", "accuracy"]
    assert table[2].split() == ["dog", "12345", "7", "0.1%"]


def test_class_names_from_files_are_shown_short_and_printable_in_the_table():
    names = ["\x1b[2Jred", "n" * 5000]
    table = format_confusion(_evaluation(np.array([[1, 0], [0, 1]]), [1.0, 1.0]), names)
    assert "\x1b" not in table and "\\x1b[2Jred" in table
    assert max(map(len, table.splitlines())) < 200


def test_many_classes_evaluate_in_memory_of_samples_plus_classes_and_print_one_row_each():
    """100,000 classes: no classes² confusion matrix (80 GB) and no samples × classes probabilities
    are kept; each class's accuracy is still measured and printed one per line."""
    classes = MAX_CONFUSION_CLASSES * 100
    labels = torch.tensor([0, 1, classes - 1])
    scores = torch.zeros(3, classes)
    scores[0, 0] = scores[1, 5] = scores[2, classes - 1] = 10.0
    result = evaluate(torch.nn.Identity(), scores, labels, "classification", batch_size=2)
    assert result.confusion is None and result.probabilities is None
    assert result.accuracy == 2 / 3 and result.per_class_accuracy[[0, 1, classes - 1]].tolist() == [1.0, 0.0, 1.0]
    lines = format_confusion(result, [f"class {index}" for index in range(classes)]).splitlines()
    assert len(lines) == classes + 1 and lines[2].split() == ["class", "1", "0.0%"] and lines[3].endswith("-")
