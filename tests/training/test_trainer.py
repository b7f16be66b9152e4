import math
import threading

import pytest
import torch

from netbuilder.core.settings import TrainingSettings
from netbuilder.data.base import Dataset
from netbuilder.training import trainer as trainer_module
from netbuilder.training.control import RunControl
from netbuilder.training.events import BatchEnded, EpochEnded, Finished, Started
from netbuilder.training.metrics import evaluate
from netbuilder.training.trainer import Trainer, bfloat16_supported


def run_all(trainer: Trainer) -> list:
    return list(trainer.run())


def of_type(events, kind):
    return [e for e in events if isinstance(e, kind)]


def test_learns_separable_data_and_reports_every_step(make_blobs, make_mlp, settings):
    data = make_blobs(count=240, val_count=60)
    events = run_all(Trainer(make_mlp(), data, settings.replace(epochs=4), "classification", report_interval=0))

    assert isinstance(events[0], Started) and events[0].train_samples == 240 and events[0].val_samples == 60
    assert events[-1] == Finished("completed", events[-1].message) and "validation accuracy" in events[-1].message
    epochs = of_type(events, EpochEnded)
    assert [e.epoch for e in epochs] == [1, 2, 3, 4]
    assert epochs[-1].val_accuracy > 0.95 and epochs[-1].train_loss < epochs[0].train_loss
    batches = of_type(events, BatchEnded)
    assert len(batches) == 4 * math.ceil(240 / 32)  # report_interval=0: one per batch
    assert batches[-1].samples_seen == 4 * 240 and batches[-1].samples_per_second > 0


def test_same_seed_gives_same_losses_and_another_seed_other_losses(make_blobs, make_mlp, settings):
    def losses(seed):
        events = run_all(Trainer(make_mlp(seed=1), make_blobs(), settings.replace(seed=seed), "classification"))
        return [(e.train_loss, e.val_loss) for e in of_type(events, EpochEnded)]

    assert losses(5) == losses(5)
    assert losses(5) != losses(6)


def test_holds_out_a_validation_share_only_when_the_dataset_has_none(make_blobs, make_mlp, settings):
    started = run_all(Trainer(make_mlp(), make_blobs(count=300), settings.replace(validation_split=0.2),
                              "classification"))[0]
    assert (started.train_samples, started.val_samples) == (240, 60)
    started = run_all(Trainer(make_mlp(), make_blobs(count=200, val_count=30), settings.replace(validation_split=0.2),
                              "classification"))[0]
    assert (started.train_samples, started.val_samples) == (200, 30)


