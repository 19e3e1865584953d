"""Train a small CLIP-style image–text model on RP11 and write it as an `image_text` bundle.

No image–text weights can be downloaded here, so this is the proof the portal's image–text path
works on photos: the image tower is the shipped ImageNet backbone (frozen, `features.pt` of the
default bundle) followed by a fixed whitening projection (the principal components of the
trained families' features: training the projection on eight families would fold every other
insect onto them); the text tower is a bag of word-piece embeddings (open_clip's BPE tokenizer)
with a projection, trained from zero to land each family's descriptions on its photos
(rp11_descriptions.json: order, look, size, habits). Three families are held out entirely (no
photo, no description seen in training); the model is then asked to tell their val photos apart
by their descriptions alone (zero-shot), which works only through what the descriptions share
with the trained ones (order names, "moth", "planthopper", "fringed wings").

  python scripts/train_image_text.py OUT --rp11 ../shared/datasets/rp11 \\
      --features $INSECTID_DEFAULT_BUNDLE/features.pt [--cache DIR]

Prints seen-class val accuracy and zero-shot accuracy on the held-out families (3-way and
among all 11 families) against chance, writes the bundle to OUT (classes: the trained families,
prompts: their descriptions) and OUT/proof.json (the held-out families, the catalogue species
that stand for them and the descriptions an administrator gives them).
"""
import argparse
import json
import os
import random
import time

import torch
from PIL import Image

from bundle_parts import sha256
from export_image_text import build_tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
CONTEXT = 77
MEAN, STD = 0.4980392156862745, 0.5019607843137255


def load_photo(path, size=224, shorter=256, mirror=False):
    """As the server prepares a photo for the default bundle: shorter side to 256, centre 224."""
    img = Image.open(path).convert("RGB")
    w, h = img.size
    scale = shorter / min(w, h)
    img = img.resize((max(shorter, round(w * scale)), max(shorter, round(h * scale))), Image.BILINEAR)
    w, h = img.size
    left, top = (w - size) // 2, (h - size) // 2
    img = img.crop((left, top, left + size, top + size))
    if mirror:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    x = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8).reshape(size, size, 3)
    return (x.permute(2, 0, 1).float() / 255.0 - MEAN) / STD


def photo_features(features, root, split, cache, digest):
    """Frozen backbone features of every photo of a split (and, for train, its mirror image),
    64 views at a time, cached as a file named after the backbone's digest: the trunk is the
    slow part, and a cache of another backbone must never be reused."""
    path = os.path.join(cache, f"rp11-{split}-{digest[:16]}.pt") if cache else None
    if path and os.path.exists(path):
        return torch.load(path)
    families = sorted(os.listdir(os.path.join(root, split)))
    views = [False, True] if split == "train" else [False]
    pending, out, labels, files = [], [], [], []
    started = time.time()

    def run():
        with torch.no_grad():
            out.append(features(torch.stack(pending)))
        pending.clear()
        print(f"  {split}: backbone {sum(len(o) for o in out)} views, {time.time() - started:.0f} s", flush=True)

    for family in families:
        folder = os.path.join(root, split, family)
        for name in sorted(os.listdir(folder)):
            for mirror in views:
                pending.append(load_photo(os.path.join(folder, name), mirror=mirror))
                labels.append(family)
                files.append(os.path.join(split, family, name))
                if len(pending) == 64:
                    run()
    if pending:
        run()
    data = {"x": torch.cat(out), "family": labels, "file": files}
    if path:
        os.makedirs(cache, exist_ok=True)
        torch.save(data, path)
    return data


class ImageEncoder(torch.nn.Module):
    def __init__(self, features, projection):
        super().__init__()
        self.features = features
        self.projection = projection

    def forward(self, x):
        return self.projection(self.features(x))


class TextEncoder(torch.nn.Module):
    """Mean of the word pieces' vectors (start, end and padding left out), projected. Only the
    word pieces of the training descriptions have a vector of their own (`row` maps every id
    of the tokenizer to its row); all others share one row of zeros, so a word never seen in
    training adds nothing rather than noise."""

    def __init__(self, used, vocab, dim, sot, eot):
        super().__init__()
        row = torch.full((vocab,), len(used), dtype=torch.long)
        row[torch.tensor(used)] = torch.arange(len(used))
        self.register_buffer("row", row)
        self.embed = torch.nn.Embedding(len(used) + 1, dim)
        torch.nn.init.zeros_(self.embed.weight)
        self.projection = torch.nn.Linear(dim, dim, bias=False)
        self.sot, self.eot = sot, eot

    def forward(self, tokens):
        keep = ((tokens != 0) & (tokens != self.sot) & (tokens != self.eot)).to(torch.float32)
        summed = (self.embed(self.row[tokens]) * keep.unsqueeze(-1)).sum(1)
        return self.projection(summed / keep.sum(1, keepdim=True).clamp(min=1.0))


