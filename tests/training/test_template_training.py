"""Every trainable template trains through the run service the window and `netbuilder train` use: a
few batches on a small set, and the loss falls."""
import math
import random

import pytest

from netbuilder.core.project import load_template
from netbuilder.data.digits import load_digits
from netbuilder.data.tables import load_text_csv
from netbuilder.training.events import BatchEnded, Finished
from netbuilder.training.run import TrainingRun

TOPICS = ["goal match team", "rain cloud storm", "bread oven flour", "guitar song band", "code bug compiler",
          "stock market price", "planet orbit star", "doctor fever cure", "train track station", "garden seed rose"]


def topic_texts(path, count=640, seed=0):
    """A text CSV like the LSTM text template's data: 10 classes, each text a few of its topic's words
    among others, from more words than a text has steps (a positional embedding is no vocabulary)."""
    rng = random.Random(seed)
    filler = [f"word{number}" for number in range(150)]
    rows = []
    for index in range(count):
        label = index % len(TOPICS)
        words = [rng.choice(TOPICS[label].split()) for _ in range(3)] + rng.sample(filler, 5)
        rng.shuffle(words)
        rows.append(f"{' '.join(words)},topic{label}")
    path.write_text("text,label\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def digits():
    return load_digits(train_size=320, val_size=32)


@pytest.mark.parametrize("name", ["6-resnet", "7-mobilenet", "8-transformer-text", "9-autoencoder"])
def test_a_template_trains_a_few_batches_and_its_loss_falls(name, digits, tmp_path):
    project = load_template(name)
    project.training = project.training.replace(epochs=1, batch_size=32)
    dataset = load_text_csv(topic_texts(tmp_path / "topics.csv")) if project.dataset == "" else digits
    run = TrainingRun(project, dataset=dataset, threads=1, report_interval=0)
    events = list(run.events())
    assert isinstance(events[-1], Finished) and events[-1].reason == "completed", events[-1]
    losses = [event.loss for event in events if isinstance(event, BatchEnded)]
    assert len(losses) >= 5 and all(math.isfinite(loss) for loss in losses)
    assert sum(losses[-2:]) < sum(losses[:2]), losses