def test_a_set_of_several_epochs_trains_each_epoch_on_the_next_part_and_never_twice_on_a_sample(
        make_blobs, settings):
    """The built-in digits hold three epochs of digits: each epoch must take new ones, every one of
    them once, and a fourth epoch starts over."""
    data = make_blobs(count=90, val_count=20, features=4)
    data.train_x[:, 0] = torch.arange(90, dtype=torch.float32)  # each sample says which row it is
    data.samples_per_epoch = 30
    seen: list[set[int]] = []

    class Recording(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scores = torch.nn.Linear(4, 3)

        def forward(self, x):
            if self.training:
                if not seen or len(seen[-1]) == 30:
                    seen.append(set())
                seen[-1].update(int(row) for row in x[:, 0])
            return self.scores(x * 0)  # the row number must not blow up the loss

    events = run_all(Trainer(Recording(), data, settings.replace(epochs=4, batch_size=8), "classification"))

    assert events[0].train_samples == 30 and len(of_type(events, BatchEnded)) > 0
    assert events[-1].reason == "completed"
    assert seen == [set(range(0, 30)), set(range(30, 60)), set(range(60, 90)), set(range(0, 30))]
    assert of_type(events, BatchEnded)[-1].samples_seen == 4 * 30


def test_without_validation_the_epoch_reports_no_validation_figures(make_blobs, make_mlp, settings):
    events = run_all(Trainer(make_mlp(), make_blobs(), settings.replace(validation_split=0.0), "classification"))
    assert events[0].val_samples == 0
    assert all(e.val_loss is None and e.val_accuracy is None for e in of_type(events, EpochEnded))
    assert "training loss" in events[-1].message


def test_stop_takes_effect_before_the_next_batch(make_blobs, make_mlp, settings):
    trainer = Trainer(make_mlp(), make_blobs(), settings, "classification", report_interval=0)
    events = trainer.run()
    next(events)  # Started
    first = next(events)
    trainer.stop()
    finished = next(events)
    assert isinstance(first, BatchEnded) and first.batch == 1
    assert finished.reason == "stopped" and "epoch 1, batch 2" in finished.message
    assert list(events) == []


class _HoldSignalled(threading.Condition):
    """The control's condition, telling the test when the run starts waiting on it (held)."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = threading.Event()

    def wait(self, timeout=None):
        self.holding.set()
        return super().wait(timeout)


def test_pause_holds_the_run_until_resumed(make_blobs, make_mlp, settings):
    control = RunControl()
    control._lock = condition = _HoldSignalled()
    trainer = Trainer(make_mlp(), make_blobs(), settings, "classification", report_interval=0, control=control)
    received: list = []
    trainer.pause()
    worker = threading.Thread(target=lambda: received.extend(trainer.run()))
    worker.start()
    assert condition.holding.wait(timeout=60), "the run never held"
    assert trainer.paused and [type(e) for e in received] == [Started]  # held before the first batch
    assert worker.is_alive()
    trainer.resume()
    worker.join(timeout=30)
    assert not worker.is_alive() and received[-1].reason == "completed"


def test_stop_ends_a_paused_run(make_blobs, make_mlp, settings):
    trainer = Trainer(make_mlp(), make_blobs(), settings, "classification", report_interval=0)
    events = trainer.run()
    next(events), next(events)
    trainer.pause()
    threading.Timer(0.1, trainer.stop).start()
    assert next(events).reason == "stopped"  # blocked in pause until the stop arrived


def test_a_diverging_loss_stops_with_the_reason_and_keeps_finite_weights(make_blobs, make_mlp, settings):
    model = make_mlp()
    data = make_blobs()
    data.train_x *= 1e6  # the gradients explode at once with this learning rate
    events = run_all(Trainer(model, data, settings.replace(optimizer="sgd", learning_rate=10.0),
                             "classification", report_interval=0))
    finished = events[-1]
    assert finished.reason == "nan_loss"
    assert "epoch 1, batch" in finished.message and "lower the learning rate (now 10)" in finished.message
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_data_that_does_not_fit_the_network_fails_with_an_explanation(make_blobs, make_mlp, settings):
    events = run_all(Trainer(make_mlp(features=5), make_blobs(features=4), settings, "classification"))
    assert len(events) == 1
    assert events[0].reason == "failed"
    assert 'samples of "blobs" are 4 values' in events[0].message and "Input layer's shape" in events[0].message
    assert "Traceback" in events[0].details


def test_more_classes_than_scores_names_the_fix(make_blobs, make_mlp, settings):
    events = run_all(Trainer(make_mlp(classes=2), make_blobs(classes=5), settings, "classification"))
    assert events[-1].reason == "failed"
    assert "has 5 classes but the network outputs 2 scores: give the last Dense layer 5 units" in events[-1].message


def test_an_error_during_training_becomes_a_failed_event(make_blobs, settings):
    class BreaksLater(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 3)
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            if self.calls > 4:
                raise RuntimeError("something broke inside the layer\nmore detail")
            return self.linear(x)

    events = run_all(Trainer(BreaksLater(), make_blobs(), settings, "classification"))
    assert events[-1].reason == "failed"
    assert events[-1].message == "Training stopped on an error: something broke inside the layer"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this computer has CUDA")
def test_asking_for_cuda_without_it_says_what_to_choose(make_blobs, make_mlp, settings):
    events = run_all(Trainer(make_mlp(), make_blobs(), settings.replace(device="cuda"), "classification"))
    assert events[-1].reason == "failed" and "choose auto or cpu" in events[-1].message


def test_nesterov_without_momentum_is_refused(make_blobs, make_mlp, settings):
    settings = settings.replace(optimizer="sgd", momentum=0.0, nesterov=True)
    events = run_all(Trainer(make_mlp(), make_blobs(), settings, "classification"))
    assert events[-1].reason == "failed" and "Nesterov momentum needs a momentum above 0" in events[-1].message


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd", "rmsprop"])
def test_every_optimizer_learns(make_blobs, make_mlp, settings, optimizer):
    settings = settings.replace(optimizer=optimizer, nesterov=optimizer == "sgd", weight_decay=1e-4)
    events = run_all(Trainer(make_mlp(), make_blobs(val_count=60), settings, "classification"))
    assert events[-1].reason == "completed"
    assert of_type(events, EpochEnded)[-1].val_accuracy > 0.9


def learning_rates(make_blobs, make_mlp, settings, schedule, epochs):
    settings = settings.replace(schedule=schedule, epochs=epochs, learning_rate=0.1, optimizer="sgd")
    return [e.learning_rate for e in of_type(run_all(Trainer(make_mlp(), make_blobs(), settings, "classification")),
                                             EpochEnded)]


def test_step_schedule_divides_the_rate_by_ten_each_third(make_blobs, make_mlp, settings):
    assert learning_rates(make_blobs, make_mlp, settings, "step", 6) == pytest.approx([0.1, 0.1, 0.01, 0.01, 1e-3, 1e-3])


def test_constant_and_cosine_schedules(make_blobs, make_mlp, settings):
    assert learning_rates(make_blobs, make_mlp, settings, "constant", 3) == [0.1] * 3
    cosine = learning_rates(make_blobs, make_mlp, settings, "cosine", 4)
    assert cosine == sorted(cosine, reverse=True) and cosine[-1] < 0.01


def test_new_projects_let_the_rate_fall_to_nearly_zero_by_the_end(make_blobs, make_mlp):
    settings = TrainingSettings(epochs=3, learning_rate=0.1, optimizer="sgd", device="cpu")
    rates = [e.learning_rate for e in of_type(run_all(Trainer(make_mlp(), make_blobs(), settings, "classification")),
                                              EpochEnded)]
    assert rates == sorted(rates, reverse=True) and rates[-1] < 0.01


def test_one_cycle_rises_to_the_set_rate_then_falls(make_blobs, make_mlp, settings):
    rates = learning_rates(make_blobs, make_mlp, settings, "one_cycle", 10)
    peak = rates.index(max(rates))
    assert 0 < peak < 9 and max(rates) == pytest.approx(0.1, rel=0.1)
    assert rates[0] < max(rates) and rates[-1] < 0.001


def test_early_stopping_keeps_the_best_weights(make_blobs, make_mlp, settings):
    data = make_blobs(classes=2, val_count=40)
    data.val_y = 1 - data.val_y  # validation disagrees with training, so it worsens as training learns
    model = make_mlp(classes=2)
    events = run_all(Trainer(model, data, settings.replace(epochs=30, early_stopping_patience=2), "classification"))
    finished = events[-1]
    epochs = of_type(events, EpochEnded)
    best = min(epochs, key=lambda e: e.val_loss)
    assert finished.reason == "early_stopping" and len(epochs) == best.epoch + 2
    assert f"kept the weights of epoch {best.epoch}" in finished.message
    assert evaluate(model, data.val_x, data.val_y, "classification").loss == pytest.approx(best.val_loss, rel=1e-5)


def test_regression_trains_with_mean_squared_error(settings):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(300, 3, generator=generator)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
    data = Dataset("line", "vector", x, y, x[:0], y[:0], task="regression")
    torch.manual_seed(0)
    events = run_all(Trainer(torch.nn.Linear(3, 1), data, settings.replace(epochs=20, learning_rate=0.1), "regression"))
    epochs = of_type(events, EpochEnded)
    assert events[-1].reason == "completed"
    assert epochs[-1].train_accuracy is None and epochs[-1].val_accuracy is None
    assert epochs[-1].val_loss < 0.01


def test_regression_target_count_must_match_the_outputs(settings):
    x, y = torch.randn(50, 3), torch.randn(50, 2)
    data = Dataset("pairs", "vector", x, y, x[:0], y[:0], task="regression")
    events = run_all(Trainer(torch.nn.Linear(3, 1), data, settings, "regression"))
    assert events[-1].reason == "failed" and "give the last Dense layer 2 unit(s)" in events[-1].message


@pytest.mark.skipif(not bfloat16_supported(torch.device("cpu")), reason="this CPU has no bfloat16")
def test_fast_precision_is_used_where_it_keeps_the_gradients(make_blobs, make_mlp, settings):
    events = run_all(Trainer(make_mlp(), make_blobs(val_count=60), settings.replace(precision="fast"),
                             "classification"))
    assert events[0].precision == "fast" and events[0].notes == ()
    assert of_type(events, EpochEnded)[-1].val_accuracy > 0.9


@pytest.mark.skipif(not bfloat16_supported(torch.device("cpu")), reason="this CPU has no bfloat16")
def test_fast_precision_falls_back_when_gradients_disagree(make_blobs, make_mlp, settings, monkeypatch):
    monkeypatch.setattr(trainer_module, "_FAST_GRADIENT_AGREEMENT", 1.01)  # no model can agree this well
    started = next(Trainer(make_mlp(), make_blobs(), settings.replace(precision="fast"), "classification").run())
    assert started.precision == "fp32" and "gradients too much" in started.notes[0]


def test_the_model_ends_on_the_cpu_in_eval_mode(make_blobs, make_mlp, settings):
    model = make_mlp()
    run_all(Trainer(model, make_blobs(), settings.replace(epochs=1), "classification"))
    assert not model.training and next(model.parameters()).device.type == "cpu"


def test_a_cnn_trained_in_channels_last_ends_with_plain_contiguous_weights(settings):
    images = torch.randn(32, 2, 6, 6)  # two channels: with one, both layouts have the same strides
    labels = torch.arange(32) % 2
    data = Dataset("tiny images", "image", images, labels, images[:0], labels[:0], ["a", "b"])
    model = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3), torch.nn.Flatten(), torch.nn.Linear(64, 2))
    run_all(Trainer(model, data, settings.replace(epochs=1, validation_split=0.0), "classification"))
    assert all(p.is_contiguous() for p in model.parameters())  # what saving and exporting expect


def test_augmentation_changes_image_batches_and_is_skipped_for_vectors(make_blobs, make_mlp, settings):
    images = torch.randn(64, 1, 8, 8)
    labels = torch.arange(64) % 2
    data = Dataset("tiny images", "image", images, labels, images[:0], labels[:0], ["a", "b"])
    seen: list[torch.Tensor] = []

    class Recorder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(64, 2)

        def forward(self, x):
            if self.training:
                seen.append(x.detach().clone())
            return self.linear(x.flatten(1))

    settings = settings.replace(augment=True, epochs=1, batch_size=64, validation_split=0.0)
    events = run_all(Trainer(Recorder(), data, settings, "classification"))
    assert events[-1].reason == "completed" and events[0].notes == ()
    assert not any(torch.equal(seen[0][i], images[j]) for i in range(64) for j in range(64))
    started = run_all(Trainer(make_mlp(), make_blobs(), settings, "classification"))[0]
    assert "images only" in started.notes[0]



def test_colour_photos_are_mirrored_in_training_and_grey_images_never():
    """A mirrored 2 is no 2, but a mirrored photo of a cat is still a cat."""
    from netbuilder.training.trainer import training_augmentation

    generator = torch.Generator().manual_seed(0)
    for channels, some_mirrored in ((1, False), (3, True)):
        images = torch.zeros(64, channels, 32, 32)
        images[..., 8] = 1.0  # a bright column left of the middle: rotating, shifting or zooming keeps it there
        changed = training_augmentation(channels)(images, generator)
        on_the_right = changed.mean(dim=(1, 2)).argmax(dim=-1) >= 16  # where the brightest column went
        assert bool(on_the_right.any()) == some_mirrored
        assert not on_the_right.all()  # half of them, not all


def test_label_smoothing_holds_confidence_at_its_target_and_only_the_training_loss_carries_it(
        make_blobs, make_mlp, settings):
    data = make_blobs(val_count=60)  # 3 classes
    runs = {}
    for smoothing in (0.0, 0.3):
        model = make_mlp()
        settings = settings.replace(label_smoothing=smoothing, epochs=10, learning_rate=0.03)
        last = of_type(run_all(Trainer(model, data, settings, "classification")), EpochEnded)[-1]
        with torch.no_grad():
            confidence = torch.softmax(model(data.val_x), dim=1).max(dim=1).values.mean().item()
        runs[smoothing] = (last, confidence)
    (plain, plain_confidence), (smoothed, smoothed_confidence) = runs[0.0], runs[0.3]
    assert plain.val_accuracy == smoothed.val_accuracy == 1.0
    assert plain_confidence > 0.97
    assert 0.7 < smoothed_confidence < 0.83  # the target for the true class: 1 - 0.3 + 0.3 / 3 = 0.8
    # The smoothed objective cannot fall below its targets' entropy (0.64); plain cross-entropy can.
    assert smoothed.train_loss > 0.6 > 0.4 > smoothed.val_loss


def _with_batch_norm(features: int = 4, classes: int = 3, layer=torch.nn.BatchNorm1d) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(features, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8), layer(8),
                               torch.nn.Linear(8, classes))


@pytest.mark.parametrize("samples, batches", [(65, 1), (129, 2), (66, 2)])
def test_batch_norm_trains_when_the_last_batch_would_hold_one_sample(make_blobs, settings, samples, batches):
    events = run_all(Trainer(_with_batch_norm(), make_blobs(count=samples, val_count=10),
                             settings.replace(batch_size=64, epochs=2), "classification", report_interval=0))
    assert events[-1].reason == "completed", events[-1].message
    assert of_type(events, Started)[0].batches_per_epoch == batches  # a straggler joins the batch before it
    assert of_type(events, BatchEnded)[-1].samples_seen == 2 * samples  # every sample, every epoch


def test_batch_norm_with_batches_of_one_is_refused_naming_the_layer(make_blobs, settings):
    events = run_all(Trainer(_with_batch_norm(), make_blobs(count=40), settings.replace(batch_size=1),
                             "classification"))
    assert events[-1].reason == "failed" and "Traceback" not in events[-1].message
    assert 'BatchNorm layer "3" needs batches of at least 2 samples' in events[-1].message
    assert "raise the batch size (now 1)" in events[-1].message


def test_a_stop_keeps_the_best_epochs_weights_and_says_which(make_blobs, make_mlp, settings):
    model = make_mlp()
    trainer = Trainer(model, make_blobs(count=240, val_count=60), settings.replace(epochs=20), "classification",
                      report_interval=0)
    kept = {}
    for event in trainer.run():
        if isinstance(event, EpochEnded) and event.epoch == 2:
            kept = {name: value.clone() for name, value in model.state_dict().items()}
            trainer.stop()
        last = event
    assert last.reason == "stopped" and last.message.endswith("kept the weights of epoch 2, the best so far.")
    assert all(torch.equal(model.state_dict()[name], value) for name, value in kept.items())


def test_token_ids_beyond_an_embeddings_vocabulary_name_the_layer_and_the_size_it_needs(settings):
    tokens = torch.randint(2, 300, (64, 12), generator=torch.Generator().manual_seed(0))
    tokens[0, 0] = 299
    data = Dataset("reviews", "tokens", tokens, torch.arange(64) % 2, tokens[:0], torch.arange(0), ["neg", "pos"])
    model = torch.nn.Sequential(torch.nn.Embedding(50, 8), torch.nn.Flatten(), torch.nn.Linear(96, 2))
    events = run_all(Trainer(model, data, settings, "classification"))
    assert events[-1].reason == "failed"
    assert events[-1].message == ('"reviews" has 300 token ids (its words, padding and the unknown word), but '
                                  'Embedding "0" has a vocabulary of 50: raise its vocabulary to at least 300.')


@pytest.mark.parametrize("task, targets, outputs, advice", [
    ("regression", torch.arange(40) % 3, 1, "set to regression, but \"blobs\" has class labels: set the Output's "
                                            "task to classification."),
    ("regression", torch.randn(40, 2), 3, "predicts 3 value(s) per sample but \"blobs\" has 2 target(s): give the "
                                          "last Dense layer 2 unit(s)."),
    ("classification", torch.rand(40), 3, "has continuous targets: set the Output's task to regression."),
])
def test_data_and_output_that_disagree_get_the_advice_that_fixes_them(make_blobs, settings, task, targets, outputs,
                                                                      advice):
    data = make_blobs(count=40)
    data.train_y = targets
    events = run_all(Trainer(torch.nn.Linear(4, outputs), data, settings, task))
    assert events[-1].reason == "failed" and events[-1].message.endswith(advice)
