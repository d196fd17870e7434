"""A pytest JUnit XML report as JSON (scripts/gpu_check.sh keeps its results as JSON):
each test's name, outcome (passed, failure, error, skipped), seconds and message, and counts.

    python scripts/junit_json.py REPORT.xml > REPORT.json
"""

import json
import sys
import xml.etree.ElementTree as ElementTree

OUTCOMES = ("failure", "error", "skipped")


def cases(path: str) -> list[dict]:
    found = []
    for case in ElementTree.parse(path).iter("testcase"):
        marks = [child for child in case if child.tag in OUTCOMES]
        found.append({"test": case.get("name"), "outcome": marks[0].tag if marks else "passed",
                      "seconds": float(case.get("time") or 0),
                      "message": (marks[0].get("message") or "")[:1000] if marks else ""})
    return found


if __name__ == "__main__":
    tests = cases(sys.argv[1])
    counts = {outcome: sum(t["outcome"] == outcome for t in tests) for outcome in ("passed", *OUTCOMES)}
    print(json.dumps({"counts": counts, "tests": tests}, indent=1))
