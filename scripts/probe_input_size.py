#!/usr/bin/env python3
"""Does a bundle's frozen backbone tell a dataset's classes apart better at another input size?

A quick check before a fine-tune at that size (which takes an hour on 2 cores): for each
SIZE[:CROP] it computes the backbone's pooled features of every train and val photo (one view,
the server's own preprocessing: reference_preprocess.py), fits a logistic regression on train
(features standardised once, full-batch L-BFGS, L2 weight 1e-4, 1e-3 and 1e-2) and prints val
top-1 for each weight, with the time the features took. CROP is the share of the shorter side the
centred square keeps (default: the bundle's own, input_size / resize_shorter). Usage, with the
project's venv (~/.cache/insectid/venv, made by scripts/setup.sh python):
  venv/bin/python scripts/probe_input_size.py BUNDLE_DIR DATASET_DIR SIZE[:CROP]...
  e.g. … ~/.cache/insectid/models/efficientnet-lite0-imagenet ../shared/datasets/rp11 224 288 224:1
DATASET_DIR holds train/<class>/<photo> and val/<class>/<photo>.
"""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F
from PIL import Image

from quantize_eval import dataset
from reference_preprocess import preprocess

WEIGHT_DECAYS = (1e-4, 1e-3, 1e-2)


def listing(root, split, classes):
    return [(path, classes.index(c)) for path, c in dataset(os.path.join(root, split))]


def features(net, photos, manifest):
    rows = []
    with torch.no_grad():
        for start in range(0, len(photos), 32):
            batch = [preprocess(Image.open(path), manifest) for path, _ in photos[start : start + 32]]
            rows.append(net(torch.cat(batch)))
    return torch.cat(rows)


def linear_top1(train_x, train_y, val_x, val_y, weight_decay, classes):
    w = torch.zeros(train_x.shape[1], classes, requires_grad=True)
    b = torch.zeros(classes, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=300, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(train_x @ w + b, train_y) + weight_decay * (w**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return ((val_x @ w + b).argmax(1) == val_y).float().mean().item() * 100


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    bundle, root = sys.argv[1], sys.argv[2]
    torch.set_num_threads(os.cpu_count() or 1)
    base = json.load(open(os.path.join(bundle, "manifest.json")))
    net = torch.jit.load(os.path.join(bundle, base["files"]["features"])).eval()
    classes = sorted({c for _, c in dataset(os.path.join(root, "train"))})
    train, val = listing(root, "train", classes), listing(root, "val", classes)
    train_y, val_y = torch.tensor([y for _, y in train]), torch.tensor([y for _, y in val])
    print(f"{bundle}: {len(train)} train and {len(val)} val photos, {len(classes)} classes")
    for spec in sys.argv[3:]:
        size, _, crop = spec.partition(":")
        size = int(size)
        crop = float(crop) if crop else base["input_size"] / base["resize_shorter"]
        manifest = dict(base, input_size=size, resize_shorter=round(size / crop))
        started = time.time()
        train_x, val_x = features(net, train, manifest), features(net, val, manifest)
        seconds = time.time() - started
        mean, std = train_x.mean(0), train_x.std(0) + 1e-6
        train_x, val_x = (train_x - mean) / std, (val_x - mean) / std
        scores = [linear_top1(train_x, train_y, val_x, val_y, wd, len(classes)) for wd in WEIGHT_DECAYS]
        said = ", ".join(f"L2 {wd:g}: {score:.2f} %" for wd, score in zip(WEIGHT_DECAYS, scores))
        what = f"input {size}, crop {crop:.3f} of the shorter side"
        print(f"{what}: val top-1 {said} (features {seconds:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
