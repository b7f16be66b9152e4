import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from netbuilder.training.metrics import evaluate, format_confusion


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


def test_confusion_table_is_aligned_and_names_classes():
    table = format_confusion(np.array([[5, 0], [12345, 7]]), ["cat", "dog"]).splitlines()
    assert len({len(line) for line in table}) == 1
    assert table[0].split()[-3:] == ["cat", "dog", "accuracy"]
    assert table[2].split() == ["dog", "12345", "7", "0.1%"]
