"""How fast does netbuilder train, next to the ways people write it by hand?

The seed Keras article's CNN (Conv 32 → pool → Conv 64 → pool → Conv 64 → Dense 64 → Dense 10,
93,322 parameters; the app's "2-cnn-article" template, the article's exact network, so that
Keras runs the article's exact code) trains on the same in-memory built-in
digits, with batch 64 and Adam at lr 1e-3 (the app's defaults), in one process and on the same
number of torch threads, four ways:

  (a) netbuilder's Trainer on the compiled graph (fp32, and again in the fast bfloat16 mode);
  (b) an equivalent hand-written nn.Module with a plain loop over a permutation of the tensors,
      and for context the same with channels-last weights, the layout the Trainer picks on a CPU;
  (c) the same module fed by a DataLoader, as tutorials write it;
  (d) Keras 3 on the torch backend, running the seed article's model.compile(...)/model.fit(...).

Each timed call trains one epoch and there is no validation. The Trainer runs once for all its
epochs, as in the app, and each call advances it by one epoch, so its setup (data checks, the
fast mode's gradient check) falls into the untimed warm-up round; Keras's setup is in every call,
as in the article's one-epoch model.fit. The rounds interleave the contestants (a, fast a, b, b cl,
c, d, a, ...) so that load from elsewhere on the machine falls on all of them alike, and
each ratio is the median over the rounds of the ratio within a round. Printed: median samples/s
per contestant, and the ratios against their targets.

Then the shared-machine scenario: the same network trained by the Trainer with each fixed
thread count and with the count it chooses itself (the default), first on the idle machine and
then beside a process that keeps one CPU busy (as the app's GUI thread or another program does),
and with and without the per-layer health measurements. It ends with the line
`auto_vs_best_idle=<x> auto_vs_best_busy=<y> health_cost=<z>%` (targets: >= 0.9, >= 0.9, < 3%).

    pip install -e .[bench]        # keras 3 for (d); without it (d) is skipped with a note
    python bench/train_throughput.py            # full run: 6,400 digits per epoch, 10 rounds
    python bench/train_throughput.py --quick    # smoke run: 1,280 digits, 3 rounds
    python bench/train_throughput.py --threads 1   # on a machine busy with other work

With as many threads as CPUs, torch's OpenMP threads wait for each other by spinning, and a
process running beside them can slow every contestant tenfold or more (measured: 30 times).

Keras needs no tensorflow: this script selects its torch backend (KERAS_BACKEND=torch).
"""
from __future__ import annotations

import argparse
import importlib.util
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

os.environ.setdefault("KERAS_BACKEND", "torch")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from netbuilder.core.compile import compile_graph  # noqa: E402
from netbuilder.core.project import load_template  # noqa: E402
from netbuilder.data.base import Dataset  # noqa: E402
from netbuilder.data.digits import CLASS_NAMES, generate_digits  # noqa: E402
from netbuilder.data.recipe import digit_recipe, model_inputs  # noqa: E402
from netbuilder.training.events import EpochEnded, Finished, Started  # noqa: E402
from netbuilder.training.health import HEALTH_INTERVAL  # noqa: E402
from netbuilder.training.threads import (DRIFT_WINDOW, DRIFT_WINDOW_SECONDS, MAX_DRIFT_WINDOWS,  # noqa: E402
                                         TIMED_BATCHES, candidate_counts, usable_cores)
from netbuilder.training.trainer import Trainer, bfloat16_supported  # noqa: E402

ARTICLE_CNN = "2-cnn-article"  # the template
BATCH_SIZE = 64
LEARNING_RATE = 1e-3
DATA_SEED = 2024
MIN_ROUNDS = 3  # timed rounds run even when the time budget is spent

# (numerator, denominator, lowest acceptable ratio of their median samples/s)
TARGETS = [("a", "b", 0.98), ("a", "d", 1.7), ("fast a", "b", 1.5)]
AUTO_THREADS_TARGET = 0.9  # the Trainer's own thread choice against the best fixed count
HEALTH_COST_TARGET = 3.0  # percent of training speed the health measurements may cost
RUN_EPOCHS = 1000  # the shared-machine runs' length; they are simply not run to their end

Epoch = Callable[[], float]  # trains one epoch, returns its mean training loss


