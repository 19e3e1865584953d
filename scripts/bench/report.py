#!/usr/bin/env python3
"""Summarises a bench.sh run and checks it against the speed targets: the Rust server with the
int8 bundle against the Python reference server with the fp32 model, and against its own
forward-pass limit; memory; where an identification's time goes."""
import json
import os
import re
import sys

out = sys.argv[1]
SERVERS = ("rust", "rust-int8", "python", "python-int8")


def load(name):
    return json.load(open(os.path.join(out, name)))


def forward_limit(name):
    forward = load(name)
    best = max(forward["batches"], key=lambda b: b["images_per_second"])
    print(f"forward-pass limit, {forward.get('precision', 'fp32')}: {best['images_per_second']:.1f} images/s "
          f"(batch {best['batch']}, {best.get('workers', 1)} passes at once on {best.get('threads', forward['threads'])} "
          f"threads each, {forward['device']})")
    for b in forward["batches"]:
        print(f"  {b.get('workers', 1)} × {b.get('threads', forward['threads'])} threads, batch {b['batch']:>2}: "
              f"{b['images_per_second']:.1f} images/s, median pass {b['median_pass_ms']:.1f} ms")
    return best["images_per_second"]


limit32, limit8 = forward_limit("forward.json"), forward_limit("forward-int8.json")
print(f"int8 / fp32 forward limit: {limit8 / limit32:.2f}x")

runs = {(s, c): load(f"{s}-{c}.json") for s in SERVERS for c in (1, 4, 16)}
rate = {k: r["requests"] / r["seconds"] for k, r in runs.items()}
print("\nidentifications/s (p50 / p99 ms)")
print(f"{'clients':>7}" + "".join(f"{s:>24}" for s in SERVERS))
for c in (1, 4, 16):
    cells = "".join(f"{rate[s, c]:>9.1f} ({runs[s, c]['p50_ms']:>5.0f} /{runs[s, c]['p99_ms']:>5.0f})" for s in SERVERS)
    print(f"{c:>7}{cells}")

print("\nmemory (MB): resident at idle, peak after the runs")
for s in SERVERS:
    idle, loaded = load(f"{s}-memory-idle.json"), load(f"{s}-memory-loaded.json")
    print(f"  {s:<12} {idle['rss_kb'] / 1024:>7.0f} {loaded['peak_kb'] / 1024:>7.0f}")


def scrape(path):
    series = {}
    for line in open(path) if os.path.exists(path) else []:
        m = re.match(r'^(insectid_[a-z_]+?)(_sum|_count)(\{[^}]*\})? ([0-9.e+-]+)$', line.strip())
        if m:
            series[(m.group(1) + m.group(2), m.group(3) or "")] = float(m.group(4))
    return series


def breakdown(server):
    before, after = scrape(os.path.join(out, f"{server}-metrics-before.txt")), scrape(os.path.join(out, f"{server}-metrics-after.txt"))
    if not after:
        print(f"\n{server}: no /metrics read (INSECTID_METRICS_BIND set?), no breakdown")
        return
    diff = {k: v - before.get(k, 0.0) for k, v in after.items()}
    calls = sum(v for (n, labels), v in diff.items() if n == "insectid_http_request_duration_seconds_count" and "identify" in labels)
    total = sum(v for (n, labels), v in diff.items() if n == "insectid_http_request_duration_seconds_sum" and "identify" in labels)
    if not calls:
        return
    print(f"\nwhere a request's time goes, {server}, 16 clients (mean ms per identification; "
          f"stages overlap across requests, the HTTP total is wall time per request)")
    print(f"  {'HTTP request, total':<36}{total / calls * 1000:>8.2f}")
    for (n, labels), v in sorted(diff.items()):
        if n == "insectid_identify_stage_seconds_sum":
            count = diff.get(("insectid_identify_stage_seconds_count", labels), 0)
            stage = re.search(r'stage="([^"]+)"', labels).group(1)
            if count:
                print(f"  {stage:<36}{v / count * 1000:>8.2f}")
    images = diff.get(("insectid_batch_size_sum", ""), 0)
    passes = diff.get(("insectid_batch_size_count", ""), 0)
    forward = diff.get(("insectid_forward_seconds_sum", ""), 0)
    if images and passes:
        print(f"  {'forward pass per photo':<36}{forward / images * 1000:>8.2f}   (mean batch {images / passes:.1f})")


