#!/usr/bin/env python3
"""Summarises a bench.sh run and checks it against the targets of the identification engine."""
import json
import os
import sys

out = sys.argv[1]
forward = json.load(open(os.path.join(out, "forward.json")))
limit = max(b["images_per_second"] for b in forward["batches"])
best_batch = max(forward["batches"], key=lambda b: b["images_per_second"])["batch"]
print(f"forward-pass limit: {limit:.1f} images/s (batch {best_batch}, {forward['device']}, {forward['threads']} threads)")
for b in forward["batches"]:
    print(f"  batch {b['batch']:>2}: {b['images_per_second']:.1f} images/s, median pass {b['median_pass_ms']:.1f} ms")

if "preprocess_12mp_jpeg_ms" in forward:
    print(f"preprocessing a 12 MP JPEG (DCT-scaled decode): {forward['preprocess_12mp_jpeg_ms']:.1f} ms")

rows = {}
print(f"\n{'clients':>7} {'rust req/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'python req/s':>13} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6}")
for c in (1, 4, 16):
    r = json.load(open(os.path.join(out, f"rust-{c}.json")))
    p = json.load(open(os.path.join(out, f"python-{c}.json")))
    rr, pr = r["requests"] / r["seconds"], p["requests"] / p["seconds"]
    rows[c] = (r, p, rr, pr)
    print(f"{c:>7} {rr:>11.1f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {pr:>13.1f} {p['p50_ms']:>8.1f} {p['p99_ms']:>8.1f} {rr / pr:>6.2f}")
    if r["errors"] or p["errors"]:
        print(f"        errors: rust {r['errors']}, python {p['errors']}")

r16, p16, rr16, pr16 = rows[16]
checks = [
    ("end-to-end >= 2x the Python server (16 clients)", rr16 / pr16, 2.0, rr16 / pr16 >= 2.0),
    ("end-to-end >= 90 % of the forward-pass limit", rr16 / limit, 0.9, rr16 / limit >= 0.9),
    ("p99 < 3x p50 at 16 clients", r16["p99_ms"] / r16["p50_ms"], 3.0, r16["p99_ms"] < 3 * r16["p50_ms"]),
    ("no errors", r16["errors"], 0, all(rows[c][0]["errors"] == 0 for c in rows)),
]
print()
for name, value, target, ok in checks:
    print(f"{'PASS' if ok else 'MISS'}  {name}: {value:.2f} (target {target})")
