{{/*
Cross-field rules that values.schema.json cannot express readably: every `fail` of the chart
is here, and validate.yaml runs them on every install, upgrade and template. Each failure names
the value to change. Every rule has a values file under tests/chart/invalid/ proving it fails.
Usage: {{- include "credit-score.validate" . }}   (from validate.yaml)
*/}}
{{- define "credit-score.validate" -}}
{{- $v := .Values -}}
{{- $m := $v.mlflow -}}
{{- if and (not $m.enabled) (not $m.external.trackingUri) -}}
{{- fail "mlflow.enabled is false: set mlflow.external.trackingUri to the MLflow server the Job and the predictors use" -}}
{{- end -}}
{{- if and $m.enabled (eq $m.backendStore.type "postgres") (not $m.backendStore.postgres.existingSecret) -}}
{{- fail "mlflow.backendStore.type is postgres: set mlflow.backendStore.postgres.existingSecret (a Secret holding the URI under mlflow.backendStore.postgres.uriKey)" -}}
{{- end -}}
{{- if and $m.enabled (eq $m.artifacts.type "s3") -}}
{{- if not $m.artifacts.s3.bucket -}}
{{- fail "mlflow.artifacts.type is s3: set mlflow.artifacts.s3.bucket" -}}
{{- end -}}
{{- if not $m.artifacts.s3.existingSecret -}}
{{- fail "mlflow.artifacts.type is s3: set mlflow.artifacts.s3.existingSecret (a Secret with the access key pair)" -}}
{{- end -}}
{{- end -}}
{{- if and $m.auth.enabled (not $m.auth.existingSecret) -}}
{{- fail "mlflow.auth.enabled: set mlflow.auth.existingSecret (a Secret with the user name, the password and, for the in-cluster server, the Flask secret key); the chart never holds credentials" -}}
{{- end -}}
{{- range $path, $tag := dict "image.train.tag" $v.image.train.tag "image.serve.tag" $v.image.serve.tag "mlflow.image.tag" $m.image.tag "rollout.analysis.cronJob.image.tag" $v.rollout.analysis.cronJob.image.tag -}}
{{- if eq (toString $tag) "latest" -}}
{{- fail (printf "%s: the tag `latest` is not allowed; pin a version (empty: the chart appVersion %s)" $path $.Chart.AppVersion) -}}
{{- end -}}
{{- end -}}
{{- include "credit-score.validate.training" . -}}
{{- include "credit-score.validate.serving" . -}}
{{- include "credit-score.validate.rollout" . -}}
{{- end -}}