class HandWrittenCNN(nn.Module):
    """The article's network as a PyTorch tutorial writes it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.conv3 = nn.Conv2d(64, 64, 3)
        self.fc1 = nn.Linear(64 * 3 * 3, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(F.relu(self.conv3(x)), 1)
        return self.fc2(F.relu(self.fc1(x)))


def netbuilder_trainer(images: torch.Tensor, labels: torch.Tensor, precision: str, epochs: int,
                       threads: int | None = None, health_interval: float = HEALTH_INTERVAL) -> tuple[Epoch, nn.Module]:
    """(a): the article's network as a netbuilder project, compiled from its graph, trained by one
    Trainer.run() of `epochs` epochs as the app does; each call advances the run by one epoch, so
    the run's setup (data checks, the fast mode's gradient check) falls into the warm-up.

    `threads`: torch threads for this contestant (default: the bench's setting); 0 lets the
    Trainer choose them as the app does. Torch's thread count belongs to the process, so each call
    sets this contestant's count (for 0, the one its Trainer chose last) and takes it back after.
    """
    project = load_template(ARTICLE_CNN)
    torch.manual_seed(project.training.seed)
    model = compile_graph(project.graph)
    dataset = Dataset(name="digits", kind="image", train_x=images, train_y=labels,
                      val_x=images[:0], val_y=labels[:0], class_names=list(CLASS_NAMES))
    settings = project.training.replace(epochs=epochs, validation_split=0.0, device="cpu", precision=precision,
                                        augment=False, batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE)
    fixed = torch.get_num_threads() if threads is None else threads or None
    own_threads = [fixed or torch.get_num_threads()]
    events = Trainer(model, dataset, settings, "classification", threads=fixed, health_interval=health_interval).run()

    def epoch() -> float:
        others = torch.get_num_threads()
        torch.set_num_threads(own_threads[0])
        try:
            return next_epoch()
        finally:
            own_threads[0] = torch.get_num_threads()
            torch.set_num_threads(others)

    def next_epoch() -> float:
        for event in events:
            if isinstance(event, Started) and event.precision != precision:
                raise SystemExit(f"The Trainer ran in {event.precision}, not {precision}: {' '.join(event.notes)}")
            if isinstance(event, EpochEnded):
                return event.train_loss
            if isinstance(event, Finished):
                raise SystemExit(f"The Trainer stopped ({event.reason}): {event.message}")
        raise SystemExit(f"The Trainer's run ended before epoch {epochs}.")
    return epoch, model


def plain_loop(images: torch.Tensor, labels: torch.Tensor,
               layout: torch.memory_format = torch.contiguous_format) -> tuple[Epoch, nn.Module]:
    """(b): slices of one random permutation of the in-memory tensors."""
    model = HandWrittenCNN().to(memory_format=layout)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)

    def epoch() -> float:
        model.train()
        order = torch.randperm(len(images))
        loss_sum = torch.zeros(())
        for start in range(0, len(images), BATCH_SIZE):
            batch = order[start:start + BATCH_SIZE]
            loss = F.cross_entropy(model(images[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * len(batch)
        return float(loss_sum) / len(images)
    return epoch, model


def dataloader_loop(images: torch.Tensor, labels: torch.Tensor) -> tuple[Epoch, nn.Module]:
    """(c): the tutorial loop, DataLoader(shuffle=True) and a running loss read every batch."""
    model = HandWrittenCNN()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels),
                                         batch_size=BATCH_SIZE, shuffle=True)

    def epoch() -> float:
        model.train()
        running_loss = 0.0
        for inputs, targets in loader:
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = criterion(outputs, targets)
            loss.backward()
            optimizer.step()
            running_loss += loss.item() * len(inputs)
        return running_loss / len(images)
    return epoch, model


def keras_article(images: torch.Tensor, labels: torch.Tensor) -> tuple[Epoch, object]:
    """(d): the seed article's Keras code; Keras wants channels last and numpy arrays."""
    import keras
    from keras import layers

    x = images.permute(0, 2, 3, 1).numpy().copy()
    y = labels.numpy()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, (3, 3), activation='relu'),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation='relu'),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation='relu'),
        layers.Flatten(),
        layers.Dense(64, activation='relu'),
        layers.Dense(10, activation='softmax'),
    ])
    model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])

    def epoch() -> float:
        history = model.fit(x, y, epochs=1, batch_size=BATCH_SIZE, verbose=0)
        return history.history["loss"][-1]
    return epoch, model


