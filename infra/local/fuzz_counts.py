"""Prints what a fuzz run covered, from the NDJSON report Schemathesis wrote: requests
sent, operations reached, test cases per phase, checks run and failed, status codes
answered. Run by fuzz.sh.

Usage: fuzz_counts.py REPORT_DIR
"""

import collections
import glob
import json
import sys

(path,) = sorted(glob.glob(f"{sys.argv[1]}/ndjson-*.ndjson"))[-1:]
cases, requests, operations = collections.Counter(), 0, set()
checks, failed, statuses = collections.Counter(), collections.Counter(), collections.Counter()
for line in open(path, encoding="utf-8"):
    event = json.loads(line)
    finished = event.get("ScenarioFinished")
    if not finished or not finished["recorder"].get("cases"):
        continue
    recorder = finished["recorder"]
    for case in recorder["cases"].values():
        value = case["value"]
        operations.add(f"{value['method'].upper()} {value['path']}")
        cases[value["meta"]["phase"]["name"]] += 1
    for interaction in recorder.get("interactions", {}).values():
        requests += 1
        if interaction.get("response"):
            statuses[interaction["response"]["status_code"]] += 1
    for results in recorder.get("checks", {}).values():
        for result in results:
            checks[result["name"]] += 1
            if result["status"] == "failure":
                failed[result["name"]] += 1

document = json.load(open("openapi.json", encoding="utf-8"))
documented = {f"{m.upper()} {p}" for p, item in document["paths"].items() for m in item if m in ("get", "put", "post", "patch", "delete")}
print(f"fuzz: {sum(cases.values())} test cases ({', '.join(f'{n} {p}' for p, n in sorted(cases.items()))}), {requests} requests")
print(f"fuzz: {len(operations & documented)}/{len(documented)} operations covered")
missing = sorted(documented - operations)
if missing:
    print(f"fuzz: not reached: {', '.join(missing)}")
print(f"fuzz: {sum(checks.values())} checks run, {sum(failed.values())} failed: "
      + ", ".join(f"{name} {n}" + (f" ({failed[name]} failed)" if failed[name] else "") for name, n in sorted(checks.items())))
print(f"fuzz: statuses answered: {', '.join(f'{s} x{n}' for s, n in sorted(statuses.items()))}")
