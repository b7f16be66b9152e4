"""The code export: plain PyTorch files that need no netbuilder.

    NAME.py             the network as a readable module, `load_model()` loading the weights beside it,
                        and, run as a script, the answers for image, CSV or text files
    NAME_weights.pt     the weights (a state_dict: torch.load(..., weights_only=True))
    NAME_preprocess.py  the recipe (once trained): how raw images, rows or texts become the input, and
                        the outputs answers; netbuilder's own functions, written out by `bundle`
    NAME_train.py       trains the network with netbuilder's own optimizer, schedule and loss
                        functions (written out the same way) and the project's settings
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import torch

from netbuilder.common.contracts import TASKS
from netbuilder.core.codegen import docstring_text, example_inputs_code, to_python
from netbuilder.common.files import write_atomic
from netbuilder.data.folders import IMAGE_SUFFIXES, read_image
from netbuilder.data.recipe import class_indices, model_inputs
from netbuilder.training.metrics import LOSSES
from netbuilder.training.trainer import build_optimizer, build_schedule

from .bundle import bundled_source
from .exporting import ExportSource


def companion(path: Path, role: str, suffix: str = ".py") -> Path:
    """A file written beside the module: NAME_weights.pt, NAME_preprocess.py, NAME_train.py."""
    return path.with_name(f"{path.stem}_{role}{suffix}")


def write_code(source: ExportSource, path: Path) -> list[Path]:
    files = {path: module_source(source, path).encode("utf-8"),
             companion(path, "weights", ".pt"): _state_dict_bytes(source.model)}
    if source.recipe is not None:
        files[companion(path, "preprocess")] = preprocess_source(source, path.name).encode("utf-8")
    files[companion(path, "train")] = training_script(source, path.name).encode("utf-8")
    for file, data in files.items():
        write_atomic(file, data)
    return list(files)


def _state_dict_bytes(model: torch.nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.save({name: value.detach().cpu().contiguous() for name, value in model.state_dict().items()}, buffer)
    return buffer.getvalue()


def module_source(source: ExportSource, path: Path) -> str:
    """The network's module with `load_model`, and a main that answers for files (once trained)."""
    weights, preprocess = companion(path, "weights", ".pt").name, companion(path, "preprocess").name
    tail = [f"WEIGHTS = Path(__file__).with_name({weights!r})", "", "",
            "def load_model(weights=WEIGHTS):",
            f'    """Net with the weights written beside this file (or those '
            f'{docstring_text(companion(path, "train").name)} saved there), in eval mode."""',
            "    model = Net()",
            '    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))',
            "    return model.eval()", "", ""]
    if source.recipe is None:
        tail += ['if __name__ == "__main__":',
                 "    # untrained weights have no recipe yet: export again after training to answer for files",
                 f"    print(load_model()({example_inputs_code(source.project.graph, source.analysis)}).shape)"]
    else:
        tail += ["def load_preprocess():",
                 f'    """{docstring_text(preprocess)}: how raw data becomes the input, and the outputs answers."""',
                 f"    path = Path(__file__).with_name({preprocess!r})",
                 '    spec = importlib.util.spec_from_file_location("preprocess", path)',
                 "    module = importlib.util.module_from_spec(spec)",
                 "    spec.loader.exec_module(module)",
                 "    return module", "", "",
                 'if __name__ == "__main__":  # python NAME.py FILE...: the answers for images, CSV rows or lines',
                 "    preprocess = load_preprocess()",
                 "    samples, names = preprocess.read_samples(sys.argv[1:])",
                 "    with torch.no_grad():",
                 "        outputs = load_model()(preprocess.inputs(samples))",
                 "    for name, answer in zip(names, preprocess.answers(outputs)):",
                 "        print(name, answer)"]
    return to_python(source.project.graph, source.analysis, title=source.project.name,
                     imports=("import importlib.util", "import sys", "from pathlib import Path"), main=tail)


_PREPROCESS_HEAD = '''"""How raw data becomes the input of {module} and its outputs become answers: the recipe
netbuilder fitted on the training data of "{project}", as plain code (numpy, OpenCV and torch; no netbuilder).

    inputs(samples)           raw samples -> the batch the model takes. Images: arrays (H, W) grey,
                              (H, W, 3) RGB, (H, W, 2) grey+alpha or (H, W, 4) RGBA of any size, 8- or
                              16-bit (transparency is composited first); rows: mappings from column name
                              (or sequences in the recipe's column order); texts: strings
    read_samples(paths)       image files, CSV files (a sample a row) or text files (a sample a line)
                              -> (raw samples, a name for each)
    labelled_samples(path)    training data: a folder of one subfolder of images per class, or a CSV file
                              with the label column -> (raw samples, targets); for a network that gives
                              back its input (TARGET_IS_INPUT), the images in a folder and its subfolders
                              -> (raw samples, None)
    probabilities(outputs)    classification: the model's outputs -> (N, classes) probabilities
    answers(outputs)          the outputs as (class name, probability) pairs, best first, or values

Below the recipe are netbuilder's own functions, written out by its code export, so that a sample
read here becomes exactly the input the app gives the model."""
from __future__ import annotations

import csv
import json
from types import SimpleNamespace

'''

