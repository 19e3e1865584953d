#!/usr/bin/env python3
"""Measure the answer thresholds of a model bundle on real photos.

Positives: a class-folder dataset of insect photos labelled by family (RP11 by default), with
the family's order known. Negatives: photos without arthropods shipped inside PyPI wheels
(scikit-image's sample data, matplotlib's sample photos), read straight from the wheel files.

For each candidate threshold it prints how often the resulting answers are right, and
suggests: arthropod_min (keep >= 97 % of insect photos), confident and rollup (the lowest
values whose answers are right >= 95 % of the time at the rank they claim), then a roll-up
threshold per rank (genus up to class, each the lowest from 0.5 up whose roll-ups at that
rank are right >= 95 % of the time), and compares the answers under the manifest's thresholds
with those under the suggested ones. Classifier and image_text bundles alike. Usage:
  measure_thresholds.py BUNDLE_DIR DATASET_DIR WHEEL_DIR [--per-class N] [--flip]
"""
import argparse
import io
import json
import os
import sys
import zipfile

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bundle_parts import model_file  # noqa: E402
from reference_preprocess import preprocess  # noqa: E402

RP11_ORDERS = {
    "Cecidomyiidae": "Diptera", "Chloropidae": "Diptera", "Ephydridae": "Diptera",
    "Cicadellidae": "Hemiptera", "Delphacidae": "Hemiptera",
    "Crambidae": "Lepidoptera", "Hesperiidae": "Lepidoptera", "Noctuidae": "Lepidoptera",
    "Curculionidae": "Coleoptera",
    "Phlaeothripidae": "Thysanoptera", "Thripidae": "Thysanoptera",
}
RANKS = ["genus", "family", "order", "class"]
# Answers a user is told as sure must be right this often (the bar for confident answers).
TARGET = 0.95
# A rank's own threshold is only suggested from at least this many roll-ups to it, and never
# below even odds: the insect photos cannot tell how often a coarse claim ("an insect") is wrong
# on photos without one, since every one of them is an insect.
MIN_ANSWERS = 10
MIN_OWN = 0.5
CANDIDATES = [0.3, 0.4, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]
NEGATIVE_SKIP = ("chessboard", "phantom", "page", "text", "logo", "color", "microaneurysms", "ihc", "cell", "retina")


def probabilities(model, manifest, images, flip=False):
    """As the engine answers: with test_time "flip" (declared, or asked with --flip) the logits
    of the photo and its mirror image are averaged before the softmax."""
    out = []
    for i in range(0, len(images), 32):
        batch = torch.cat([preprocess(img, manifest) for img in images[i:i + 32]])
        with torch.no_grad():
            logits = model(batch)
            if flip:
                logits = (logits + model(batch.flip(3))) / 2
            out.append(torch.softmax(logits, dim=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, len(manifest["labels"])))


class ImageText(torch.nn.Module):
    """An image_text bundle as a classifier, as the server computes it: each class the unit mean
    of its prompts' unit embeddings, logits the scaled cosines (photo prototypes, which only a
    few-shot version has, are left out: measure the bundle as exported)."""

    def __init__(self, bundle, manifest):
        super().__init__()
        from tokenizers import Tokenizer

        spec, files = manifest["image_text"], manifest["files"]
        self.image = torch.jit.load(os.path.join(bundle, files["model"])).eval()
        text = torch.jit.load(os.path.join(bundle, files["text_encoder"])).eval()
        tok = Tokenizer.from_file(os.path.join(bundle, files["tokenizer"]))
        tok.enable_truncation(spec["context_length"])
        rows = []
        with torch.no_grad():
            for label in manifest["labels"]:
                prompts = label.get("prompts", []) + label.get("described", [])
                ids = torch.full((len(prompts), spec["context_length"]), spec.get("pad_id", 0), dtype=torch.long)
                for r, prompt in enumerate(prompts):
                    encoded = tok.encode(prompt).ids
                    ids[r, : len(encoded)] = torch.tensor(encoded)
                rows.append(torch.nn.functional.normalize(torch.nn.functional.normalize(text(ids), dim=-1).mean(0), dim=-1))
        self.classes = torch.stack(rows)
        self.scale = spec["logit_scale"]

    def forward(self, x):
        return self.scale * torch.nn.functional.normalize(self.image(x), dim=-1) @ self.classes.T


def negatives(wheel_dir):
    imgs = []
    for name in sorted(os.listdir(wheel_dir)):
        if not name.endswith(".whl"):
            continue
        with zipfile.ZipFile(os.path.join(wheel_dir, name)) as z:
            for member in z.namelist():
                base = os.path.basename(member).lower()
                if ("skimage/data/" in member or "sample_data/" in member) and base.endswith((".png", ".jpg")) \
                        and not base.startswith(NEGATIVE_SKIP) and "/tests/" not in member:
                    img = Image.open(io.BytesIO(z.read(member)))
                    img.load()
                    if min(img.size) >= 64:
                        imgs.append((member, img))
    return imgs


