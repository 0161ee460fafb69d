{{/*
Training Job helpers.
*/}}

{{/*
Name of the training ServiceAccount and ConfigMap.
Usage: {{ include "credit-score.training.name" . }}
*/}}
{{- define "credit-score.training.name" -}}
{{- include "credit-score.componentName" (dict "context" . "component" "training") -}}
{{- end -}}

{{/*
Model config text: the chart file training.config.file, or training.config.inline.
Usage: {{ include "credit-score.training.config" . }}
*/}}
{{- define "credit-score.training.config" -}}
{{- $c := .Values.training.config -}}
{{- if $c.file -}}
{{- .Files.Get $c.file -}}
{{- else -}}
{{- $c.inline -}}
{{- end -}}
{{- end -}}

{{/*
Path of the training data inside the container, or "" for the image's embedded default.
Usage: {{ include "credit-score.training.dataPath" . }}
*/}}
{{- define "credit-score.training.dataPath" -}}
{{- $d := .Values.training.data -}}
{{- if eq $d.source "pvc" -}}
{{- printf "/data/%s" (trimPrefix "/" $d.pvc.path) -}}
{{- else if eq $d.source "url" -}}
{{- printf "/data/%s" $d.url.fileName -}}
{{- end -}}
{{- end -}}

{{/*
Arguments of `python -m training_job` (the image ENTRYPOINT), as a YAML list.
Usage: args: {{- include "credit-score.training.args" . | nindent 12 }}
*/}}
{{- define "credit-score.training.args" -}}
- --config
- /etc/credit-score/model_config.yaml
{{- with include "credit-score.training.dataPath" . }}
- --data
- {{ . }}
{{- end }}
- --experiment
- {{ .Values.training.experiment | quote }}
{{- end -}}

{{/*
Pod template of the training Job (metadata and spec). Its hash names the Job (see job.yaml),
so every change that would need a new pod makes a new Job.
Usage: template: {{- include "credit-score.training.podTemplate" . | nindent 4 }}
*/}}
{{- define "credit-score.training.podTemplate" -}}
{{- $t := .Values.training -}}
metadata:
  labels:
    {{- include "credit-score.labels" (dict "context" . "component" "training") | nindent 4 }}
  annotations:
    {{- include "credit-score.training.podAnnotations" . | nindent 4 }}
spec:
  {{- include "credit-score.training.podSpec" . | nindent 2 }}
{{- end -}}

{{/*
Pod spec of the training Job: the shared pieces below plus what only a Job pod has (the
restart policy, the service-account token switch and the init containers).
Usage: {{- include "credit-score.training.podSpec" . | nindent 2 }}
*/}}
{{- define "credit-score.training.podSpec" -}}
{{- $t := .Values.training -}}
serviceAccountName: {{ include "credit-score.training.name" . }}
automountServiceAccountToken: false
restartPolicy: Never
securityContext:
  {{- include "credit-score.podSecurityContext" . | nindent 2 }}
{{- with include "credit-score.imagePullSecrets" . }}{{ . | nindent 0 }}{{ end }}
{{- with $t.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
initContainers:
  {{- include "credit-score.mlflow.waitContainer" . | nindent 2 }}
  {{- if eq $t.data.source "url" }}
  - name: download-data
    image: {{ include "credit-score.trainImage" . }}
    imagePullPolicy: {{ .Values.image.pullPolicy }}
    command:
      - python
      - -c
      - {{ .Files.Get "files/download-data.py" | quote }}
    env:
      - name: DATA_URL
        value: {{ $t.data.url.location | quote }}
      - name: DATA_SHA256
        value: {{ $t.data.url.sha256 | quote }}
      - name: DATA_PATH
        value: {{ include "credit-score.training.dataPath" . | quote }}
    resources:
      {{- include "credit-score.resources" .Values.initResources | nindent 6 }}
    securityContext:
      {{- include "credit-score.containerSecurityContext" . | nindent 6 }}
    volumeMounts:
      {{- include "credit-score.tmpMount" . | nindent 6 }}
      - name: data
        mountPath: /data
  {{- end }}
containers:
  - name: train
    image: {{ include "credit-score.trainImage" . }}
    imagePullPolicy: {{ .Values.image.pullPolicy }}
    args:
      {{- include "credit-score.training.args" . | nindent 6 }}
    env:
      {{- include "credit-score.training.env" . | nindent 6 }}
    resources:
      {{- include "credit-score.resources" $t.resources | nindent 6 }}
    securityContext:
      {{- include "credit-score.containerSecurityContext" . | nindent 6 }}
    volumeMounts:
      {{- include "credit-score.training.volumeMounts" . | nindent 6 }}
volumes:
  {{- include "credit-score.training.volumes" . | nindent 2 }}
{{- end -}}

{{/*
Environment of the training container (Job and TrainJob alike): the MLflow client settings,
credentials only through secretKeyRef, and a writable HOME for matplotlib and MLflow.
Usage: env: {{- include "credit-score.training.env" . | nindent 6 }}
*/}}
{{- define "credit-score.training.env" -}}
{{ include "credit-score.mlflow.clientEnv" . }}
- name: HOME
  value: /tmp
- name: MPLCONFIGDIR
  value: /tmp
{{- end -}}

{{/*
Mounts of the training container: the writable /tmp, the model config read-only and, unless
the data is the image's own, the data read-only.
Usage: volumeMounts: {{- include "credit-score.training.volumeMounts" . | nindent 6 }}
*/}}
{{- define "credit-score.training.volumeMounts" -}}
{{ include "credit-score.tmpMount" . }}
- name: config
  mountPath: /etc/credit-score
  readOnly: true
{{- if ne .Values.training.data.source "embedded" }}
- name: data
  mountPath: /data
  readOnly: true
{{- end }}
{{- end -}}

{{/*
Volumes of the training pod: /tmp, the config ConfigMap and the data source.
Usage: volumes: {{- include "credit-score.training.volumes" . | nindent 2 }}
*/}}
{{- define "credit-score.training.volumes" -}}
{{- $d := .Values.training.data -}}
{{ include "credit-score.tmpVolume" . }}
- name: config
  configMap:
    name: {{ include "credit-score.training.name" . }}
{{- if eq $d.source "pvc" }}
- name: data
  persistentVolumeClaim:
    claimName: {{ $d.pvc.claimName }}
    readOnly: true
{{- else if eq $d.source "url" }}
- name: data
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end }}
{{- end -}}

