"""Pieces every bundle export shares (export_default_model.py, export_int8.py): the backbone
module fine-tuning trains on, the reference inputs the Rust tests rebuild bit for bit, and the
files' digests the manifest records."""
import hashlib

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
