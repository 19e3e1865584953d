"""The load report: reads the runs' summaries (written by the goose binary) and writes
report.md beside them; exits 1 when a target is missed.

Usage: report.py OUT_DIR SSR_TARGET_RPS
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
    if "saturation" in runs and "mixed" in runs:
        sat, mixed = runs["saturation"]["requests_per_second"], runs["mixed"]
        aimed = 0.8 * sat
        checks.append(("mixed run held 80 % of saturation (±10 %)", abs(mixed["requests_per_second"] - aimed) <= 0.1 * aimed,
                       f"{mixed['requests_per_second']:.1f} requests/s against {aimed:.1f} aimed ({sat:.1f} at saturation)"))
        checks.append((f"mixed run of {mixed['seconds']} s without errors", errors(mixed) == 0,
                       f"{errors(mixed)} errors in {mixed['requests']} requests"))
    server_errors = (out / "server-errors.txt").read_text().splitlines() if (out / "server-errors.txt").exists() else []
    checks.append(("no error in the server's log", not server_errors, f"{len(server_errors)} ERROR lines"))
    md = ["# Load test report", "", context.strip(), "", "## Targets", "", "| target | met | measured |", "|---|---|---|"]
    md += [f"| {what} | {'yes' if ok else '**NO**'} | {measured} |" for what, ok, measured in checks]
    titles = {"ssr": "SSR throughput (anonymous species pages, unthrottled)",
              "probe": "Mixed plan, each person as fast as they can (unthrottled probe)",
              "saturation": "Mixed plan at saturation (throttled at the probe's rate: every person takes turns, so the mix is the one the 80 % run has)",
              "mixed": "Mixed plan at 80 % of saturation"}
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
    sys.exit(main())
