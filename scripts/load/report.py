"""The load report: reads the runs' summaries (written by the goose binary) and writes
report.md beside them; exits 1 when a target is missed.

Usage: report.py OUT_DIR SSR_TARGET_RPS
       report.py plan SATURATION_JSON SHARE    one line per scenario: name, users, requests/s
                                               (SHARE of the scenario's rate at saturation)
       report.py merge OUT_DIR NAME PLAN_FILE  NAME.json from NAME-<scenario>.json, one per
                                               line of PLAN_FILE (the plan's output)
"""
import json
import pathlib
import sys


def table(lines):
    rows = ["| scenario | name | count | errors | per s | p50 ms | p95 ms | p99 ms | max ms | cut by the end |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for l in lines:
        rows.append(f"| {l['scenario']} | {l['name']} | {l['count']} | {l['failures']} | {l['per_second']:.1f} | "
                    f"{l['p50_ms']:.1f} | {l['p95_ms']:.1f} | {l['p99_ms']:.1f} | {l['max_ms']:.1f} | {l['cut_by_end']} |")
    return "\n".join(rows)


def errors(run):
    """Failed requests, and transaction errors no request failure explains."""
    return run["request_failures"] + sum(l["failures"] for l in run["transactions"])


# Requests a scenario makes beyond one per transaction: the label transaction's second request
# (the label itself, sent when the queue had a photo).
EXTRA_REQUESTS = {"POST /api/label_photo": "label"}


def scenario_requests(run):
    """Requests each scenario made: one per transaction, plus EXTRA_REQUESTS."""
    made = {}
    for t in run["transactions"]:
        made[t["scenario"]] = made.get(t["scenario"], 0) + t["count"]
    for l in run["request_lines"]:
        if l["name"] in EXTRA_REQUESTS:
            made[EXTRA_REQUESTS[l["name"]]] = made.get(EXTRA_REQUESTS[l["name"]], 0) + l["count"]
    return made


def plan(saturation_json, share):
    """The 80 % run keeps the saturation run's mix: each scenario runs in its own goose process
    with the same people, paced at SHARE of the rate that scenario reached at saturation.
    (One pace for all would change the mix: the slower it is, the more turns the slow
    scenarios get, so a mix heavier than the saturation run's would be measured against it.)"""
    run = json.loads(pathlib.Path(saturation_json).read_text())
    made = scenario_requests(run)
    for s in run["scenarios"]:
        rate = made.get(s["name"], 0) / max(run["seconds"], 1)
        print(s["name"], s["users"], max(1, round(rate * share)))


def merge(out, name, plan_file):
    lines = [l.split() for l in pathlib.Path(plan_file).read_text().splitlines() if l.strip()]
    parts = [(scenario, json.loads((out / f"{name}-{scenario}.json").read_text()), int(aimed)) for scenario, _, aimed in lines]
    merged = {
        "seconds": max(p["seconds"] for _, p, _ in parts),
        "users": sum(p["users"] for _, p, _ in parts),
        "scenarios": [s for _, p, _ in parts for s in p["scenarios"]],
        "requests": sum(p["requests"] for _, p, _ in parts),
        "request_failures": sum(p["request_failures"] for _, p, _ in parts),
        "requests_per_second": sum(p["requests_per_second"] for _, p, _ in parts),
        "transactions": [t for _, p, _ in parts for t in p["transactions"]],
        # Each process's requests under its scenario's name (several scenarios sign in).
        "request_lines": [dict(l, scenario=scenario) for scenario, p, _ in parts for l in p["request_lines"]],
        "errors": [f"{scenario}: {e}" for scenario, p, _ in parts for e in p["errors"]],
        "aimed": {scenario: aimed for scenario, _, aimed in parts},
        "achieved": {scenario: p["requests_per_second"] for scenario, p, _ in parts},
    }
    (out / f"{name}.json").write_text(json.dumps(merged, indent=2))


def main():
    out, ssr_target = pathlib.Path(sys.argv[1]), float(sys.argv[2])
    runs = {name: json.loads((out / f"{name}.json").read_text()) for name in ("ssr", "probe", "saturation", "mixed")
            if (out / f"{name}.json").exists()}
    context = (out / "context.txt").read_text() if (out / "context.txt").exists() else ""
    checks = []
    if "ssr" in runs:
        rps = runs["ssr"]["requests_per_second"]
        checks.append((f"SSR species pages ≥ {ssr_target:,.0f} requests/s", rps >= ssr_target, f"{rps:,.0f} requests/s"))
        checks.append(("SSR run without errors", errors(runs["ssr"]) == 0, f"{errors(runs['ssr'])} errors"))
    mix = []
    if "saturation" in runs and "mixed" in runs:
        sat, mixed = runs["saturation"]["requests_per_second"], runs["mixed"]
        aimed = sum(mixed.get("aimed", {}).values()) or 0.8 * sat
        checks.append(("mixed run held 80 % of saturation (±10 %)", abs(mixed["requests_per_second"] - aimed) <= 0.1 * aimed,
                       f"{mixed['requests_per_second']:.1f} requests/s against {aimed:.1f} aimed ({sat:.1f} at saturation)"))
        made = scenario_requests(runs["saturation"])
        seconds = max(runs["saturation"]["seconds"], 1)
        mix = ["", "## The mix at saturation and in the 80 % run", "",
               "| scenario | people | requests/s at saturation | aimed | reached |", "|---|---:|---:|---:|---:|"]
        for s in runs["saturation"]["scenarios"]:
            name = s["name"]
            mix.append(f"| {name} | {s['users']} | {made.get(name, 0) / seconds:.1f} | {mixed.get('aimed', {}).get(name, 0)} | "
                       f"{mixed.get('achieved', {}).get(name, 0):.1f} |")
        checks.append((f"mixed run of {mixed['seconds']} s without errors", errors(mixed) == 0,
                       f"{errors(mixed)} errors in {mixed['requests']} requests"))
    server_errors = (out / "server-errors.txt").read_text().splitlines() if (out / "server-errors.txt").exists() else []
    checks.append(("no error in the server's log", not server_errors, f"{len(server_errors)} ERROR lines"))
    md = ["# Load test report", "", context.strip(), "", "## Targets", "", "| target | met | measured |", "|---|---|---|"]
    md += [f"| {what} | {'yes' if ok else '**NO**'} | {measured} |" for what, ok, measured in checks]
    md += mix
    titles = {"ssr": "SSR throughput (anonymous species pages, unthrottled)",
              "probe": "Mixed plan, each person as fast as they can (unthrottled probe)",
              "saturation": "Mixed plan at saturation (paced at the probe's rate: every person takes turns)",
              "mixed": "Mixed plan at 80 % of saturation (each scenario in its own process, paced at 80 % of its rate at saturation)"}
    for name, run in runs.items():
        md += ["", f"## {titles[name]}", "",
               f"{run['seconds']} s, {run['users']} users, {run['requests']} requests, "
               f"{run['requests_per_second']:.1f} requests/s, {run['request_failures']} failed requests. "
               "*Cut by the end*: transactions the end of the run interrupted (goose counts them as failed; no error).", "",
               "### Transactions", "", table(run["transactions"]), "", "### Requests", "", table(run["request_lines"])]
        if run["errors"]:
            md += ["", "### Errors", ""] + [f"- {e}" for e in run["errors"]]
    if server_errors:
        md += ["", "## Server log errors (first 20)", "", "```"] + server_errors[:20] + ["```"]
    (out / "report.md").write_text("\n".join(md) + "\n")
    for what, ok, measured in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {what}: {measured}")
    print(f"report: {out / 'report.md'}")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["plan"]:
        plan(sys.argv[2], float(sys.argv[3]))
    elif sys.argv[1:2] == ["merge"]:
        merge(pathlib.Path(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        sys.exit(main())
