#!/usr/bin/env python3
"""An int8 bundle beside its fp32 parent, in one run: accuracy on labelled photos and the
forward-pass rate at each batch size, with the targets of the speed issue checked.

Accuracy, on a class-folder dataset (rp11/val by default):
- a fine-tuned bundle (labels are the folder names): top-1 of each;
- the ImageNet default (labels are ImageNet classes): the check the portal's answers rely on,
  "the best arthropod class is of the photo's order" (taxon lineage in the manifest), and how
  often the two models' top-1 classes agree.
Usage: quantize_eval.py FP32_BUNDLE INT8_BUNDLE [--photos DIR] [--batches 1,2,4,8,16]
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bundle_parts import model_file  # noqa: E402
from measure_thresholds import RP11_ORDERS  # noqa: E402
from reference_preprocess import preprocess  # noqa: E402


class Bundle:
    def __init__(self, path):
        self.manifest = json.load(open(os.path.join(path, "manifest.json")))
        files = self.manifest["files"]
        self.model = torch.jit.load(os.path.join(path, model_file(self.manifest))).eval()
        self.head = torch.jit.load(os.path.join(path, files["head"])).eval() if files.get("head") else None
        self.labels = [label["name"] for label in self.manifest["labels"]]
        self.precision = self.manifest.get("precision", "fp32")

    def __call__(self, x):
        if self.manifest.get("test_time") == "flip":
            # As the engine answers such a bundle: the photo and its mirror, logits averaged.
            both = self.forward(torch.cat([x, torch.flip(x, [3])]))
            return (both[: len(x)] + both[len(x):]) / 2
        return self.forward(x)

    def forward(self, x):
        with torch.no_grad():
            out = self.model(x)
            return self.head(out) if self.head is not None else out


def dataset(folder):
    items = []
    for cls in sorted(os.listdir(folder)):
        d = os.path.join(folder, cls)
        if os.path.isdir(d):
            items += [(os.path.join(d, f), cls) for f in sorted(os.listdir(d)) if f.lower().endswith((".jpg", ".jpeg", ".png"))]
    return items


def logits(bundle, inputs):
    return torch.cat([bundle(inputs[i:i + 32]) for i in range(0, len(inputs), 32)])


def order_of(label):
    taxon = label.get("taxon") or {}
    return (taxon.get("lineage") or {}).get("order") or (taxon.get("name") if taxon.get("rank") == "order" else None)


def accuracy(fp32, int8, items, inputs):
    a, b = logits(fp32, inputs), logits(int8, inputs)
    truth = [cls for _, cls in items]
    agree = (a.argmax(1) == b.argmax(1)).float().mean().item()
    if all(cls in fp32.labels for cls in set(truth)):
        kind = "top-1"
        right = lambda out: sum(fp32.labels[i] == t for i, t in zip(out.argmax(1).tolist(), truth)) / len(truth)  # noqa: E731
    else:
        kind = "arthropod top-1 of the photo's order"
        orders = [order_of(label) for label in fp32.manifest["labels"]]
        arthropods = torch.tensor([o is not None for o in orders])

        def right(out):
            best = out.masked_fill(~arthropods, float("-inf")).argmax(1).tolist()
            return sum(orders[i] == RP11_ORDERS.get(t) for i, t in zip(best, truth)) / len(truth)
    return kind, right(a), right(b), agree


def forward_rate(bundle, size, batch, seconds):
    x = torch.randn(batch, 3, size, size)
    for _ in range(3):
        bundle(x)
    times, started = [], time.perf_counter()
    while time.perf_counter() - started < seconds or len(times) < 5:
        t = time.perf_counter()
        bundle(x)
        times.append(time.perf_counter() - t)
    median = statistics.median(times)
    return batch / median, median * 1000


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("fp32")
    ap.add_argument("int8")
    ap.add_argument("--photos", default=os.path.join(here, "..", "..", "shared", "datasets", "rp11", "val"))
    ap.add_argument("--batches", default="1,2,4,8,16")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    fp32, int8 = Bundle(args.fp32), Bundle(args.int8)
    if (fp32.precision, int8.precision) != ("fp32", "int8"):
        raise SystemExit(f"expected fp32 then int8 bundles, got {fp32.precision} and {int8.precision}")
    items = dataset(args.photos)
    inputs = torch.cat([preprocess(Image.open(p), fp32.manifest) for p, _ in items])
    kind, acc32, acc8, agree = accuracy(fp32, int8, items, inputs)
    print(f"{len(items)} photos from {args.photos}, {torch.get_num_threads()} threads")
    print(f"{kind}: fp32 {acc32 * 100:.2f} %, int8 {acc8 * 100:.2f} % ({(acc8 - acc32) * 100:+.2f} pt); "
          f"top-1 agreement {agree * 100:.2f} %")
    size = fp32.manifest["input_size"]
    rates = {}
    print(f"{'batch':>5} {'fp32 img/s':>11} {'ms':>7} {'int8 img/s':>11} {'ms':>7} {'speed-up':>8}")
    for batch in [int(b) for b in args.batches.split(",")]:
        (r32, m32), (r8, m8) = forward_rate(fp32, size, batch, args.seconds), forward_rate(int8, size, batch, args.seconds)
        rates[batch] = {"fp32": r32, "int8": r8}
        print(f"{batch:>5} {r32:>11.1f} {m32:>7.1f} {r8:>11.1f} {m8:>7.1f} {r8 / r32:>7.2f}x")
    best32, best8 = max(r["fp32"] for r in rates.values()), max(r["int8"] for r in rates.values())
    checks = [
        ("int8 accuracy within 1 point of fp32", (acc8 - acc32) * 100, -1.0, acc8 >= acc32 - 0.01),
        ("int8 forward rate >= 2.5x fp32 (best batch each)", best8 / best32, 2.5, best8 >= 2.5 * best32),
    ]
    for name, value, target, ok in checks:
        print(f"{'PASS' if ok else 'MISS'}  {name}: {value:.2f} (target {target})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"photos": len(items), "kind": kind, "fp32": acc32, "int8": acc8, "agreement": agree,
                       "rates": rates, "threads": torch.get_num_threads()}, f, indent=1)


if __name__ == "__main__":
    main()