{{/*
Training rules.
Usage: {{- include "credit-score.validate.training" . }}
*/}}
{{- define "credit-score.validate.training" -}}
{{- $t := .Values.training -}}
{{- if $t.enabled -}}
{{- if and $t.config.file $t.config.inline -}}
{{- fail "training.config: set either file or inline, not both (set training.config.file to \"\" to use inline)" -}}
{{- end -}}
{{- if not (or $t.config.file $t.config.inline) -}}
{{- fail "training.config: set training.config.file (a chart file) or training.config.inline (YAML text)" -}}
{{- end -}}
{{- if and $t.config.file (not ($.Files.Get $t.config.file)) -}}
{{- fail (printf "training.config.file: %q is not a file of the chart (put it under charts/credit-score/files/ or use training.config.inline)" $t.config.file) -}}
{{- end -}}
{{- if $t.config.inline -}}
{{- $parsed := fromYaml $t.config.inline -}}
{{- if or (hasKey $parsed "Error") (not $parsed) -}}
{{- fail (printf "training.config.inline is not a YAML mapping: %v" (get $parsed "Error")) -}}
{{- end -}}
{{- end -}}
{{- if and (eq $t.data.source "pvc") (not $t.data.pvc.claimName) -}}
{{- fail "training.data.source is pvc: set training.data.pvc.claimName" -}}
{{- end -}}
{{- if and (eq $t.data.source "url") (not $t.data.url.location) -}}
{{- fail "training.data.source is url: set training.data.url.location" -}}
{{- end -}}
{{- if $t.dvc.enabled -}}
{{- if ne $t.data.source "embedded" -}}
{{- fail (printf "training.dvc.enabled: the DVC revision is the training data; training.data.source must stay embedded (got %s)" $t.data.source) -}}
{{- end -}}
{{- if not $t.dvc.repoUrl -}}
{{- fail "training.dvc.enabled: set training.dvc.repoUrl (the git repository with the .dvc files)" -}}
{{- end -}}
{{- if not $t.dvc.revision -}}
{{- fail "training.dvc.enabled: set training.dvc.revision (a commit, so that the version can be reproduced)" -}}
{{- end -}}
{{- end -}}
{{- if $t.distributed.enabled -}}
{{- include "credit-score.validate.distributed" . -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
TrainJob rules (training.distributed.enabled): what the Trainer or torchrun would only refuse
once the pods run.
Usage: {{- include "credit-score.validate.distributed" . }}
*/}}
{{- define "credit-score.validate.distributed" -}}
{{- $t := .Values.training -}}
{{- $d := $t.distributed -}}
{{- if $t.dvc.enabled -}}
{{- fail "training.distributed.enabled: training.dvc.enabled pulls the revision in the Job's dvc-pull init container, and a TrainJob's runtimePatches cannot add init containers to the runtime's pods; pull the revision onto a claim every node can read (training.data.source pvc) or set training.distributed.enabled false" -}}
{{- end -}}
{{- if eq $t.data.source "url" -}}
{{- fail "training.distributed.enabled: training.data.source url needs the Job's download-data init container, and a TrainJob's runtimePatches cannot add init containers to the runtime's pods; put the file on a claim every node can read (training.data.source pvc) or set training.distributed.enabled false" -}}
{{- end -}}
{{- $ranks := mul (int $d.numNodes) (int $d.numProcPerNode) -}}
{{- $config := fromYaml (include "credit-score.training.config" .) -}}
{{- $batch := dig "optimisation" "batch_size" nil $config -}}
{{- if and $batch (ne (mod (int $batch) $ranks) 0) -}}
{{- fail (printf "training.distributed: numNodes × numProcPerNode = %d × %d = %d ranks do not divide the global batch optimisation.batch_size %d of the model config (training.config); every rank takes batch/ranks rows of each step" (int $d.numNodes) (int $d.numProcPerNode) $ranks (int $batch)) -}}
{{- end -}}
{{- $gpus := dig "limits" "nvidia.com/gpu" 0 $t.resources -}}
{{- if and $gpus (gt (int $d.numProcPerNode) (int $gpus)) -}}
{{- fail (printf "training.distributed.numProcPerNode %d exceeds training.resources.limits[\"nvidia.com/gpu\"] %d: under NCCL each rank takes the GPU of its LOCAL_RANK" (int $d.numProcPerNode) (int $gpus)) -}}
{{- end -}}
{{- end -}}

{{/*
Exactly one of version and alias in a model reference.
Usage: {{- include "credit-score.validate.ref" (dict "ref" .Values.serving.stable "path" "serving.stable") }}
*/}}
{{- define "credit-score.validate.ref" -}}
{{- $hasVersion := include "credit-score.serving.hasVersion" .ref -}}
{{- if and $hasVersion .ref.alias -}}
{{- fail (printf "%s: set either version or alias, not both (set version to null to use the alias)" .path) -}}
{{- end -}}
{{- if not (or $hasVersion .ref.alias) -}}
{{- fail (printf "%s: set version (recommended) or alias" .path) -}}
{{- end -}}
{{- end -}}