{{/*
Annotations of the training pod: the config checksum and training.podAnnotations.
Usage: annotations: {{- include "credit-score.training.podAnnotations" . | nindent 4 }}
*/}}
{{- define "credit-score.training.podAnnotations" -}}
checksum/config: {{ include "credit-score.training.config" . | sha256sum }}
{{- with .Values.training.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
Name of the replicated job and of the trainer container in Trainer's torch runtimes
(constants.Node in kubeflow/trainer): the controller puts trainer.image/command/args/env and
resourcesPerNode into that container, and runtimePatches address it by these names.
Usage: {{ include "credit-score.training.runtimeNode" . }}
*/}}
{{- define "credit-score.training.runtimeNode" -}}
node
{{- end -}}

{{/*
Spec of the training TrainJob (training.distributed.enabled). Its hash names the TrainJob (see
trainjob.yaml): spec.trainer and spec.runtimeRef are immutable, and runtimePatches may change
only while the TrainJob is suspended, so a changed spec has to be a new TrainJob.
The command is torchrun's: the Trainer does not wrap it, it sets PET_NNODES, PET_NPROC_PER_NODE,
PET_NODE_RANK (the Job completion index), PET_MASTER_ADDR and PET_MASTER_PORT in the container,
which torchrun reads as its --nnodes/--nproc-per-node/--node-rank/--master-addr/--master-port.
Usage: spec: {{- include "credit-score.training.trainJobSpec" . | nindent 2 }}
*/}}
{{- define "credit-score.training.trainJobSpec" -}}
{{- $t := .Values.training -}}
{{- $d := $t.distributed -}}
runtimeRef:
  apiGroup: trainer.kubeflow.org
  kind: {{ $d.runtimeRef.kind }}
  name: {{ $d.runtimeRef.name }}
activeDeadlineSeconds: {{ $t.activeDeadlineSeconds }}
trainer:
  image: {{ include "credit-score.trainImage" . }}
  command:
    - torchrun
    - -m
    - training_job
  args:
    {{- include "credit-score.training.args" . | nindent 4 }}
  env:
    {{- include "credit-score.training.env" . | nindent 4 }}
  numNodes: {{ $d.numNodes }}
  numProcPerNode: {{ $d.numProcPerNode }}
  resourcesPerNode:
    {{- include "credit-score.resources" $t.resources | nindent 4 }}
runtimePatches:
  {{- include "credit-score.training.runtimePatch" . | nindent 2 }}
{{- end -}}

{{/*
The chart's runtime patch: the chart's labels on the JobSet (so `kubectl get jobsets -l` finds
it) and the pod pieces of the Job's pod that a TrainJob cannot carry in spec.trainer (labels
for the NetworkPolicies, the service account, the security contexts, the
config and data volumes and their mounts). Env stays in spec.trainer.env: the Trainer refuses
patched env on the `node` container. The patch cannot add init containers (only containers the
runtime has), hence no wait-for-mlflow and no download-data here (see _validate.tpl).
Usage: runtimePatches: {{- include "credit-score.training.runtimePatch" . | nindent 2 }}
*/}}
{{- define "credit-score.training.runtimePatch" -}}
{{- $t := .Values.training -}}
{{- $node := include "credit-score.training.runtimeNode" . -}}
- manager: helm.sh/{{ .Chart.Name }}
  trainingRuntimeSpec:
    template:
      metadata:
        labels:
          {{- include "credit-score.labels" (dict "context" . "component" "training") | nindent 10 }}
      spec:
        replicatedJobs:
          - name: {{ $node }}
            template:
              spec:
                template:
                  metadata:
                    labels:
                      {{- include "credit-score.labels" (dict "context" . "component" "training") | nindent 22 }}
                    annotations:
                      {{- include "credit-score.training.podAnnotations" . | nindent 22 }}
                  spec:
                    serviceAccountName: {{ include "credit-score.training.name" . }}
                    securityContext:
                      {{- include "credit-score.podSecurityContext" . | nindent 22 }}
                    {{- with include "credit-score.imagePullSecrets" . }}{{ . | nindent 20 }}{{ end }}
                    {{- with $t.nodeSelector }}
                    nodeSelector:
                      {{- toYaml . | nindent 22 }}
                    {{- end }}
                    containers:
                      - name: {{ $node }}
                        securityContext:
                          {{- include "credit-score.containerSecurityContext" . | nindent 26 }}
                        volumeMounts:
                          {{- include "credit-score.training.volumeMounts" . | nindent 26 }}
                    volumes:
                      {{- include "credit-score.training.volumes" . | nindent 22 }}
{{- end -}}
