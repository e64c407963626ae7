"""Checks deploy/k8s: every manifest validates strictly against the
Kubernetes schema (kubernetes-validate, pinned in .ci/requirements-k8s.txt),
and the shard Job's SHARDS equals its completions, since pod I runs
`--shard I/SHARDS`."""
import subprocess
import sys
from pathlib import Path

import yaml

manifests = sorted(Path("deploy/k8s").glob("*.yaml"))
subprocess.run(
    [sys.executable, "-m", "kubernetes_validate", "--strict", *map(str, manifests)],
    check=True,
)
jobs = [d for m in manifests for d in yaml.safe_load_all(m.read_text()) if d]
shards = next(d for d in jobs if d["metadata"]["name"] == "p2psim-shards")
spec = shards["spec"]
env = {e["name"]: e["value"] for e in spec["template"]["spec"]["containers"][0]["env"]}
assert spec["completionMode"] == "Indexed", spec
assert int(env["SHARDS"]) == spec["completions"], (env, spec["completions"])
print(f"k8s: {len(manifests)} manifests valid; {spec['completions']} indexed shards")
