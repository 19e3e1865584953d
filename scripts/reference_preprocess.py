"""The Python mirror of the Rust preprocessing (src/inference/preprocess.rs), step for step.

Used for the reference fixtures the Rust tests compare against and by the reference benchmark
server. Keep the two in lock-step: orientation, white background for transparency, centred
square of input_size/resize_shorter of the shorter side, torch's antialiased bilinear resize,
(x - mean) / std.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps


def crop_box(width, height, input_size, resize_shorter):
    shorter = min(width, height)
    side = min(max(int(math.floor(shorter * input_size / resize_shorter + 0.5)), 1), shorter)
    x, y = (width - side) // 2, (height - side) // 2
    return x, y, side


def square_rgb(img: Image.Image, input_size: int, resize_shorter: int) -> np.ndarray:
    img = ImageOps.exif_transpose(img)
    x, y, side = crop_box(img.width, img.height, input_size, resize_shorter)
    sq = img.crop((x, y, x + side, y + side))
    if sq.mode in ("RGBA", "LA", "PA") or (sq.mode == "P" and "transparency" in sq.info):
        rgba = np.asarray(sq.convert("RGBA")).astype(np.float32) / np.float32(255.0)
        a = rgba[..., 3:4]
        mixed = (rgba[..., :3] * a + (np.float32(1.0) - a)) * np.float32(255.0)
        return np.clip(np.floor(mixed + np.float32(0.5)), 0, 255).astype(np.uint8)
    return np.asarray(sq.convert("RGB"))


def to_input(rgb: np.ndarray, input_size: int, mean, std) -> torch.Tensor:
    t = torch.from_numpy(np.array(rgb, copy=True)).permute(2, 0, 1).float().unsqueeze(0) / 255.0
    t = F.interpolate(t, size=(input_size, input_size), mode="bilinear", align_corners=False, antialias=True)
    m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return (t - m) / s


def preprocess(img: Image.Image, manifest) -> torch.Tensor:
    """PIL image → [1, 3, S, S] model input, as the Rust server computes it."""
    size, shorter = manifest["input_size"], manifest["resize_shorter"]
    if img.format == "JPEG" and min(img.size) > shorter:
        # Reduced-scale DCT decoding, as the Rust side does for large JPEGs.
        img.draft("RGB", (img.width * shorter // min(img.size), img.height * shorter // min(img.size)))
    return to_input(square_rgb(img, size, shorter), size, manifest["mean"], manifest["std"])