_PREPROCESS_TAIL = '''

RECIPE_JSON = {recipe_json!r}
SOFTMAX = {softmax!r}  # True: the outputs are class scores, read as probabilities by a softmax
TARGET_IS_INPUT = {target_is_input!r}  # True: the network gives back its input (an autoencoder), its own target
_TABLE_SUFFIXES = (".csv", ".tsv")
_IMAGE_SUFFIXES = {image_suffixes!r}


def _namespace(document):
    """A recipe part as attributes, lists as tuples (what the functions above read)."""
    return SimpleNamespace(**{{key: tuple(value) if isinstance(value, list) else value
                              for key, value in document.items()}})


_DOCUMENT = json.loads(RECIPE_JSON)
RECIPE = SimpleNamespace(**{{**vars(_namespace(_DOCUMENT)), **{{
    part: _namespace(_DOCUMENT[part]) if part in _DOCUMENT else None for part in ("image", "table", "text")}}}})


def inputs(samples):
    return model_inputs(RECIPE, samples)


def _rows(path):
    """Each row as a mapping from column name, and the line of the file where it starts."""
    rows, lines = [], []
    with open(path, newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file, delimiter="\\t" if path.suffix.lower() == ".tsv" else ",")
        start = 2
        for row in reader:
            rows.append(row)
            lines.append(start)
            start = reader.line_num + 1
    return rows, lines


def _image(path):
    pixels = read_image(path)
    if pixels is None:
        raise DataError(f"{{path}} is not an image that can be read.")
    return pixels


def _row_samples(rows):
    return [row[RECIPE.text.text_column] for row in rows] if RECIPE.text else rows


def read_samples(paths):
    samples, names = [], []
    for path in map(Path, paths):
        if RECIPE.image:
            samples.append(_image(path))
            names.append(path.name)
        elif path.suffix.lower() in _TABLE_SUFFIXES:
            rows, lines = _rows(path)
            samples += _row_samples(rows)
            names += [f"{{path.name}} row {{line}}" for line in lines]
        else:
            for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
                if line.strip():
                    samples.append(line)
                    names.append(f"{{path.name}} line {{number}}")
    return samples, names


def labelled_samples(path):
    path = Path(path)
    if TARGET_IS_INPUT:
        files = sorted(file for file in path.rglob("*") if file.is_file() and file.suffix.lower() in _IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"{{path}} holds no images ({{', '.join(_IMAGE_SUFFIXES)}}).")
        return [_image(file) for file in files], None
    if RECIPE.image:
        samples, labels = [], []
        for name in RECIPE.class_names:
            files = sorted(file for file in (path / name).glob("*") if file.is_file())
            samples += [_image(file) for file in files]
            labels += [name] * len(files)
    else:
        rows, _ = _rows(path)
        label_column = (RECIPE.text or RECIPE.table).label_column
        samples, labels = _row_samples(rows), [row[label_column] for row in rows]
    if not SOFTMAX:
        return samples, torch.tensor([float(label) for label in labels])
    targets = class_indices(RECIPE, labels)
    if (targets < 0).any():
        unknown = labels[int((targets < 0).argmax())]
        raise DataError(f"{{path}}: the label {{unknown!r}} is none of the model's classes.")
    return samples, torch.from_numpy(targets)


def probabilities(outputs):
    # Spare scores beyond the classes share the softmax, as in training, but name no class.
    scores = outputs.detach().float().reshape(len(outputs), -1)
    return torch.softmax(scores, dim=1)[:, :len(RECIPE.class_names)]


def answers(outputs, top=3):
    if not SOFTMAX:
        return outputs.detach().float().reshape(len(outputs), -1).tolist()
    return [[(RECIPE.class_names[index], round(float(row[index]), 4)) for index in row.argsort(descending=True)[:top]]
            for row in probabilities(outputs)]
'''


def preprocess_source(source: ExportSource, module_file: str) -> str:
    recipe = source.recipe
    head = _PREPROCESS_HEAD.format(module=docstring_text(module_file), project=docstring_text(source.project.name))
    return head + bundled_source([model_inputs, read_image, class_indices]) + _PREPROCESS_TAIL.format(
        recipe_json=json.dumps(recipe.to_dict()), softmax=TASKS[recipe.task].probabilities == "softmax",
        target_is_input=TASKS[recipe.task].target_is_input, image_suffixes=IMAGE_SUFFIXES)