{{/*
Predictor rules.
Usage: {{- include "credit-score.validate.serving" . }}
*/}}
{{- define "credit-score.validate.serving" -}}
{{- $s := .Values.serving -}}
{{- $mode := .Values.rollout.mode -}}
{{- if $s.enabled -}}
{{- include "credit-score.validate.ref" (dict "ref" $s.stable "path" "serving.stable") -}}
{{- if gt (int $s.minReplicas) (int $s.maxReplicas) -}}
{{- fail (printf "serving.minReplicas (%v) is greater than serving.maxReplicas (%v)" $s.minReplicas $s.maxReplicas) -}}
{{- end -}}
{{- if eq $mode "knative" -}}
{{- if $s.grpc.enabled -}}
{{- fail "rollout.mode knative: Knative allows one container port, so gRPC cannot be exposed next to REST; set serving.grpc.enabled to false (or use rollout.mode standard or gateway)" -}}
{{- end -}}
{{- if not (has $s.scaleMetric (list "concurrency" "rps")) -}}
{{- fail (printf "rollout.mode knative scales with the Knative autoscaler: serving.scaleMetric must be concurrency or rps, not %s" $s.scaleMetric) -}}
{{- end -}}
{{- else -}}
{{- if not (has $s.scaleMetric (list "cpu" "memory")) -}}
{{- fail (printf "rollout.mode %s scales with an HPA: serving.scaleMetric must be cpu or memory, not %s" $mode $s.scaleMetric) -}}
{{- end -}}
{{- if lt (int $s.minReplicas) 1 -}}
{{- fail (printf "rollout.mode %s: serving.minReplicas must be at least 1 (scale to zero needs rollout.mode knative)" $mode) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Rollout rules.
Usage: {{- include "credit-score.validate.rollout" . }}
*/}}
{{- define "credit-score.validate.rollout" -}}
{{- $r := .Values.rollout -}}
{{- $s := .Values.serving -}}
{{- if and $s.enabled $r.canary.enabled -}}
{{- include "credit-score.validate.ref" (dict "ref" $r.canary "path" "rollout.canary") -}}
{{- if eq (include "credit-score.serving.modelUri" $r.canary) (include "credit-score.serving.modelUri" $s.stable) -}}
{{- fail (printf "rollout.canary serves the same model as serving.stable (%s): point the canary at another version, or disable it" (include "credit-score.serving.modelUri" $s.stable)) -}}
{{- end -}}
{{- if eq (include "credit-score.serving.slot" $r.canary) (include "credit-score.serving.slot" $s.stable) -}}
{{- fail (printf "rollout.canary and serving.stable both map to the predictor name %q (same version or alias of different registered models): use distinct versions or aliases" (include "credit-score.serving.slot" $s.stable)) -}}
{{- end -}}
{{- if and (eq $r.mode "standard") (gt (int $s.canaryReplicas) (int $s.minReplicas)) -}}
{{- fail (printf "rollout.mode standard: serving.canaryReplicas (%v) must not exceed serving.minReplicas (%v) (KServe rejects such a canary)" $s.canaryReplicas $s.minReplicas) -}}
{{- end -}}
{{- if and (eq $r.mode "standard") (gt (int $r.canary.trafficPercent) 0) (not (dig "standard" "kserveSplitsCanaryTraffic" false $r)) -}}
{{- fail (printf "rollout.mode standard: a canary at rollout.canary.trafficPercent %v would get no traffic: KServe up to v0.20.0 creates the canary's Deployment and Service but its HTTPRoute has no weighted canary backend (kserve PRs #5912, #5984). Use rollout.mode gateway (the default: the chart's own weighted HTTPRoute/GRPCRoute), or, on a KServe that has those changes, set rollout.standard.kserveSplitsCanaryTraffic to true" $r.canary.trafficPercent) -}}
{{- end -}}
{{- end -}}
{{- if $r.shadow -}}
{{- if ne $r.mode "gateway" -}}
{{- fail (printf "rollout.shadow needs rollout.mode gateway (the RequestMirror filter of the HTTPRoute); it is %s" $r.mode) -}}
{{- end -}}
{{- if not $r.canary.enabled -}}
{{- fail "rollout.shadow mirrors traffic to the canary: set rollout.canary.enabled to true" -}}
{{- end -}}
{{- if ne (int $r.canary.trafficPercent) 0 -}}
{{- fail (printf "rollout.shadow keeps stable at 100%% and mirrors every request to the canary: set rollout.canary.trafficPercent to 0 (it is %v)" $r.canary.trafficPercent) -}}
{{- end -}}
{{- end -}}
{{- $cron := $r.analysis.cronJob -}}
{{- if and $r.analysis.enabled $cron.enabled -}}
{{- if and $cron.apply (not $cron.chart) -}}
{{- fail "rollout.analysis.cronJob.apply runs `helm upgrade <release> <chart>`: set rollout.analysis.cronJob.chart (for example oci://registry.example.com/charts/credit-score)" -}}
{{- end -}}
{{- if and (not $cron.prometheusUrl) (ne $r.mode "gateway") -}}
{{- fail (printf "rollout.analysis.cronJob: without prometheusUrl the analysis scrapes the predictor pods of each model, which only rollout.mode gateway runs apart (it is %s): set rollout.analysis.cronJob.prometheusUrl" $r.mode) -}}
{{- end -}}
{{- end -}}
{{- $previous := 0 -}}
{{- range $r.analysis.steps -}}
{{- if le (int .) $previous -}}
{{- fail (printf "rollout.analysis.steps must increase strictly: %v" $r.analysis.steps) -}}
{{- end -}}
{{- $previous = int . -}}
{{- end -}}
{{- if ne $previous 100 -}}
{{- fail (printf "rollout.analysis.steps must end at 100 (full promotion): %v" $r.analysis.steps) -}}
{{- end -}}
{{- end -}}