def rollup_at(t_roll, rank):
    """t_roll: one threshold for every rank, or {"rollup": shared, rank: own, ...}."""
    if not isinstance(t_roll, dict):
        return t_roll
    own = t_roll.get(rank)
    return t_roll["rollup"] if own is None else own


def verdict(p, labels, t_conf, t_roll, t_arth):
    is_taxon = np.array([l["taxon"] is not None for l in labels])
    mass = float(p[is_taxon].sum())
    if mass < t_arth:
        return ("none", None, None)
    best = int(p.argmax())
    if p[best] >= t_conf and labels[best]["taxon"]:
        t = labels[best]["taxon"]
        return ("confident", t["rank"], t["lineage"])
    for rank in RANKS:
        groups = {}
        for i, l in enumerate(labels):
            if l["taxon"] and rank in l["taxon"]["lineage"]:
                groups[l["taxon"]["lineage"][rank]] = groups.get(l["taxon"]["lineage"][rank], 0.0) + p[i]
        if groups:
            name, g = max(groups.items(), key=lambda kv: kv[1])
            if g >= rollup_at(t_roll, rank):
                return ("rollup", rank, {rank: name})
    best_is_guess = labels[best]["taxon"] and mass >= 0.5
    return ("guess" if best_is_guess else "uncertain", None, None)


def right(claim_rank, claim_lineage, truth):
    """A claim is right when it agrees with the truth at the deepest rank both know."""
    for rank in ["family", "order", "class"]:
        if rank in claim_lineage and rank in truth:
            return claim_lineage[rank] == truth[rank]
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bundle")
    ap.add_argument("dataset")
    ap.add_argument("wheels")
    ap.add_argument("--per-class", type=int, default=60)
    ap.add_argument("--flip", action="store_true", help="average each photo with its mirror image, as a bundle "
                    "declaring test_time flip answers (such a bundle is always measured so)")
    args = ap.parse_args()
    manifest = json.load(open(os.path.join(args.bundle, "manifest.json")))
    flip = args.flip or manifest.get("test_time") == "flip"
    labels = manifest["labels"]
    if manifest.get("kind") == "image_text":
        model = ImageText(args.bundle, manifest)
    else:
        model = torch.jit.load(os.path.join(args.bundle, model_file(manifest)))
        model.eval()
    torch.set_num_threads(2)

    pos_imgs, truths = [], []
    for family in sorted(os.listdir(args.dataset)):
        files = sorted(os.listdir(os.path.join(args.dataset, family)))[: args.per_class]
        for f in files:
            pos_imgs.append(Image.open(os.path.join(args.dataset, family, f)))
            truths.append({"class": "Insecta", "order": RP11_ORDERS[family], "family": family})
    neg = negatives(args.wheels)
    print(f"{len(pos_imgs)} insect photos from {args.dataset}, {len(neg)} photos without insects from wheels"
          + (", each averaged with its mirror image" if flip else ""))
    pp = probabilities(model, manifest, pos_imgs, flip)
    pn = probabilities(model, manifest, [img for _, img in neg], flip)
    is_taxon = np.array([l["taxon"] is not None for l in labels])
    mass_p, mass_n = pp[:, is_taxon].sum(1), pn[:, is_taxon].sum(1)
    # Not the evaluation's top-1 (which needs the photo's own class among the labels): the top
    # class's taxon against the photo's family, order or class, as deep as the taxon names.
    top_taxa = [labels[int(p.argmax())]["taxon"] or {} for p in pp]
    top = [right(None, taxon.get("lineage", {}), truth) for taxon, truth in zip(top_taxa, truths)]
    print(f"top class right at the deepest rank it names: {np.mean(top) * 100:.2f} %")

    print("\narthropod_min   insects kept   non-insects rejected")
    for t in [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5]:
        print(f"  {t:5.2f}         {np.mean(mass_p >= t) * 100:6.1f} %       {np.mean(mass_n < t) * 100:6.1f} %")
    arth = float(np.floor(np.quantile(mass_p, 0.03) * 100) / 100)
    print(f"suggested arthropod_min {arth:.2f} (keeps 97 % of insect photos; rejects {np.mean(mass_n < arth) * 100:.0f} % of non-insects)")
    for (name, _), m in zip(neg, mass_n):
        if m >= arth:
            print(f"  accepted as arthropod: {name} ({m:.2f})")

    print("\nthreshold   confident: share / right     roll-up: share / right")
    best_conf = best_roll = None
    for t in CANDIDATES:
        conf = [right(r, l, tr) for p, tr in zip(pp, truths) for k, r, l in [verdict(p, labels, t, 2.0, arth)] if k == "confident"]
        roll = [right(r, l, tr) for p, tr in zip(pp, truths) for k, r, l in [verdict(p, labels, 2.0, t, arth)] if k == "rollup"]
        c_acc = np.mean(conf) if conf else float("nan")
        r_acc = np.mean(roll) if roll else float("nan")
        print(f"  {t:4.2f}      {len(conf) / len(pp) * 100:5.1f} % / {c_acc * 100:5.1f} %        {len(roll) / len(pp) * 100:5.1f} % / {r_acc * 100:5.1f} %")
        if best_conf is None and conf and c_acc >= TARGET:
            best_conf = t
        if best_roll is None and roll and r_acc >= TARGET:
            best_roll = t
    print(f"suggested confident {best_conf}, rollup {best_roll} (lowest with >= {TARGET * 100:.0f} % right; None: never)")

    current = manifest["thresholds"]
    conf = best_conf if best_conf is not None else current["confident"]
    by_rank = per_rank(pp, truths, labels, conf, best_roll if best_roll is not None else current["rollup"], arth)
    print(f"suggested thresholds: {json.dumps({'confident': conf, **by_rank_manifest(by_rank), 'arthropod_min': round(arth, 2)})}")
    print("\nanswers on the insect photos      share / right")
    t_now = {"rollup": current["rollup"], **current.get("rollup_by_rank", {})}
    for name, t_conf, t_roll, t_arth in [("the manifest's thresholds", current["confident"], t_now, current["arthropod_min"]),
                                         ("the suggested thresholds", conf, by_rank, arth)]:
        print(f"  with {name}:")
        report(pp, truths, labels, t_conf, t_roll, t_arth)