@dataclass
class Contestant:
    key: str
    title: str
    epoch: Epoch
    parameters: int
    rates: list[float] = field(default_factory=list)  # samples/s of each timed round
    loss: float = float("nan")  # mean training loss of the latest epoch


def parameter_count(model) -> int:
    if isinstance(model, nn.Module):
        return sum(p.numel() for p in model.parameters())
    return int(model.count_params())


def build_contestants(images: torch.Tensor, labels: torch.Tensor, epochs: int, with_fast: bool,
                      with_keras: bool) -> list[Contestant]:
    builders = [("a", "netbuilder Trainer, compiled graph, fp32",
                 lambda: netbuilder_trainer(images, labels, "fp32", epochs))]
    if with_fast:
        builders.append(("fast a", "netbuilder Trainer, compiled graph, fast",
                         lambda: netbuilder_trainer(images, labels, "fast", epochs)))
    builders += [
        ("b", "hand-written nn.Module, plain loop", lambda: plain_loop(images, labels)),
        ("b cl", "the same with channels-last weights",
         lambda: plain_loop(images, labels, torch.channels_last)),
        ("c", "hand-written nn.Module, DataLoader loop", lambda: dataloader_loop(images, labels)),
    ]
    if with_keras:
        builders.append(("d", "Keras 3 (torch backend), model.fit", lambda: keras_article(images, labels)))
    contestants = []
    for key, title, build in builders:
        epoch, model = build()
        contestants.append(Contestant(key, title, epoch, parameter_count(model)))
    return contestants


