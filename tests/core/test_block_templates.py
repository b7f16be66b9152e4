"""The templates built from blocks, each against a hand-written PyTorch network: the same parameter
count, the compiled model's state_dict loads into it (key for key, with the mapping to torchvision's
names written out for the ResNets), and the same outputs for the same weights."""
import re
from collections import OrderedDict

import pytest
import torch
from torch import nn

from netbuilder.core.analysis import analyze
from netbuilder.core.compile import compile_graph
from netbuilder.core.project import load_template

TOLERANCE = 1e-5


# --- hand-written references ---------------------------------------------------------------------

class BasicBlock(nn.Module):
    """torchvision's ResNet basic block, as torchvision writes it."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """torchvision's ResNet with basic blocks; `imagenet` chooses its 7×7 stride-2 stem and max pooling
    (else a 3×3 stem at full size, for 28×28 digits). Stages are named `stage` + number, the classifier `head`."""

    def __init__(self, widths, depths, classes, in_channels, imagenet, stage="layer", head="fc"):
        super().__init__()
        self.conv1 = (nn.Conv2d(in_channels, widths[0], 7, 2, 3, bias=False) if imagenet else
                      nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False))
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1) if imagenet else nn.Identity()
        self.stages = []
        inplanes = widths[0]
        for number, (width, depth) in enumerate(zip(widths, depths), start=1):
            blocks = [BasicBlock(inplanes, width, 1 if number == 1 else 2)]
            blocks += [BasicBlock(width, width) for _ in range(depth - 1)]
            setattr(self, f"{stage}{number}", nn.Sequential(*blocks))
            self.stages.append(getattr(self, f"{stage}{number}"))
            inplanes = width
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.head = head
        setattr(self, head, nn.Linear(widths[-1], classes))

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for layer in self.stages:
            x = layer(x)
        return getattr(self, self.head)(torch.flatten(self.avgpool(x), 1))


def torchvision_key(key: str) -> str:
    """A compiled ResNet template's state_dict key as torchvision names it: a later stage is a block
    of two blocks, `first` (torchvision's 0, the downsampling one) and `rest` (1); the skip's
    projection is `downsample_conv` and `downsample_bn` (torchvision's nn.Sequential downsample.0, .1).
    The first stage repeats one block ×2, whose keys already read `layer1.0.conv1.weight`."""
    key = re.sub(r"^(\w+)\.first\.", r"\1.0.", key)
    key = re.sub(r"^(\w+)\.rest\.", r"\1.1.", key)
    return key.replace("downsample_conv.", "downsample.0.").replace("downsample_bn.", "downsample.1.")


class SeparableBlock(nn.Module):
    """MobileNetV3's block without expansion: depthwise 3×3, BN, Hardswish, squeeze-and-excite,
    pointwise 1×1, BN, plus the input when the shape stays."""

    def __init__(self, channels: int, filters: int, stride: int):
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, 3, stride, 1, groups=channels, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.se_reduce = nn.Conv2d(channels, channels // 4, 1)
        self.se_expand = nn.Conv2d(channels // 4, channels, 1)
        self.pointwise = nn.Conv2d(channels, filters, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(filters)
        self.residual = stride == 1 and channels == filters

    def forward(self, x):
        features = nn.functional.hardswish(self.bn1(self.depthwise(x)))
        gate = nn.functional.adaptive_avg_pool2d(features, 1)
        gate = nn.functional.hardsigmoid(self.se_expand(torch.relu(self.se_reduce(gate))))
        out = self.bn2(self.pointwise(features * gate))
        return out + x if self.residual else out


class MobileNetStyle(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.down1 = SeparableBlock(16, 32, 2)
        self.blocks32 = nn.Sequential(SeparableBlock(32, 32, 1), SeparableBlock(32, 32, 1))
        self.down2 = SeparableBlock(32, 64, 2)
        self.blocks64 = nn.Sequential(SeparableBlock(64, 64, 1), SeparableBlock(64, 64, 1))
        self.fc1 = nn.Linear(64, 10)

    def forward(self, x):
        x = nn.functional.hardswish(self.bn1(self.conv1(x)))
        x = self.blocks64(self.down2(self.blocks32(self.down1(x))))
        return self.fc1(x.mean(dim=(2, 3)))


class TextTransformer(nn.Module):
    """Token ids (N, 100) -> embedding 64 + learned positions -> nn.TransformerEncoder of 2 layers ->
    mean over the words -> 10 scores."""

    def __init__(self):
        super().__init__()
        self.embedding1 = nn.Embedding(10002, 64)
        self.positions1 = nn.Parameter(torch.zeros(100, 64))
        layer = nn.TransformerEncoderLayer(64, 4, dim_feedforward=128, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.fc1 = nn.Linear(64, 10)

    def forward(self, tokens):
        return self.fc1(self.encoder(self.embedding1(tokens) + self.positions1).mean(dim=1))


def transformer_key(key: str) -> str:
    """The compiled key as the reference names it: the repeated encoder block's layer `encoder.0.layer.`
    is nn.TransformerEncoder's `encoder.layers.0.`; the positions' table is one parameter."""
    return re.sub(r"^encoder\.(\d+)\.layer\.", r"encoder.layers.\1.", key).replace("positions1.weight", "positions1")


class Autoencoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(OrderedDict(
            conv1=nn.Conv2d(1, 16, 3, padding=1), relu1=nn.ReLU(), pool1=nn.MaxPool2d(2),
            conv2=nn.Conv2d(16, 32, 3, padding=1), relu2=nn.ReLU(), pool2=nn.MaxPool2d(2)))
        self.decoder = nn.Sequential(OrderedDict(
            deconv1=nn.ConvTranspose2d(32, 16, 2, stride=2), relu1=nn.ReLU(),
            upsample1=nn.Upsample(scale_factor=2, mode="bilinear"), conv1=nn.Conv2d(16, 1, 3, padding=1)))

    def forward(self, x):
        return self.decoder(self.encoder(x))


# --- the comparisons -----------------------------------------------------------------------------

def compiled_template(name: str):
    """The template's compiled model, its BatchNorms' running statistics made random so that the
    comparison reaches them, and its parameter count."""
    graph = load_template(name).graph
    analysis = analyze(graph)
    assert analysis.ok and not analysis.problems, [p.message for p in analysis.problems]
    torch.manual_seed(0)
    model = compile_graph(graph, analysis)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return model, analysis.total_params


CASES = {
    "6-resnet": (lambda: ResNet((16, 32, 64), (2, 2, 2), 10, 1, imagenet=False, stage="stage", head="fc1"),
                 torchvision_key, lambda: torch.randn(3, 1, 28, 28), 174_970),
    "6-resnet18": (lambda: ResNet((64, 128, 256, 512), (2, 2, 2, 2), 1000, 3, imagenet=True), torchvision_key,
                   lambda: torch.randn(1, 3, 224, 224), 11_689_512),
    "7-mobilenet": (MobileNetStyle, lambda key: key, lambda: torch.randn(3, 1, 28, 28), 22_902),
    "8-transformer-text": (TextTransformer, transformer_key, lambda: torch.randint(0, 10002, (3, 100)), 714_122),
    "9-autoencoder": (Autoencoder, lambda key: key, lambda: torch.randn(3, 1, 28, 28), 7_009),
}


@pytest.mark.parametrize("name", CASES)
def test_a_block_template_is_its_hand_written_pytorch_network(name):
    make_reference, reference_key, make_inputs, params = CASES[name]
    model, counted = compiled_template(name)
    reference = make_reference()
    state = {reference_key(key): value for key, value in model.state_dict().items()}
    assert sorted(state) == sorted(reference.state_dict())  # every key maps to one of the reference's
    reference.load_state_dict(state)
    reference.eval()
    assert counted == sum(p.numel() for p in reference.parameters()) == params
    inputs = make_inputs()
    with torch.no_grad():
        torch.testing.assert_close(model(inputs), reference(inputs), atol=TOLERANCE, rtol=0)


def test_resnet18_counts_what_torchvision_counts_and_its_first_stage_keys_are_torchvisions():
    model, counted = compiled_template("6-resnet18")
    keys = model.state_dict()
    assert counted == 11_689_512
    assert {"layer1.0.conv1.weight", "layer1.1.bn2.running_var", "fc.weight"} <= set(keys)  # torchvision's own
    assert keys["layer4.first.downsample_conv.weight"].shape == (512, 256, 1, 1)  # torchvision's layer4.0.downsample.0


def test_the_stages_of_the_digits_resnet_are_blocks_repeated_and_nested():
    graph = load_template("6-resnet").graph
    stages = {node.name: node for node in graph.nodes.values() if node.type_id == "block"}
    assert list(stages) == ["stage1", "stage2", "stage3"] and stages["stage1"].params["repeat"] == 2
    inside = graph.blocks[stages["stage2"].params["block"]].graph
    assert sorted(n.name for n in inside.nodes.values() if n.type_id == "block") == ["first", "rest"]