_TRAINING_HEAD = '''"""Trains Net ({module}) as netbuilder trains "{project}": with netbuilder's own optimizer, schedule
and loss functions (written out below) and the project's settings (SETTINGS). Needs torch{needs}, not
netbuilder.

Run: python {script} DATA [--epochs N]
DATA: {data_help}
The weights are saved as {weights}, which {module}'s load_model() reads."""
from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from types import SimpleNamespace

'''

_TRAINING_TAIL = '''

SETTINGS = SimpleNamespace(**{settings!r})
MODULE_FILE, PREPROCESS_FILE, WEIGHTS_FILE = {module!r}, {preprocess!r}, {weights!r}
TARGET_IS_INPUT = {target_is_input!r}  # True: the network learns to give back its input, its own target
{left_out}

def load_beside(file_name):
    spec = importlib.util.spec_from_file_location(Path(file_name).stem, Path(__file__).with_name(file_name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_data(path):
    """(inputs, targets): a .pt file of both as tensors, or raw data read by the recipe; a network
    that gives back its input is trained on the inputs themselves (a .pt file's targets not needed)."""
    if Path(path).suffix == ".pt":
        data = torch.load(path, map_location="cpu", weights_only=True)
        inputs, targets = data["inputs"], data.get("targets")
    elif not Path(__file__).with_name(PREPROCESS_FILE).exists():
        raise SystemExit(f"{{PREPROCESS_FILE}} (the recipe, written by an export after training) is missing: "
                         "give a .pt file of inputs and targets")
    else:
        preprocess = load_beside(PREPROCESS_FILE)
        samples, targets = preprocess.labelled_samples(path)
        inputs = preprocess.inputs(samples)
    return inputs, inputs if TARGET_IS_INPUT else targets


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help={data_help!r})
    parser.add_argument("--epochs", type=int, default=SETTINGS.epochs)
    args = parser.parse_args()

    settings = SimpleNamespace(**{{**vars(SETTINGS), "epochs": args.epochs}})
    torch.manual_seed(settings.seed)
    model = load_beside(MODULE_FILE).Net()
    inputs, targets = load_data(args.data)
    batches = -(-len(inputs) // settings.batch_size)
    optimizer = build_optimizer(model, settings)
    epoch_schedule, batch_schedule = build_schedule(optimizer, settings, batches)
    order = torch.Generator().manual_seed(settings.seed)
    for epoch in range(1, settings.epochs + 1):
        model.train()
        total = 0.0
        for indices in torch.randperm(len(inputs), generator=order).split(settings.batch_size):
            loss = {loss}(model(inputs[indices]), targets[indices], settings.label_smoothing)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if batch_schedule:
                batch_schedule.step()
            total += loss.item() * len(indices)
        if epoch_schedule:
            epoch_schedule.step()
        print(f"epoch {{epoch}}/{{settings.epochs}}  loss {{total / len(inputs):.4f}}", flush=True)
    torch.save(model.state_dict(), Path(__file__).with_name(WEIGHTS_FILE))


if __name__ == "__main__":
    main()
'''


def training_script(source: ExportSource, module_file: str) -> str:
    """A plain PyTorch training loop with the project's settings and netbuilder's optimizer, schedule and loss."""
    settings = source.project.training
    task = next(node.params["task"] for node in source.project.graph.nodes.values() if node.spec.is_sink)
    loss = LOSSES[TASKS[task].loss]
    not_reproduced = [what for what, on in (("augmentation", settings.augment),
                                            ("a validation split", settings.validation_split > 0),
                                            ("early stopping", settings.early_stopping_patience > 0),
                                            ("bfloat16 precision", settings.precision == "fast")) if on]
    left_out = (f"# netbuilder's trainer also applies {', '.join(not_reproduced)}; this loop does not.\n"
                if not_reproduced else "")
    path = Path(module_file)
    target_is_input = TASKS[task].target_is_input
    tensors = '{"inputs": tensor}' if target_is_input else '{"inputs": tensor, "targets": tensor}'
    if source.recipe is None:
        data_help = f"a .pt file of {tensors} (export after training for raw data)"
    elif target_is_input:
        data_help = f"a folder of images (its subfolders too), each its own target, or a .pt file of {tensors}"
    else:
        data_help = ("a folder of one subfolder of images per class, a CSV file with the label column (as for "
                     f"{docstring_text(companion(path, 'preprocess').name)}), or a .pt file of {tensors}")
    head = _TRAINING_HEAD.format(module=docstring_text(module_file), project=docstring_text(source.project.name),
                                 needs=", numpy and OpenCV" if source.recipe is not None else "",
                                 script=docstring_text(companion(path, "train").name), data_help=data_help,
                                 weights=docstring_text(companion(path, "weights", ".pt").name))
    return head + bundled_source([build_optimizer, build_schedule, loss]) + _TRAINING_TAIL.format(
        settings=settings.to_dict(), module=module_file, preprocess=companion(path, "preprocess").name,
        weights=companion(path, "weights", ".pt").name, left_out=left_out, loss=loss.__name__,
        target_is_input=target_is_input, data_help=data_help)
