#!/usr/bin/env bash
# Submits a p2psim sweep as a Slurm job array of N shards and a merge job
# that runs once every shard has succeeded; prints the merge job's id.
#
#   deploy/slurm/submit.sh SCENARIO OUT N [sbatch options for both jobs...]
#
# P2PSIM names the binary (default: p2psim on PATH); SEED sets the master
# seed. OUT must be on storage every node sees. The results land in
# OUT/merged; each job's log is in the folder sbatch ran from.
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 SCENARIO OUT N [sbatch options...]" >&2
  exit 2
fi
scenario="$(realpath "$1")" out="$(realpath -m "$2")" n="$3"
shift 3
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$out"
export SCENARIO="$scenario" OUT="$out"
array=$(sbatch --parsable --array="0-$((n - 1))" --export=ALL "$@" "$here/p2psim-shard.sbatch")
array="${array%%;*}"
sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes \
  --export=ALL "$@" "$here/p2psim-merge.sbatch"
