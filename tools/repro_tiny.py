#!/usr/bin/env python3
"""Regenerates analysis/tests/data/repro_tiny: the report tests' fixture.

Every scenario of scenarios/whitepaper/ is shrunk (a few clients, a few
minutes or days, one replicate), run through `p2psim repro`, and only the
datasets the report reads are kept. Run from the checkout after
`cargo build --release`; needs PyYAML. Commit the result with the change
that needed it, and say so in the commit message.

    python3 tools/repro_tiny.py
"""

import pathlib
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "analysis/tests/data/repro_tiny"
# What the report reads; everything else (checkpoints, correlation pairs,
# figures, the report itself) is dropped to keep the fixture small.
KEEP = {
    "manifest.json", "summary.json", "points.parquet", "sessions.parquet",
    "roc.parquet", "visibility.json", "market.json", "ghost_days.parquet",
    "market_days.parquet", "jobs.parquet",
}


def shrink(doc: dict) -> dict:
    doc.pop("quick", None)
    doc["replications"] = 1
    if "market" in doc:
        m = doc["market"]
        m["days"] = min(m.get("days", 6), 6)
        if "clients" in m:
            m["clients"] = min(m["clients"], 200)
        return doc
    pop, work = doc["population"], doc["workload"]
    tagging = "key_tagging" in doc.get("adversary", {})
    pop["clients"] = min(pop["clients"], 30 if tagging else 8)
    if doc["name"] == "link_probability_load":
        pop["clients"] = 60
    work["duration_s"] = min(work["duration_s"], 60 if tagging else 200)
    if "audit_sessions" in work:
        work["audit_sessions"] = min(work["audit_sessions"], 4)
    return doc


def main() -> int:
    binary = ROOT / "target/release/p2psim"
    if not binary.exists():
        print("build first: cargo build --release", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        scen = pathlib.Path(tmp) / "scenarios"
        scen.mkdir()
        for f in sorted((ROOT / "scenarios/whitepaper").glob("*.yaml")):
            doc = shrink(yaml.safe_load(f.read_text()))
            (scen / f.name).write_text(yaml.safe_dump(doc, sort_keys=False))
        out = pathlib.Path(tmp) / "out"
        subprocess.run([str(binary), "repro", "--scenarios", str(scen), "--out", str(out)],
                       check=True)
        if OUT.exists():
            shutil.rmtree(OUT)
        OUT.mkdir(parents=True)
        shutil.copy(out / "repro.json", OUT / "repro.json")
        for d in sorted(p for p in out.iterdir() if p.is_dir() and p.name != "figures"):
            (OUT / d.name).mkdir()
            for f in d.iterdir():
                if f.name in KEEP:
                    shutil.copy(f, OUT / d.name / f.name)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
