{{/*
The training data from a DVC-tracked git revision (training.dvc).
*/}}

{{/*
The training pod template with the DVC pull added: an initContainer clones training.dvc.repoUrl
at training.dvc.revision into an emptyDir and `dvc pull`s training.dvc.path; the train container
reads it read-only with `--data`, and records its DVC hash and revision (dvc.data_hash, dvc.rev)
on the run and the registered version. It edits the rendered pod template rather than the
templates that render it, so job.yaml needs one include whatever the layout of those; with
training.dvc.enabled false it returns the template unchanged (same bytes, same Job name).
The edited template comes back as JSON (valid YAML): toYaml would turn the init scripts into
block scalars whose blank lines job.yaml's nindent fills with trailing spaces.
Usage: {{- $template = include "credit-score.training.withDvc" (dict "context" . "template" $template) }}
*/}}
{{- define "credit-score.training.withDvc" -}}
{{- $ctx := .context -}}
{{- $d := $ctx.Values.training.dvc -}}
{{- if not $d.enabled -}}
{{- .template -}}
{{- else -}}
{{- /* repoUrl, revision and data.source are checked in _validate.tpl */ -}}
{{- $pod := fromYaml .template -}}
{{- $spec := $pod.spec -}}
{{- $_ := set $spec "initContainers" (append ($spec.initContainers | default list) (include "credit-score.training.dvcPullContainer" $ctx | fromYaml)) -}}
{{- $volumes := append ($spec.volumes | default list) (dict "name" "dvc-data" "emptyDir" (dict "sizeLimit" $d.sizeLimit)) -}}
{{- with $d.existingSecret -}}
{{- $volumes = append $volumes (dict "name" "dvc-credentials" "secret" (dict "secretName" . "defaultMode" 256)) -}}
{{- end -}}
{{- $_ := set $spec "volumes" $volumes -}}
{{- $containers := list -}}
{{- range $c := $spec.containers -}}
{{- if eq $c.name "train" -}}
{{- $_ := set $c "args" (concat $c.args (list "--data" (printf "%s/%s" (include "credit-score.training.dvcRepoDir" $ctx) $d.path))) -}}
{{- $_ := set $c "volumeMounts" (append ($c.volumeMounts | default list) (dict "name" "dvc-data" "mountPath" "/data" "readOnly" true)) -}}
{{- end -}}
{{- $containers = append $containers $c -}}
{{- end -}}
{{- $_ := set $spec "containers" $containers -}}
{{- toJson $pod -}}
{{- end -}}
{{- end -}}

{{/*
Where the initContainer clones the revision (inside the dvc-data volume).
Usage: {{ include "credit-score.training.dvcRepoDir" . }}
*/}}
{{- define "credit-score.training.dvcRepoDir" -}}
/data/repo
{{- end -}}

{{/*
The initContainer that pulls the DVC-tracked data (charts/credit-score/files/dvc-pull.sh, run
by the training image, which carries dvc and dvc-s3). Credentials of the remote come only from
training.dvc.existingSecret, mounted as files (one per key, e.g. AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY) that the script exports for dvc alone, or from the pod's own identity
when it is empty.
Usage: {{ include "credit-score.training.dvcPullContainer" . | fromYaml }}
*/}}
{{- define "credit-score.training.dvcPullContainer" -}}
{{- $d := .Values.training.dvc -}}
name: dvc-pull
image: {{ include "credit-score.trainImage" . }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
command:
  - sh
  - -c
  - {{ .Files.Get "files/dvc-pull.sh" | quote }}
env:
  - name: DVC_REPO_URL
    value: {{ $d.repoUrl | quote }}
  - name: DVC_REVISION
    value: {{ $d.revision | quote }}
  - name: DVC_PATH
    value: {{ $d.path | quote }}
  - name: DVC_DEST
    value: {{ include "credit-score.training.dvcRepoDir" . | quote }}
  - name: DVC_REMOTE_URL
    value: {{ $d.remote.url | quote }}
  - name: DVC_REMOTE_ENDPOINT
    value: {{ $d.remote.endpointUrl | quote }}
  # no analytics calls, and DVC's site cache under the writable /tmp (read-only root)
  - name: DVC_NO_ANALYTICS
    value: "1"
  - name: DVC_SITE_CACHE_DIR
    value: /tmp/dvc-site
  - name: HOME
    value: /tmp
{{- if $d.existingSecret }}
  - name: DVC_CREDENTIALS_DIR
    value: /etc/dvc-credentials
{{- end }}
resources:
  {{- include "credit-score.resources" .Values.initResources | nindent 2 }}
securityContext:
  {{- include "credit-score.containerSecurityContext" . | nindent 2 }}
volumeMounts:
  {{- include "credit-score.tmpMount" . | nindent 2 }}
  - name: dvc-data
    mountPath: /data
  {{- if $d.existingSecret }}
  - name: dvc-credentials
    mountPath: /etc/dvc-credentials
    readOnly: true
  {{- end }}
{{- end -}}