def unit(x):
    return torch.nn.functional.normalize(x, dim=-1)


def class_vectors(text, tokens_by_class):
    """Each class's vector: the normalised mean of its descriptions' unit embeddings."""
    return unit(torch.stack([unit(text(t)).mean(0) for t in tokens_by_class]))


def accuracy(image_emb, vectors, targets):
    return float(((image_emb @ vectors.T).argmax(1) == targets).float().mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--rp11", required=True)
    ap.add_argument("--features", required=True, help="features.pt of the default bundle")
    ap.add_argument("--cache", help="folder for the backbone features (reused between runs)")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--version", default="1.0.0")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    started = time.time()
    with open(os.path.join(HERE, "rp11_descriptions.json"), encoding="utf-8") as f:
        spec = json.load(f)
    held_out = [h["family"] for h in spec["held_out"]]
    families = sorted(spec["families"])
    seen = [f for f in families if f not in held_out]

    features = torch.jit.load(args.features).eval()
    digest = sha256(args.features)
    train = photo_features(features, args.rp11, "train", args.cache, digest)
    val = photo_features(features, args.rp11, "val", args.cache, digest)
    print(f"backbone features: {len(train['family'])} train views, {len(val['family'])} val photos, "
          f"{time.time() - started:.0f} s", flush=True)

    tok, simple = build_tokenizer(CONTEXT)
    tokens = {f: simple(spec["families"][f]["descriptions"], CONTEXT) for f in families}
    index = {f: i for i, f in enumerate(seen)}
    rows = [i for i, f in enumerate(train["family"]) if f in index]
    x_train = train["x"][rows]
    y_train = torch.tensor([index[train["family"][i]] for i in rows])
    mean = x_train.mean(0)
    image_proj = whitening(x_train, mean, args.dim)
    used = sorted({int(t) for f in seen for row in tokens[f] for t in row})
    text = TextEncoder(used, len(simple.encoder), args.dim, simple.sot_token_id, simple.eot_token_id)
    log_scale = torch.nn.Parameter(torch.tensor(2.66))  # log(1/0.07), as CLIP starts
    params = list(text.parameters()) + [log_scale]
    opt = torch.optim.AdamW(params, lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs)
    for epoch in range(args.epochs):
        order = torch.randperm(len(rows))
        for b in range(0, len(rows), 256):
            batch = order[b : b + 256]
            # One description per class each step, with word pieces dropped at random, so every
            # word has to carry the class on its own: what lets unseen combinations transfer.
            picked = []
            for f in seen:
                t = tokens[f][random.randrange(len(tokens[f]))].clone()
                drop = (torch.rand(t.shape) < 0.25) & (t != simple.sot_token_id) & (t != simple.eot_token_id)
                picked.append(torch.where(drop, torch.zeros_like(t), t))
            txt = unit(text(torch.stack(picked)))
            with torch.no_grad():
                img = unit(image_proj(x_train[batch]))
            logits = log_scale.exp().clamp(max=100) * img @ txt.T
            loss = torch.nn.functional.cross_entropy(logits, y_train[batch], label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
        if epoch % 50 == 0 or epoch == args.epochs - 1:
            print(f"  epoch {epoch}: loss {loss.item():.3f}", flush=True)

    with torch.no_grad():
        img = unit(image_proj(val["x"]))
        fam = val["family"]
        seen_rows = [i for i, f in enumerate(fam) if f in index]
        held_rows = [i for i, f in enumerate(fam) if f in held_out]
        seen_acc = accuracy(img[seen_rows], class_vectors(text, [tokens[f] for f in seen]),
                            torch.tensor([index[fam[i]] for i in seen_rows]))
        held_vec = class_vectors(text, [tokens[f] for f in held_out])
        zero_shot = accuracy(img[held_rows], held_vec, torch.tensor([held_out.index(fam[i]) for i in held_rows]))
        all_vec = class_vectors(text, [tokens[f] for f in families])
        all_targets = torch.tensor([families.index(fam[i]) for i in held_rows])
        generalised = accuracy(img[held_rows], all_vec, all_targets)
    figures = {
        "seen_families": len(seen),
        "seen_val_photos": len(seen_rows),
        "seen_val_top1": seen_acc,
        "held_out_families": held_out,
        "held_out_val_photos": len(held_rows),
        "zero_shot_top1": zero_shot,
        "zero_shot_chance": 1 / len(held_out),
        "zero_shot_among_all_top1": generalised,
        "zero_shot_among_all_chance": 1 / len(families),
        "seconds": round(time.time() - started, 1),
    }
    print(f"seen families, val top-1 ({len(seen)}-way, {len(seen_rows)} photos): {seen_acc:.1%}")
    print(f"held-out families, zero-shot top-1 ({len(held_out)}-way, {len(held_rows)} photos): "
          f"{zero_shot:.1%} (chance {1 / len(held_out):.1%})")
    print(f"held-out families among all {len(families)}: {generalised:.1%} (chance {1 / len(families):.1%})")
    write_bundle(args, spec, seen, image_proj, text, features, log_scale, tok, simple, figures)


def whitening(x, mean, dim):
    """A linear map onto the `dim` principal components of `x`, each scaled to unit spread."""
    _, s, v = torch.pca_lowrank(x - mean, q=dim, center=False)
    proj = torch.nn.Linear(x.shape[1], dim)
    scale = (x.shape[0] - 1) ** 0.5
    with torch.no_grad():
        proj.weight.copy_((v * scale / s).T)
        proj.bias.copy_(-(mean @ proj.weight.T))
    proj.requires_grad_(False)
    return proj


def write_bundle(args, spec, seen, image_proj, text, features, log_scale, tok, simple, figures):
    out = args.out_dir
    os.makedirs(out, exist_ok=True)
    tok.save(os.path.join(out, "tokenizer.json"))
    image = ImageEncoder(features, image_proj).eval()
    text = text.eval()
    with torch.no_grad():
        torch.jit.trace(image, torch.zeros(2, 3, 224, 224)).save(os.path.join(out, "image_encoder.pt"))
        torch.jit.trace(text, simple(["a photo of an insect.", "a leaf."], CONTEXT)).save(
            os.path.join(out, "text_encoder.pt"))
    labels = []
    for i, family in enumerate(seen):
        entry = spec["families"][family]
        lineage = {"class": "Insecta", "order": entry["order"], "family": family}
        taxon = {"rank": "family", "name": family, "key": f"family:{family}", "lineage": lineage}
        labels.append({"index": i, "name": family, "taxon": taxon, "prompts": entry["descriptions"]})
    files = ["image_encoder.pt", "text_encoder.pt", "tokenizer.json"]
    manifest = {
        "format": 1,
        "kind": "image_text",
        "name": "rp11-clip",
        "version": args.version,
        "architecture": "EfficientNet-Lite0 (frozen) + bag-of-words text encoder, contrastive",
        "description": "A small CLIP-style model trained on RP11 families and their descriptions "
                       "(scripts/train_image_text.py); classes are described by text.",
        "input_size": 224,
        "resize_shorter": 256,
        "mean": [MEAN] * 3,
        "std": [STD] * 3,
        "feature_dim": args.dim,
        "files": {"model": "image_encoder.pt", "text_encoder": "text_encoder.pt", "tokenizer": "tokenizer.json"},
        "image_text": {
            "logit_scale": float(log_scale.detach().exp().clamp(max=100)),
            "context_length": CONTEXT,
            "embed_dim": args.dim,
            "pad_id": 0,
            "languages": ["en"],
        },
        "sha256": {f: sha256(os.path.join(out, f)) for f in files},
        "labels": labels,
        # Measured with measure_thresholds.py on RP11 val (60 photos of each of the 11 families):
        # the lowest values whose answers were right >= 90 % of the time (the script's bar then;
        # it asks 95 % now, which these 94.1 % and 94.6 % miss narrowly). Every class is an
        # insect and the text tower never read a word of what is not, so "no insect" cannot be
        # told here (arthropod_min has nothing to separate).
        "thresholds": {"confident": 0.9, "rollup": 0.8, "arthropod_min": 0.5},
    }
    with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
    proof = {"figures": figures, "held_out": spec["held_out"],
             "descriptions": {h["family"]: spec["families"][h["family"]]["descriptions"] for h in spec["held_out"]}}
    with open(os.path.join(out, "proof.json"), "w", encoding="utf-8") as f:
        json.dump(proof, f, indent=1, ensure_ascii=False)
    print(f"wrote image_text bundle rp11-clip {args.version} ({len(labels)} classes) to {out}")


if __name__ == "__main__":
    main()
