#!/usr/bin/env bash
# Bring the DVC-tracked training data into the work tree: `dvc pull` from the default remote
# (.dvc/config: the local store ../credit-score-dvc-store beside the clone, or the one
# `dvc remote default` names). On a machine whose store is still empty, the German data are
# seeded from the copy embedded in the package (git-tracked, the same bytes: the unit test
# tests/unit/test_dvc_record.py compares them) and pushed, so the next clone pulls them.
#
# Usage: scripts/dvc-data.sh          (make data)
# Environment: DVC (default .venv/bin/dvc, else dvc on PATH)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dvc="${DVC:-}"
if [[ -z "$dvc" ]]; then
  if [[ -x .venv/bin/dvc ]]; then dvc=.venv/bin/dvc; else dvc=dvc; fi
fi
record=data/german_credit.csv.dvc
embedded=training_job/datasets/germancredit.csv

if "$dvc" pull --quiet "$record" 2>/dev/null; then
  echo "dvc-data: data/german_credit.csv is $(sed -n 's/^- md5: //p' "$record") (from the cache or the remote)" >&2
  exit 0
fi
want="$(sed -n 's/^- md5: //p' "$record")"
have="$(md5sum "$embedded" | cut -d' ' -f1)"
if [[ "$want" != "$have" ]]; then
  echo "dvc-data: $record names md5 $want, the embedded copy is $have: not seeding the store with other bytes" >&2
  exit 1
fi
cp "$embedded" data/german_credit.csv
# The bytes are the recorded ones, so the .dvc file does not change: this only fills the cache.
"$dvc" commit --quiet --force "$record"
"$dvc" push --quiet "$record"
echo "dvc-data: seeded the DVC store with $want (data/german_credit.csv) from $embedded" >&2
