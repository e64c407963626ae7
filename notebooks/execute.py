"""Execute notebooks headless; any cell that raises fails the run.

Usage: python execute.py REPRO_DIR NOTEBOOK...
The notebooks read the repro folder from the P2P_REPRO environment variable.
Executed copies are written next to REPRO_DIR (the sources stay clean).
"""
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def main() -> int:
    repro = Path(sys.argv[1]).resolve()
    os.environ["P2P_REPRO"] = str(repro)
    for path in map(Path, sys.argv[2:]):
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=900, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        out = repro / "notebooks" / path.name
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out)
        print(f"executed {path} -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
