#!/usr/bin/env bash
# The Slurm path for real (issue 21, item 4): installs Debian's slurm-wlm
# when missing, starts munged, slurmctld and slurmd on localhost with a
# generated one-node config, submits a scenario with deploy/slurm/submit.sh
# as an array of 3 shards plus the merge job, and compares the merged
# folder byte for byte with a single-machine run.
#
#   .ci/slurm-local.sh P2PSIM SCENARIO   (as root; CI runs it)
set -euo pipefail
p2psim="$(realpath "$1")" scenario="$(realpath "$2")"
repo="$(cd "$(dirname "$0")/.." && pwd)"
if ! command -v slurmctld >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm >/dev/null
fi
work="$(mktemp -d)"
conf="$work/slurm.conf"
mkdir -p "$work/state" "$work/spool" "$work/logs"

# munge authenticates slurm's messages, as on a real cluster.
if [ ! -s /etc/munge/munge.key ]; then mungekey --create --force; fi
mkdir -p /run/munge && chown munge:munge /run/munge
runuser -u munge -- munged --force

cpus=$(nproc)
mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
cat >"$conf" <<CONF
ClusterName=p2psim-ci
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/logs/slurmctld.log
SlurmdLogFile=$work/logs/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
SchedulerParameters=defer_batch
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=ci Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$conf"
stop() {
  scancel --quiet --user=root 2>/dev/null || true
  for pidfile in "$work/slurmd.pid" "$work/slurmctld.pid"; do
    [ -s "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  pkill -x munged 2>/dev/null || true
}
logs() {
  echo "--- slurmctld.log"; tail -n 30 "$work/logs/slurmctld.log" 2>/dev/null || true
  echo "--- slurmd.log"; tail -n 30 "$work/logs/slurmd.log" 2>/dev/null || true
  for f in "$work"/jobs/*.out; do [ -e "$f" ] && { echo "--- $f"; cat "$f"; }; done
}
trap 'status=$?; [ $status -ne 0 ] && logs; stop; exit $status' EXIT
slurmctld -i
slurmd -N localhost
for _ in $(seq 60); do
  sinfo -h -N -o '%T' 2>/dev/null | grep -qx idle && break
  sleep 1
done
sinfo -N

# The array and the merge, as a user submits them; sbatch runs in $work/jobs.
mkdir -p "$work/jobs"
cd "$work/jobs"
merge_job=$(P2PSIM="$p2psim" "$repo/deploy/slurm/submit.sh" "$scenario" "$work/out" 3 --cpus-per-task=1)
echo "submitted the array and merge job $merge_job"
for _ in $(seq 900); do
  [ -z "$(squeue -h)" ] && break
  sleep 1
done
if [ -n "$(squeue -h)" ]; then
  squeue
  echo "slurm jobs still running after 15 minutes" >&2
  exit 1
fi
grep -hv "^progress" "$work"/jobs/*.out
[ -f "$work/out/merged/manifest.json" ] || { echo "the merge job wrote no manifest" >&2; exit 1; }

"$p2psim" run "$scenario" --out "$work/single" --threads "$cpus" >/dev/null
diff -r -x .p2psim.lock "$work/single" "$work/out/merged"
echo "slurm: 3 shards merged are byte-identical to a single run ($(ls "$work/single" | tr '\n' ' '))"
