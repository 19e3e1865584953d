"""Pieces every bundle export shares (export_default_model.py, export_int8.py): the backbone
module fine-tuning trains on, the reference inputs the Rust tests rebuild bit for bit, and the
files' digests the manifest records."""
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