def per_rank(pp, truths, labels, conf, shared, arth):
    """From the finest rank up, the lowest threshold whose roll-ups to that rank are right
    >= TARGET of the time, the finer ranks' thresholds already chosen (the answer tries them
    first, so they decide which photos reach a coarser rank)."""
    chosen = {"rollup": shared}
    print(f"\nroll-ups per rank, confident at {conf}   share / right")
    for rank in RANKS:
        if not any(rank in truth for truth in truths):
            print(f"  {rank}: {shared} (the shared rollup: the photos are not labelled by {rank})")
            continue
        suggestion = at_shared = None
        for t in sorted({c for c in CANDIDATES if c >= MIN_OWN} | {shared}):
            trial = {**chosen, rank: t}
            claims = [right(r, l, tr) for p, tr in zip(pp, truths)
                      for k, r, l in [verdict(p, labels, conf, trial, arth)] if k == "rollup" and r == rank]
            if not claims:
                continue
            acc = np.mean(claims)
            print(f"  {rank:<6} {t:4.2f}   {len(claims) / len(pp) * 100:5.1f} % / {acc * 100:5.1f} %")
            if t == shared:
                at_shared = acc
            if suggestion is None and len(claims) >= MIN_ANSWERS and acc >= TARGET:
                suggestion = t
        if suggestion is None and at_shared is not None and at_shared < TARGET:
            suggestion = 1.0  # right too rarely at every value: practically never roll up to it
        if suggestion is not None and suggestion != shared:
            chosen[rank] = suggestion
        print(f"  {rank}: {chosen.get(rank, shared)}" + ("" if rank in chosen else " (the shared rollup)"))
    return chosen


def by_rank_manifest(chosen):
    own = {rank: t for rank, t in chosen.items() if rank != "rollup"}
    return {"rollup": chosen["rollup"], **({"rollup_by_rank": own} if own else {})}


def report(pp, truths, labels, t_conf, t_roll, t_arth):
    tally = {}
    for p, tr in zip(pp, truths):
        kind, rank, lineage = verdict(p, labels, t_conf, t_roll, t_arth)
        key = f"rolled up to {rank}" if kind == "rollup" else kind
        tally.setdefault(key, []).append(right(rank, lineage, tr) if kind in ("confident", "rollup") else False)
    sure = [ok for k, oks in tally.items() if k == "confident" or k.startswith("rolled") for ok in oks]
    for key in ["confident"] + [f"rolled up to {r}" for r in RANKS] + ["guess", "uncertain", "none"]:
        if key in tally:
            oks = tally[key]
            shown = f"{np.mean(oks) * 100:5.1f} %" if key == "confident" or key.startswith("rolled") else "    -  "
            print(f"    {key:<24} {len(oks) / len(pp) * 100:5.1f} % / {shown}")
    cannot = sum(len(tally.get(k, [])) for k in ("guess", "uncertain"))
    print(f"    sure answers {len(sure) / len(pp) * 100:.1f} %, right {np.mean(sure) * 100 if sure else float('nan'):.1f} %;"
          f" cannot say (a guess or some arthropod) {cannot / len(pp) * 100:.1f} %")

if __name__ == "__main__":
    main()
