"""Turn an open_clip checkpoint into an `image_text` model bundle for the portal.

An image–text model (CLIP, BioCLIP, BioCLIP 2) embeds photos and descriptions in one space. The
bundle holds both encoders as TorchScript, the tokenizer as a `tokenizer.json` the server reads
with the `tokenizers` crate, the model's logit scale, and for every class one or more text
prompts. The server embeds the prompts when it installs the bundle; identifying a photo is then
one image forward pass and a product with the class vectors.

BioCLIP (ViT-B/16, open_clip layout) on a connected machine:

  python scripts/export_image_text.py out/bioclip --model ViT-B-16 \\
      --checkpoint open_clip_pytorch_model.bin --catalogue --name bioclip --version 1.0.0

`--classes FILE` takes a JSON list of {"name", "taxon" (or null), "prompts": [...]} instead of
the portal's catalogue. `--model-config FILE` registers an architecture given as an open_clip
JSON config; `--random-init SEED` exports untrained weights (the tests use a tiny model so).
"""
import argparse
import copy
import json
import os
import re

import torch

from bundle_parts import reference_inputs, sha256

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# What is not an insect, as prompts: a photo close to these and far from every arthropod class
# ends as "no insect found" by the same arthropod-probability rule as the classifiers.
NEGATIVES = [
    ("leaf without insects", ["a photo of a green leaf without insects.", "a close-up photo of a healthy plant leaf."]),
    ("bare soil", ["a photo of bare soil.", "a photo of a field with no insects."]),
    ("flower without insects", ["a photo of a flower without insects."]),
    ("person", ["a photo of a person.", "a photo of a hand."]),
    ("object", ["a photo of a household object.", "a photo of a building."]),
]

# The tokenizer's rules as open_clip's SimpleTokenizer applies them (lower-cased, whitespace
# collapsed, this split, byte-level BPE with "</w>" ending each word).
SPLIT = r"'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"
TOKENIZER_CHECKS = [
    "a photo of a rice leafhopper.",
    "A photo of Animalia Arthropoda Insecta Hemiptera Cicadellidae Nephotettix virescens.",
    "  small   green\tleafhopper on RICE!!  ",
    "aphids, 12 of them; it's the cotton aphid (Aphis gossypii)",
    "稻纵卷叶螟 on rice",
    "café crème — naïve ünïcode",
    "x" * 400,
]


class TextEncoder(torch.nn.Module):
    """encode_text of a copy of the model without its image tower: a trace saves every
    parameter its module holds, and the image tower is saved once, as image_encoder.pt."""

    def __init__(self, model):
        super().__init__()
        self.model = copy.deepcopy(model)
        self.model.visual = torch.nn.Identity()

    def forward(self, tokens):
        return self.model.encode_text(tokens)


def build_tokenizer(context_length):
    """open_clip's BPE vocabulary and merges as a Hugging Face tokenizer, checked against
    open_clip's own tokenizer on TOKENIZER_CHECKS before it is written."""
    from open_clip.tokenizer import SimpleTokenizer
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    simple = SimpleTokenizer(context_length=context_length)
    merges = sorted(simple.bpe_ranks, key=simple.bpe_ranks.get)
    sot, eot = simple.sot_token_id, simple.eot_token_id
    tok = Tokenizer(models.BPE(vocab=dict(simple.encoder), merges=merges, end_of_word_suffix="</w>", fuse_unk=False))
    tok.normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Strip(), normalizers.Lowercase()]
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(SPLIT), behavior="removed", invert=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    start, end = simple.decoder[sot], simple.decoder[eot]
    tok.add_special_tokens([start, end])
    tok.post_processor = processors.TemplateProcessing(single=f"{start} $A {end}", special_tokens=[(start, sot), (end, eot)])
    tok.decoder = decoders.BPEDecoder(suffix="</w>")
    tok.enable_truncation(context_length)
    for text in TOKENIZER_CHECKS:
        ours = tok.encode(text).ids
        theirs = [int(t) for t in simple([text], context_length)[0] if t != 0]
        if ours != theirs:
            raise SystemExit(f"tokenizer.json disagrees with open_clip on {text!r}:\n{ours}\n{theirs}")
    return tok, simple