breakdown("rust")
breakdown("rust-int8")


def cpu(server):
    """Where the machine's CPU went during the 16-client run, in ms of CPU per identification."""
    path = os.path.join(out, f"{server}-cpu-before.json")
    if not os.path.exists(path):
        return
    before, after = load(f"{server}-cpu-before.json"), load(f"{server}-cpu-after.json")
    done = runs[server, 16]["requests"]
    if not done:
        return
    busy = after["machine"]["busy_s"] - before["machine"]["busy_s"]
    idle = after["machine"]["idle_s"] - before["machine"]["idle_s"]
    process = after["process_s"] - before["process_s"]
    per = lambda s: s / done * 1000
    print(f"\nwhere the CPU goes, {server}, 16 clients (ms of CPU per identification; "
          f"{after['cores']} cores busy {busy / (busy + idle) * 100:.0f} %)")
    named = 0.0
    for name, end in sorted(after["threads"].items(), key=lambda kv: -kv[1]):
        used = end - before["threads"].get(name, 0.0)
        named += used
        if per(used) >= 0.05:
            print(f"  server thread {name:<22}{per(used):>8.2f}")
    print(f"  server threads that ended meanwhile  {per(max(process - named, 0.0)):>7.2f}")
    print(f"  outside the server (load generator)  {per(busy - process):>7.2f}")
    print(f"  idle                                 {per(idle):>7.2f}")
    steal = after["machine"].get("steal_s", 0.0) - before["machine"].get("steal_s", 0.0)
    if steal > 0.01 * (busy + idle):
        print(f"  taken by the VM's host (steal)       {per(steal):>7.2f}   (figures of this run are disturbed)")
    forward = after["threads"].get("inference", 0.0) - before["threads"].get("inference", 0.0)
    if forward:
        rest = busy - forward
        print(f"  ceiling at these costs: {after['cores']} cores / ({per(forward):.2f} forward + {per(rest):.2f} "
              f"everything else) = {after['cores'] * 1000 / (per(forward) + per(rest)):.0f} identifications/s")


for server in SERVERS:
    cpu(server)

def ratio(a, b):
    return a / b if b else float("inf")


r16 = runs["rust-int8", 16]
checks = [
    ("Rust int8 >= 2x Python fp32 (4 clients)", ratio(rate["rust-int8", 4], rate["python", 4]), 2.0),
    ("Rust int8 >= 2x Python fp32 (16 clients)", ratio(rate["rust-int8", 16], rate["python", 16]), 2.0),
    ("Rust int8 >= 90 % of its forward limit (16 clients)", ratio(rate["rust-int8", 16], limit8), 0.9),
]
print()
for name, value, target in checks:
    print(f"{'PASS' if value >= target else 'MISS'}  {name}: {value:.2f} (target {target})")
tail = ratio(r16["p99_ms"], r16["p50_ms"])
print(f"{'PASS' if tail < 3 else 'MISS'}  Rust int8 p99 < 3x p50 (16 clients): {tail:.2f}")
errors = sum(r["errors"] for r in runs.values())
print(f"{'PASS' if errors == 0 else 'MISS'}  no errors: {errors}")
print(f"for fairness, Python with the int8 file: {rate['python-int8', 16]:.1f}/s at 16 clients "
      f"(Rust int8 / Python int8: {ratio(rate['rust-int8', 16], rate['python-int8', 16]):.2f}x)")
