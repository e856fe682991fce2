#!/usr/bin/env python3
"""The cost-per-request table from the measurements `bench_cost.sh` collects.

Reads the JSON lines the API writes when `DOORSTEP_MEASURE_DYNAMODB` is set (one per
request: route template, method, status, duration, DynamoDB calls by operation, read and
write capacity units), takes the median per route over 2xx responses, and prices a
million requests of each route: Lambda arm64 at the function's `MemorySize` in
`template.yaml`, DynamoDB on-demand request units. Writes a Markdown table, the routes
of `openapi.json` that no 2xx response covered, and, given `--before`, the change per
route against an earlier run.

Usage: cost_table.py MEASUREMENTS.jsonl [--before EARLIER.jsonl] [--out TABLE.md]
"""

import argparse
import collections
import json
import re
import statistics
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# us-east-1 list prices (see BENCHMARKS.md for where they come from).
LAMBDA_ARM_GB_SECOND = 0.0000133334
LAMBDA_PER_MILLION_REQUESTS = 0.20
DYNAMODB_PER_MILLION_READ_UNITS = 0.125
DYNAMODB_PER_MILLION_WRITE_UNITS = 0.625

METHODS = ("get", "put", "post", "patch", "delete")


def load(path):
    with open(path) as lines:
        return [json.loads(line) for line in lines if line.strip()]


def operations():
    """Every (METHOD, path template) of openapi.json."""
    spec = json.loads((ROOT / "openapi.json").read_text())
    return sorted((method.upper(), path) for path, item in spec["paths"].items() for method in item if method in METHODS)


def watch_router():
    """[(path segments, {method or None: function})] from the workspace Cargo.toml."""
    table = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["metadata"]["lambda"]["watch"]["router"]
    routes = []
    for path, target in table.items():
        if isinstance(target, str):
            functions = {None: target}
        elif isinstance(target, dict):
            functions = {k.upper(): v for k, v in target.items()}
        else:
            functions = {entry["method"].upper() if entry.get("method") else None: entry["function"] for entry in target}
        routes.append((path.strip("/").split("/"), functions))
    return routes


def specificity(pattern, segments):
    """How well a route pattern matches the path's segments (None: it does not)."""
    score = []
    for i, part in enumerate(pattern):
        if part.startswith("{*"):
            return score + [0] if i < len(segments) else None
        if i >= len(segments):
            return None
        if part.startswith("{"):
            score.append(1)
        elif part == segments[i]:
            score.append(2)
        else:
            return None
    return score if len(pattern) == len(segments) else None


def function_of(routes, method, path):
    segments = path.strip("/").split("/")
    best = None
    for pattern, functions in routes:
        score = specificity(pattern, segments)
        if score is None:
            continue
        function = functions.get(method, functions.get(None))
        if function and (best is None or score > best[0]):
            best = (score, function)
    return best[1] if best else None


def memory_sizes():
    """MemorySize (MB) per function binary, from template.yaml (Globals otherwise)."""
    text = (ROOT / "template.yaml").read_text()
    default = int(re.search(r"^Globals:\n(?:  .*\n|\n)*?    MemorySize: (\d+)", text, re.M).group(1))
    sizes = {}
    for block in re.split(r"^  (?=\w+:\n    Type: )", text, flags=re.M):
        binary = re.search(r"^        Binary: (\S+)", block, re.M)
        if binary:
            size = re.search(r"^      MemorySize: (\d+)", block, re.M)
            sizes[binary.group(1)] = int(size.group(1)) if size else default
    return sizes, default


def summarize(lines):
    """Per (method, route): the medians over 2xx responses."""
    by_route = collections.defaultdict(list)
    for line in lines:
        if 200 <= line["status"] < 300:
            by_route[(line["method"], line["route"])].append(line)
    summary = {}
    for key, samples in by_route.items():
        shapes = collections.Counter(
            " ".join(f"{op}×{n}" for op, n in sorted(s["calls"].items())) or "none" for s in samples
        )
        summary[key] = {
            "n": len(samples),
            "calls": statistics.median(sum(s["calls"].values()) for s in samples),
            "shape": shapes.most_common(1)[0][0],
            "rcu": statistics.median(s["read_units"] for s in samples),
            "wcu": statistics.median(s["write_units"] for s in samples),
            "ms": statistics.median(s["duration_ms"] for s in samples),
            "failed": sum(sum(s.get("failed", {}).values()) for s in samples),
        }
    return summary