def catalogue_classes():
    """Every species of the portal's catalogue, named as the catalogue names it, with prompts
    in BioCLIP's style (its taxonomic string) and plain ones."""
    classes, seen = [], set()
    with open(os.path.join(REPO, "src", "catalogue", "species.txt"), encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            fields = [x.strip() for x in line.split("|")]
            _, name, _, scientific, cls, order, family = fields[:7]
            if name.lower() in seen:
                continue
            seen.add(name.lower())
            # As the portal names a catalogue species' taxon (catalogue::Species::taxon).
            ranks = {"class": cls, "order": order, "family": family, "species": name}
            lineage = {rank: value for rank, value in ranks.items() if value}
            taxon = {"rank": "species", "name": name, "key": f"species:{name}", "lineage": lineage}
            binomial = re.fullmatch(r"[A-Z][a-z]+ [a-z-]+", scientific) is not None
            tax = " ".join([v for v in ("Animalia", "Arthropoda", cls, order, family) if v] + ([scientific] if binomial else []))
            prompts = [f"a photo of {tax} with common name {name}.", f"a photo of {name}, a type of {family}."]
            classes.append({"name": name, "taxon": taxon, "prompts": prompts})
    return classes


def load_model(args):
    import open_clip

    if args.model_config:
        open_clip.add_model_config(args.model_config)
        name = os.path.splitext(os.path.basename(args.model_config))[0]
    else:
        name = args.model
    if args.random_init is not None:
        torch.manual_seed(args.random_init)
        model = open_clip.create_model(name, pretrained=None)
    else:
        model = open_clip.create_model(name, pretrained=args.checkpoint)
    model.eval()
    return name, model


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    arch = ap.add_mutually_exclusive_group(required=True)
    arch.add_argument("--model", help="an open_clip architecture name, e.g. ViT-B-16 (BioCLIP)")
    arch.add_argument("--model-config", help="an open_clip JSON model config file")
    weights = ap.add_mutually_exclusive_group(required=True)
    weights.add_argument("--checkpoint", help="a local open_clip checkpoint file")
    weights.add_argument("--random-init", type=int, metavar="SEED", help="untrained weights (tests)")
    classes = ap.add_mutually_exclusive_group(required=True)
    classes.add_argument("--classes", help="JSON list of {name, taxon, prompts}")
    classes.add_argument("--catalogue", action="store_true", help="every species of the portal's catalogue")
    ap.add_argument("--no-negatives", action="store_true", help="leave out the 'no insect' prompt classes")
    ap.add_argument("--name", default="image-text")
    ap.add_argument("--version", default="1.0.0")
    ap.add_argument("--confident", type=float, default=0.7)
    ap.add_argument("--rollup", type=float, default=0.7)
    ap.add_argument("--arthropod-min", type=float, default=0.5)
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)

    name, model = load_model(args)
    cfg = model.visual.preprocess_cfg
    size = cfg["size"] if isinstance(cfg["size"], int) else cfg["size"][0]
    context_length = int(model.context_length)
    tok, simple = build_tokenizer(context_length)
    tok.save(os.path.join(args.out_dir, "tokenizer.json"))

    if args.catalogue:
        labels = catalogue_classes()
    else:
        with open(args.classes, encoding="utf-8") as f:
            labels = json.load(f)
    if not args.no_negatives:
        labels += [{"name": n, "taxon": None, "prompts": p} for n, p in NEGATIVES]
    labels = [{"index": i, "name": c["name"], "taxon": c.get("taxon"), "prompts": c["prompts"]} for i, c in enumerate(labels)]

    image, text = model.visual, TextEncoder(model)  # encode_image is visual()
    example_images = torch.zeros(2, 3, size, size)
    example_tokens = simple(["a photo of an insect.", "a leaf."], context_length)
    with torch.no_grad():
        image_ts = torch.jit.trace(image, example_images)
        text_ts = torch.jit.trace(text, example_tokens)
        # A trace records one run: prove it on other batch sizes before anyone relies on it.
        probe_images = torch.randn(3, 3, size, size)
        probe_tokens = simple(TOKENIZER_CHECKS[:3], context_length)
        for traced, eager, x in ((image_ts, image, probe_images), (text_ts, text, probe_tokens)):
            if not torch.allclose(traced(x), eager(x), atol=1e-4, rtol=1e-4):
                raise SystemExit("the traced encoder disagrees with open_clip on another batch size")
        embed_dim = int(text(example_tokens).shape[1])
    image_ts.save(os.path.join(args.out_dir, "image_encoder.pt"))
    text_ts.save(os.path.join(args.out_dir, "text_encoder.pt"))

    files = ["image_encoder.pt", "text_encoder.pt", "tokenizer.json"]
    manifest = {
        "format": 1,
        "kind": "image_text",
        "name": args.name,
        "version": args.version,
        "architecture": f"open_clip {name}",
        "description": f"Image–text model ({name}); classes are described by text prompts.",
        "input_size": size,
        "resize_shorter": size,
        "mean": [float(v) for v in cfg["mean"]],
        "std": [float(v) for v in cfg["std"]],
        "feature_dim": embed_dim,
        "files": {"model": "image_encoder.pt", "text_encoder": "text_encoder.pt", "tokenizer": "tokenizer.json"},
        "image_text": {
            "logit_scale": float(model.logit_scale.detach().exp()),
            "context_length": context_length,
            "embed_dim": embed_dim,
            "pad_id": 0,
            "languages": ["en"],
        },
        "sha256": {f: sha256(os.path.join(args.out_dir, f)) for f in files},
        "labels": labels,
        "thresholds": {"confident": args.confident, "rollup": args.rollup, "arthropod_min": args.arthropod_min},
    }
    with open(os.path.join(args.out_dir, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
    write_reference(args.out_dir, model, simple, labels, size, context_length)
    print(f"wrote image_text bundle {args.name} {args.version} ({len(labels)} classes) to {args.out_dir}")


def write_reference(out_dir, model, simple, labels, size, context_length):
    """open_clip's own answers (eager, not traced) for the Rust tests to match: token ids and
    unit embeddings of some texts, and the reference inputs' image embeddings and logits."""
    texts = TOKENIZER_CHECKS + [p for label in labels[:3] for p in label["prompts"]]
    with torch.no_grad():
        tokens = simple(texts, context_length)
        text_emb = torch.nn.functional.normalize(model.encode_text(tokens), dim=-1)
        prompts = [torch.nn.functional.normalize(model.encode_text(simple(c["prompts"], context_length)), dim=-1) for c in labels]
        classes = torch.nn.functional.normalize(torch.stack([p.mean(0) for p in prompts]), dim=-1)
        reference = {"texts": [], "images": {}}
        for i, t in enumerate(texts):
            ids = [int(v) for v in tokens[i]]
            reference["texts"].append({"text": t, "ids": ids, "embedding": [float(v) for v in text_emb[i]]})
        for key, x in reference_inputs(size).items():
            emb = torch.nn.functional.normalize(model.encode_image(x), dim=-1)
            logits = model.logit_scale.exp() * emb @ classes.T
            reference["images"][key] = {"embedding": [float(v) for v in emb[0]], "logits": [float(v) for v in logits[0]]}
    with open(os.path.join(out_dir, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(reference, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