def training_digits(count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Built-in digits as the app feeds them: float32 (N, 1, 28, 28), read through the digit recipe."""
    images, labels = generate_digits(count, seed=DATA_SEED)
    x = model_inputs(digit_recipe(CLASS_NAMES), images)
    return x, torch.from_numpy(labels)


def load_average() -> str:
    if not hasattr(os, "getloadavg"):  # Windows
        return "unknown"
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def busy_note(threads: int) -> str:
    """A warning when other processes used the CPUs in the last minute."""
    recent = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if recent < 0.5:
        return ""
    advice = " (--threads 1 suffers far less from it)" if threads > 1 else ""
    return (f"note: the machine is busy (load {recent:.2f} on {os.cpu_count()} CPUs): absolute figures come out low "
            f"and noisy{advice}, the ratios within interleaved rounds less so.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1,280 digits per epoch and 3 timed rounds")
    parser.add_argument("--samples", type=int, help="training digits per epoch (default 6,400; quick 1,280)")
    parser.add_argument("--rounds", type=int, help="timed rounds after the warm-up (default 10; quick 3)")
    parser.add_argument("--budget", type=float, default=240.0,
                        help=f"seconds after which no further round starts, once {MIN_ROUNDS} are done "
                             "(default %(default)g)")
    parser.add_argument("--busy-seconds", type=float, default=600.0,
                        help="longest life of the busy process of the shared-machine scenario (default %(default)g)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="torch threads for every contestant (default: torch's own choice, %(default)s)")
    args = parser.parse_args()
    samples = args.samples or (1280 if args.quick else 6400)
    rounds = args.rounds or (3 if args.quick else 10)
    if samples < BATCH_SIZE or rounds < 1 or args.threads < 1:
        parser.error(f"--samples needs at least {BATCH_SIZE}, --rounds and --threads at least 1")
    torch.set_num_threads(args.threads)

    with_keras = importlib.util.find_spec("keras") is not None
    with_fast = bfloat16_supported(torch.device("cpu"))
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} thread{'s' * (threads > 1)}, {os.cpu_count()} CPUs "
          f"({platform.processor() or platform.machine()}), load average before {load_average()}")
    busy = busy_note(threads)
    if busy:
        print(busy)
    images, labels = training_digits(samples)
    contestants = build_contestants(images, labels, 1 + rounds, with_fast, with_keras)
    if torch.get_num_threads() != args.threads:
        raise SystemExit(f"Building the contestants changed torch's threads to {torch.get_num_threads()}.")
    if with_keras:
        import keras
        print(f"keras {keras.__version__} on the {keras.backend.backend()} backend")
    else:
        print("keras is not installed, so (d) is skipped: pip install -e .[bench] (or pip install keras)")
    if not with_fast:
        print("this CPU has no fast bfloat16 arithmetic, so (fast a) is skipped")
    print(f"The article's CNN, {samples:,} built-in digits per epoch, batch {BATCH_SIZE}, Adam lr {LEARNING_RATE:g}; "
          f"1 warm-up round, then {rounds} timed rounds of: {', '.join(c.key for c in contestants)}", flush=True)

    started = time.perf_counter()
    for contestant in contestants:
        contestant.loss = contestant.epoch()
    print(f"warm-up round: {time.perf_counter() - started:.0f} s", flush=True)
    for round_number in range(1, rounds + 1):
        for contestant in contestants:
            epoch_started = time.perf_counter()
            contestant.loss = contestant.epoch()
            contestant.rates.append(samples / (time.perf_counter() - epoch_started))
        print(f"round {round_number:2}: " + "  ".join(f"{c.key} {c.rates[-1]:,.0f}" for c in contestants), flush=True)
        if round_number >= MIN_ROUNDS and round_number < rounds and time.perf_counter() - started > args.budget:
            print(f"stopped after {round_number} rounds: the {args.budget:g} s budget is spent")
            break
    print(f"{time.perf_counter() - started:.0f} s in all, load average after {load_average()}\n")

    print(f"{'':9}{'contestant':42} {'params':>7} {'samples/s':>10} {'min':>7} {'max':>7} {'last loss':>10}")
    for contestant in contestants:
        rates = contestant.rates
        print(f"{'(' + contestant.key + ')':9}{contestant.title:42} {contestant.parameters:>7,} "
              f"{statistics.median(rates):>10,.0f} {min(rates):>7,.0f} {max(rates):>7,.0f} {contestant.loss:>10.4f}")
    print()
    by_key = {contestant.key: contestant.rates for contestant in contestants}
    failed = False
    print(f"{'ratio':14} {'median':>6} {'min':>6} {'max':>6}")
    for numerator, denominator, target in [*TARGETS, ("a", "b cl", None), ("c", "b", None)]:
        name = f"({numerator})/({denominator})"
        if numerator not in by_key or denominator not in by_key:
            print(f"{name:14} skipped")
            continue
        ratios = [above / below for above, below in zip(by_key[numerator], by_key[denominator])]
        ratio = statistics.median(ratios)
        if target is None:
            verdict = "for context"
        else:
            verdict = f"target >= {target:<4}  {'PASS' if ratio >= target else 'FAIL'}"
            failed |= ratio < target
        print(f"{name:14} {ratio:6.2f} {min(ratios):6.2f} {max(ratios):6.2f}   {verdict}")
    print()
    auto_idle, auto_busy, health_cost = shared_machine_scenario(images, labels, rounds, args.busy_seconds)
    failed |= min(auto_idle, auto_busy) < AUTO_THREADS_TARGET or health_cost > HEALTH_COST_TARGET
    print(f"auto_vs_best_idle={auto_idle:.3f} auto_vs_best_busy={auto_busy:.3f} health_cost={health_cost:.2f}%")
    return 1 if failed else 0


def shared_machine_scenario(images: torch.Tensor, labels: torch.Tensor, rounds: int,
                            busy_seconds: float) -> tuple[float, float, float]:
    """The Trainer's own choice of threads against every fixed count, on an idle machine and then
    beside a busy-looping process (as the app's GUI thread or another program is), and what the
    health measurements cost. Returns (auto/best idle, auto/best busy, health cost in percent).

    Every contestant is one run across both phases, so the automatic choice has to notice the
    change: each phase starts with untimed epochs covering the batches the Trainer needs for
    that (the drift windows and a round of timing). Each ratio is the median over the rounds of
    auto's speed over the best fixed count's speed in the same round. The health cost is a
    measured batch's extra time (every batch measured against none) over HEALTH_INTERVAL: timing
    the app's rare measured batches directly would drown in the noise of the rounds.
    """
    counts = candidate_counts(usable_cores())
    # What the Trainer needs at most to notice a change and choose again: a baseline window, the
    # drift windows (as many as a fluctuating load may have made it wait for) and a round of timing.
    settle_batches = (MAX_DRIFT_WINDOWS + 1) * DRIFT_WINDOW + TIMED_BATCHES * len(counts)
    settle_seconds = (MAX_DRIFT_WINDOWS + 1) * DRIFT_WINDOW_SECONDS
    batches_per_epoch = math.ceil(len(images) / BATCH_SIZE)
    builders = [(f"t{count}", f"{count} thread{'s' * (count > 1)}, fixed", dict(threads=count)) for count in counts]
    builders += [("auto", "threads chosen by the Trainer (the default)", dict(threads=0)),
                 # one thread: its speed suffers least from load elsewhere
                 ("no health", "1 thread, fixed, no health measurements", dict(threads=1, health_interval=math.inf)),
                 ("health", "1 thread, fixed, health measured on every batch", dict(threads=1, health_interval=0))]
    contestants = []
    for key, title, options in builders:
        # Runs long enough for any settling: the rounds end them, not their epoch count.
        epoch, model = netbuilder_trainer(images, labels, "fp32", RUN_EPOCHS, **options)
        contestants.append(Contestant(key, title, epoch, parameter_count(model)))
    print(f"Shared machine: the same network and data, {rounds} timed rounds idle and {rounds} beside a "
          f"busy process, each phase after untimed rounds covering {settle_batches} batches and "
          f"{settle_seconds:g} s of the auto contestant; contestants {', '.join(c.key for c in contestants)}")
    phases = {}
    for phase in ("idle", "busy"):
        competitor = busy_process(busy_seconds) if phase == "busy" else None
        # the health cost is measured on the idle machine only
        running = [c for c in contestants if phase == "idle" or c.key not in ("health", "no health")]
        try:
            settled_batches, auto_seconds = 0, 0.0
            while settled_batches < settle_batches or auto_seconds < settle_seconds:
                for contestant in running:
                    epoch_started = time.perf_counter()
                    contestant.loss = contestant.epoch()
                    if contestant.key == "auto":
                        auto_seconds += time.perf_counter() - epoch_started
                settled_batches += batches_per_epoch
            for contestant in running:
                contestant.rates = []
            for round_number in range(1, rounds + 1):
                for contestant in running:
                    epoch_started = time.perf_counter()
                    contestant.loss = contestant.epoch()
                    contestant.rates.append(len(images) / (time.perf_counter() - epoch_started))
                print(f"{phase} round {round_number:2}: " + "  ".join(f"{c.key} {c.rates[-1]:,.0f}"
                                                                     for c in running), flush=True)
        finally:
            if competitor is not None:
                competitor.kill()
                competitor.wait()
        phases[phase] = {contestant.key: list(contestant.rates) for contestant in running}

    ratios = {}
    for phase, rates in phases.items():
        best_fixed = [max(rates[f"t{count}"][i] for count in counts) for i in range(rounds)]
        ratios[phase] = statistics.median(auto / best for auto, best in zip(rates["auto"], best_fixed))
        speeds = "  ".join(f"{key} {statistics.median(values):,.0f}" for key, values in rates.items())
        print(f"{phase}: median samples/s  {speeds};  auto/best fixed {ratios[phase]:.2f} "
              f"(target >= {AUTO_THREADS_TARGET})")
    # A measured batch's extra time, from every batch measured against none, over the interval
    # between two measured batches in a run: the share of training time health costs the app.
    idle = phases["idle"]
    extra_seconds = statistics.median(BATCH_SIZE / with_health - BATCH_SIZE / without for with_health, without
                                      in zip(idle["health"], idle["no health"]))
    health_cost = 100 * extra_seconds / HEALTH_INTERVAL
    print(f"health: a measured batch takes {1000 * extra_seconds:.1f} ms longer; one every {HEALTH_INTERVAL:g} s "
          f"costs {health_cost:.2f}% of the training speed (target < {HEALTH_COST_TARGET}%)")
    return ratios["idle"], ratios["busy"], health_cost


def busy_process(seconds: float) -> subprocess.Popen:
    """Another program keeping one CPU busy, for at most `seconds` even if this one dies."""
    loop = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"
    return subprocess.Popen([sys.executable, "-c", loop])

if __name__ == "__main__":
    sys.exit(main())
