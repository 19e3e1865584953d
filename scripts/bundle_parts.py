"""Pieces every bundle export shares (export_default_model.py, export_int8.py): the backbone
module fine-tuning trains on, the reference inputs the Rust tests rebuild bit for bit, and the
files' digests the manifest records."""
import functools
import hashlib
import platform

import torch


class Features(torch.nn.Module):
    """Backbone up to global average pooling: the 1280-d vector a new head is trained on. Its
    parameter names (`net.…`) are the ones a bundle's features.pt carries."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        f = self.net.extract_features(x)
        return torch.flatten(torch.nn.functional.adaptive_avg_pool2d(f, 1), 1)

    def trunk(self, x, first_block: int):
        """The activations entering block `first_block` (eval mode: no drop-connect)."""
        n = self.net
        x = n._swish(n._bn0(n._conv_stem(x)))
        for block in n._blocks[:first_block]:
            x = block(x)
        return x

    def tail(self, x, first_block: int):
        """From the activations entering block `first_block` to the pooled features."""
        n = self.net
        for block in n._blocks[first_block:]:
            x = block(x)
        x = n._swish(n._bn1(n._conv_head(x)))
        return torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1)


# How many of the last blocks a fine-tune can train on cached activations: the traced backbone
# carries `trunk_last_B` (photo -> activations entering the last B blocks) and `tail_last_B`
# (those activations -> pooled features) for each B here, sharing the same parameters.
SPLIT_BLOCKS = range(1, 7)


def traced_features(net, example):
    """features.pt: the backbone traced with its forward and each split's trunk and tail."""
    features = Features(net).eval()
    blocks = len(net._blocks)
    methods = {"forward": example}
    with torch.no_grad():
        for b in SPLIT_BLOCKS:
            first = blocks - b
            setattr(features, f"trunk_last_{b}", functools.partial(features.trunk, first_block=first))
            setattr(features, f"tail_last_{b}", functools.partial(features.tail, first_block=first))
            methods[f"trunk_last_{b}"] = example
            methods[f"tail_last_{b}"] = features.trunk(example, first)
        # trace_module's own check re-traces a copy, which partials bound to this module defeat;
        # the split is checked here instead: trunk then tail equals forward.
        traced = torch.jit.trace_module(features, methods, check_trace=False)
        probe = torch.randn((2,) + tuple(example.shape[1:]), generator=torch.Generator().manual_seed(0))
        whole = traced.forward(probe)
        for b in SPLIT_BLOCKS:
            split = getattr(traced, f"tail_last_{b}")(getattr(traced, f"trunk_last_{b}")(probe))
            if not torch.allclose(split, whole, atol=1e-5):
                raise SystemExit(f"the traced split at the last {b} blocks differs from the whole backbone")
    return traced


def reference_inputs(size):
    """Deterministic inputs spanning the normalised range, reproducible in Rust without files
    (insectid::testing::reference_input)."""
    n = 3 * size * size
    ramp = torch.linspace(-1.0, 1.0, n).reshape(1, 3, size, size)
    wave = torch.sin(torch.arange(n, dtype=torch.float64) * 0.001).to(torch.float32).reshape(1, 3, size, size)
    return {"ramp": ramp, "sine": wave}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def has_vnni():
    """Whether this CPU adds u8*s8 products without saturating (AVX-512 VNNI, or not x86 at
    all): the same test the Rust engine makes to choose an int8 bundle's 8-bit or 7-bit file."""
    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686"):
        return True
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and " avx512_vnni" in line for line in f)
    except OSError:
        return False


def model_file(manifest):
    """The model file of a bundle this CPU computes exactly."""
    files = manifest["files"]
    if files.get("model_7bit") and not has_vnni():
        return files["model_7bit"]
    return files["model"]
