"""The built-in datasets by name, torch-free: the window lists them when it opens, long before
anything is loaded (`catalog.load_dataset` loads them)."""
from netbuilder.common.contracts import DIGITS_FRESH_EPOCHS, DIGITS_PER_EPOCH

# (name, description) for the dataset chooser; each name is a valid `load_dataset` spec.
BUILTIN_DATASETS: list[tuple[str, str]] = [
    ("digits", f"Handwritten digits 0–9, 28×28, generated on this computer. Works offline. Each of the first "
               f"{DIGITS_FRESH_EPOCHS} epochs trains on {DIGITS_PER_EPOCH:,} digits no epoch before saw."),
    ("mnist", "MNIST: 70,000 scanned handwritten digits 0–9, 28×28. Downloaded once (11 MB)."),
    ("fashion-mnist", "Fashion-MNIST: 70,000 pictures of clothes and shoes in 10 classes, 28×28. "
                      "Downloaded once (30 MB)."),
    ("cifar-10", "CIFAR-10: 60,000 colour photos, 32×32, of planes, cars, birds, cats, deer, dogs, frogs, horses, "
                 "ships and trucks. Downloaded once (163 MB)."),
    ("my-handwriting", "Your own digits, drawn in the Draw panel and added with a digit key."),
    ("my-handwriting+digits", "Your own digits mixed with 6,000 built-in ones, for fine-tuning a digit model "
                              "on your handwriting."),
]

# Their class counts, known before loading, so the window can check the Output against them.
BUILTIN_CLASS_COUNTS: dict[str, int] = {name: 10 for name, _ in BUILTIN_DATASETS}
# Their images' shapes, known before loading, so that an Input they cannot feed is refused before
# they are generated or downloaded.
BUILTIN_SAMPLE_SHAPES: dict[str, tuple[int, int, int]] = {
    name: (3, 32, 32) if name == "cifar-10" else (1, 28, 28) for name, _ in BUILTIN_DATASETS}


def known_class_count(spec: str) -> int | None:
    """The class count of a built-in dataset; None for a folder or file, known only once loaded."""
    return BUILTIN_CLASS_COUNTS.get(spec.strip().lower())


def known_sample_shape(spec: str) -> tuple[int, int, int] | None:
    """The image shape of a built-in dataset; None for a folder or file, known only once loaded."""
    return BUILTIN_SAMPLE_SHAPES.get(spec.strip().lower())
