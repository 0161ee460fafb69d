# The training data of a DVC-tracked revision, into $DVC_DEST (the training Job's initContainer;
# run by sh in the training image, which has dvc and no git binary: the clone is scmrepo's, the
# library dvc itself clones with). The clone keeps .git and the .dvc files, so the job records
# dvc.data_hash and dvc.rev of exactly what it pulled (training_job/dvc_record.py).
set -eu
dest="$DVC_DEST"
# The remote's credentials: the existing Secret's keys, mounted as files, become the environment
# of this script (and so of dvc) only.
if [ -n "${DVC_CREDENTIALS_DIR:-}" ]; then
  for f in "$DVC_CREDENTIALS_DIR"/*; do
    [ -f "$f" ] || continue
    name="${f##*/}"
    export "$name=$(cat "$f")"
  done
fi
python -c 'import os; from scmrepo.git import Git; Git.clone(os.environ["DVC_REPO_URL"], os.environ["DVC_DEST"], rev=os.environ["DVC_REVISION"] or None)'
cd "$dest"
if [ -n "${DVC_REMOTE_URL:-}" ]; then
  # --local: the values' remote wins over the revision's default, without touching its files
  dvc remote add --local --force --default values "$DVC_REMOTE_URL"
  if [ -n "${DVC_REMOTE_ENDPOINT:-}" ]; then dvc remote modify --local values endpointurl "$DVC_REMOTE_ENDPOINT"; fi
fi
dvc pull "$DVC_PATH"
echo "dvc-pull: $DVC_PATH of $DVC_REPO_URL@${DVC_REVISION:-HEAD} into $dest"
