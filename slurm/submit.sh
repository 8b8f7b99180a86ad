#!/bin/bash
# Grade a class on a Slurm cluster: a job array of N shards, then a merge job that waits for it.
#
#   slurm/submit.sh SUBMISSIONS OUTROOT N [batch options...]     (WAIT=1: return when merged)
#
# Extra sbatch options for both jobs (partition, account, GPUs) go in SBATCH_ARGS, e.g.
#   SBATCH_ARGS="--partition=gpu --gres=gpu:1" slurm/submit.sh subs out 8 --device cuda --per-gpu 4
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 SUBMISSIONS OUTROOT N [batch options...]" >&2
  exit 2
fi
SUBMISSIONS=$(realpath "$1"); OUTROOT=$(realpath -m "$2"); COUNT=$3; shift 3
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUTROOT"
# shellcheck disable=SC2086
array=$(sbatch --parsable ${SBATCH_ARGS:-} --array=1-"$COUNT" --chdir="$(dirname "$HERE")" \
  --output="$OUTROOT/grade-%A_%a.out" "$HERE/grade_array.sbatch" "$SUBMISSIONS" "$OUTROOT" "$@")
array=${array%%;*}
wait_flag=()
[ "${WAIT:-0}" = 1 ] && wait_flag=(--wait)
# shellcheck disable=SC2086
merge=$(sbatch --parsable ${SBATCH_ARGS:-} "${wait_flag[@]}" --dependency=afterany:"$array" \
  --chdir="$(dirname "$HERE")" --output="$OUTROOT/grade-merge-%j.out" "$HERE/merge.sbatch" "$OUTROOT" "$COUNT")
echo "array job $array, merge job ${merge%%;*}: results in $OUTROOT/merged"
