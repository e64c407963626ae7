"""Peak heap by component from a heaptrack profile of p2psim (issue 21).

    heaptrack -o prof ./p2psim-glibc run scenario.yaml --out out --force
    heaptrack_print -f prof.zst --flamegraph-cost-type peak -F stacks.txt
    python3 tools/heap/breakdown.py stacks.txt NODES

p2psim's own build allocates with mimalloc, which heaptrack does not see:
profile a build without the `#[global_allocator]` line (see
tools/heap/README.md). Each stack is charged to the first component whose
marker appears in it, innermost frame first; the rest is `other`.
"""
import re
import sys
from collections import Counter

# (component, markers): a marker "function (file)" matches that frame
# exactly; a marker "(file" matches any frame in that file.
COMPONENTS = [
    ("directory (adverts read)", ["on_lookup (directory.rs)"]),
    ("DHT lookups (candidates, adverts gathered)", ["(lookup.rs)"]),
    ("DHT queries sent (RPC state, request bytes)", ["request (node.rs)"]),
    ("DHT answers built and adverts stored", ["on_request (node.rs)", "publish (node.rs)"]),
    ("DHT routing table", ["(table.rs)"]),
    ("DHT messages encoded (in flight)", ["(wire.rs)", "(advert.rs)"]),
    ("onion circuits and cells", ["(relay.rs)", "(client.rs)", "(circuit.rs)", "(cell.rs)", "(surb.rs)"]),
    ("ecash: wallets and mints", ["(wallet", "(mint", "(nuts.rs)", "(keyset.rs)"]),
    ("event queue and in-flight packets", ["(engine.rs)", "(queue.rs)", "(calendar.rs)", "(window.rs)", "run_until (world.rs)"]),
    ("hosts (per-host network state, nodes)", ["(population.rs)", "new (world.rs)"]),
    ("records", ["(record.rs)", "(sessions.rs)", "(scoring.rs)"]),
]


def component(frames):
    for frame in reversed(frames):
        for name, markers in COMPONENTS:
            if any(frame.strip() == m if m[0] != "(" else m in frame for m in markers):
                return name
    return "other"


def main(path, nodes):
    by = Counter()
    for line in open(path, encoding="utf-8"):
        stack, _, cost = line.rstrip("\n").rpartition(" ")
        by[component(stack.split(";"))] += int(cost)
    total = sum(by.values())
    print(f"{'component':48} {'MB':>8} {'KB/node':>8} {'share':>6}")
    for name, b in by.most_common():
        print(f"{name:48} {b / 1e6:8.1f} {b / 1e3 / nodes:8.1f} {b / total:6.1%}")
    print(f"{'total at the peak':48} {total / 1e6:8.1f} {total / 1e3 / nodes:8.1f}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], int(sys.argv[2]))