def price(row, memory_mb):
    lambda_cost = 1e6 * (memory_mb / 1024) * (row["ms"] / 1000) * LAMBDA_ARM_GB_SECOND + LAMBDA_PER_MILLION_REQUESTS
    dynamodb = row["rcu"] * DYNAMODB_PER_MILLION_READ_UNITS + row["wcu"] * DYNAMODB_PER_MILLION_WRITE_UNITS
    return lambda_cost, dynamodb


def number(value):
    return f"{value:g}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("measurements")
    parser.add_argument("--before")
    parser.add_argument("--out")
    args = parser.parse_args()

    lines = load(args.measurements)
    summary = summarize(lines)
    routes = watch_router()
    sizes, default_memory = memory_sizes()
    out = []
    rows = []
    for (method, route), row in summary.items():
        function = function_of(routes, method, route) or "?"
        memory = sizes.get(function, default_memory)
        lambda_cost, dynamodb = price(row, memory)
        rows.append((lambda_cost + dynamodb, dynamodb, method, route, function, memory, row, lambda_cost))
    rows.sort(key=lambda r: (-r[0], r[2], r[3]))

    out.append(f"{len(lines)} requests measured; {sum(r['n'] for r in summary.values())} with a 2xx status.\n")
    out.append(
        "| Route | Function (MB) | 2xx | Calls | DynamoDB calls (most common) | RCU | WCU | ms | Lambda $/M | DynamoDB $/M | Total $/M |"
    )
    out.append("|---|---|--:|--:|---|--:|--:|--:|--:|--:|--:|")
    for total, dynamodb, method, route, function, memory, row, lambda_cost in rows:
        out.append(
            f"| `{method} {route}` | {function} ({memory}) | {row['n']} | {number(row['calls'])} | {row['shape']} "
            f"| {number(row['rcu'])} | {number(row['wcu'])} | {row['ms']:.1f} | {lambda_cost:.2f} | {dynamodb:.2f} | {total:.2f} |"
        )

    by_dynamodb = sorted(rows, key=lambda r: (-r[1], r[2], r[3]))[:3]
    out.append("\nMost expensive in total: " + ", ".join(f"`{r[2]} {r[3]}` (${r[0]:.2f}/M)" for r in rows[:3]) + ".")
    out.append(
        "Most expensive in DynamoDB: " + ", ".join(f"`{r[2]} {r[3]}` (${r[1]:.2f}/M)" for r in by_dynamodb) + "."
    )

    covered = set(summary)
    missing = [f"`{m} {p}`" for m, p in operations() if (m, p) not in covered]
    out.append(f"\nRoutes of `openapi.json` no 2xx response covered ({len(missing)}): " + (", ".join(missing) or "none") + ".")
    extra = sorted(f"`{m} {r}`" for m, r in covered if (m, r) not in set(operations()))
    if extra:
        out.append(f"\nMeasured routes not in `openapi.json`: {', '.join(extra)}.")

    if args.before:
        before = summarize(load(args.before))
        out.append("\nBefore and after, routes whose medians changed:\n")
        out.append("| Route | Calls | RCU | WCU | DynamoDB $/M |")
        out.append("|---|---|---|---|---|")
        for key in sorted(set(before) & covered):
            b, a = before[key], summary[key]
            if (b["calls"], b["rcu"], b["wcu"]) == (a["calls"], a["rcu"], a["wcu"]):
                continue
            cost = lambda r: r["rcu"] * DYNAMODB_PER_MILLION_READ_UNITS + r["wcu"] * DYNAMODB_PER_MILLION_WRITE_UNITS
            out.append(
                f"| `{key[0]} {key[1]}` | {number(b['calls'])} → {number(a['calls'])} | {number(b['rcu'])} → {number(a['rcu'])} "
                f"| {number(b['wcu'])} → {number(a['wcu'])} | {cost(b):.2f} → {cost(a):.2f} |"
            )

    text = "\n".join(out) + "\n"
    if args.out:
        Path(args.out).write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
