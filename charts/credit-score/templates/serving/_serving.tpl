{{/*
Predictor helpers: model references, names and the predictor pod (a custom predictor
container with the serve image, KServe convention: container `kserve-container`, REST port
8080 named http1, gRPC port 8081 named h2c).

A model reference ("ref") is a dict with registeredModel and exactly one of version / alias,
as in serving.stable and rollout.canary.
*/}}

{{/*
"true" when a reference names a version (not null, not empty), else "": the one place of the
rule that a reference has a version or an alias.
Usage: {{ if include "credit-score.serving.hasVersion" .Values.serving.stable }}
*/}}
{{- define "credit-score.serving.hasVersion" -}}
{{- if and (not (kindIs "invalid" .version)) (ne (toString .version) "") -}}true{{- end -}}
{{- end -}}

{{/*
MLflow model URI of a reference: models:/<name>/<version> or models:/<name>@<alias>.
Usage: {{ include "credit-score.serving.modelUri" .Values.serving.stable }}
*/}}
{{- define "credit-score.serving.modelUri" -}}
{{- if include "credit-score.serving.hasVersion" . -}}
{{- printf "models:/%s/%s" .registeredModel (toString .version) -}}
{{- else -}}
{{- printf "models:/%s@%s" .registeredModel .alias -}}
{{- end -}}
{{- end -}}

{{/*
Short DNS-safe name of a reference: v<version> or the alias. Names the Standard-mode predictor
variant ({isvc}-{slot}-predictor) and the gateway-mode InferenceServices, so that the same
model keeps the same objects whether it runs as canary or as stable (promotion without restart).
Usage: {{ include "credit-score.serving.slot" .Values.serving.stable }}
*/}}
{{- define "credit-score.serving.slot" -}}
{{- if include "credit-score.serving.hasVersion" . -}}
{{- printf "v%s" (toString .version) -}}
{{- else -}}
{{- .alias -}}
{{- end -}}
{{- end -}}

{{/*
Base name of the InferenceServices: the full name cut to 30 characters, leaving room for
"-<slot>-predictor" (KServe's Deployment and Service names) within 63.
Usage: {{ include "credit-score.serving.baseName" . }}
*/}}
{{- define "credit-score.serving.baseName" -}}
{{- include "credit-score.fullname" . | trunc 30 | trimSuffix "-" -}}
{{- end -}}

{{/*
InferenceService name for a reference: the base name in the knative and standard modes (one
InferenceService), <base>-<slot> in gateway mode (one InferenceService per model).
Usage: {{ include "credit-score.serving.isvcName" (dict "context" . "ref" .Values.serving.stable) }}
*/}}
{{- define "credit-score.serving.isvcName" -}}
{{- $base := include "credit-score.serving.baseName" .context -}}
{{- if eq .context.Values.rollout.mode "gateway" -}}
{{- printf "%s-%s" $base (include "credit-score.serving.slot" .ref) -}}
{{- else -}}
{{- $base -}}
{{- end -}}
{{- end -}}

{{/*
Name of the Kubernetes Service KServe creates for a predictor: <isvc>-predictor, or
<isvc>-<slot>-predictor for a named Standard-mode predictor variant.
Usage: {{ include "credit-score.serving.predictorService" (dict "context" . "ref" .Values.serving.stable) }}
*/}}
{{- define "credit-score.serving.predictorService" -}}
{{- $isvc := include "credit-score.serving.isvcName" . -}}
{{- if eq .context.Values.rollout.mode "standard" -}}
{{- printf "%s-%s-predictor" $isvc (include "credit-score.serving.slot" .ref) -}}
{{- else -}}
{{- printf "%s-predictor" $isvc -}}
{{- end -}}
{{- end -}}

{{/*
KServe deployment mode of the InferenceServices: Knative for rollout.mode knative, Standard
(plain Deployments, KServe >= 0.20 name of RawDeployment) for standard and gateway.
Usage: {{ include "credit-score.serving.deploymentMode" . }}
*/}}
{{- define "credit-score.serving.deploymentMode" -}}
{{- if eq .Values.rollout.mode "knative" -}}Knative{{- else -}}Standard{{- end -}}
{{- end -}}

{{/*
Metadata of every InferenceService: the recommended labels and KServe's annotations.
Identical for stable and canary, so a model changes role without touching its pods.
Usage: {{- include "credit-score.serving.isvcMetadata" (dict "context" . "ref" .Values.serving.stable) | nindent 2 }}
*/}}
{{- define "credit-score.serving.isvcMetadata" -}}
{{- $ := .context -}}
name: {{ include "credit-score.serving.isvcName" . }}
namespace: {{ $.Release.Namespace }}
labels:
  {{- include "credit-score.labels" (dict "context" $ "component" "predictor") | nindent 2 }}
  {{- if or $.Values.serving.clusterLocal (eq $.Values.rollout.mode "gateway") }}
  networking.kserve.io/visibility: cluster-local
  {{- end }}
annotations:
  serving.kserve.io/deploymentMode: {{ include "credit-score.serving.deploymentMode" $ }}
  {{- if eq $.Values.rollout.mode "knative" }}
  # tagged URLs for the previous and the latest revision (latest-<isvc>-predictor..., prev-...)
  serving.kserve.io/enable-tag-routing: "true"
  {{- else }}
  serving.kserve.io/autoscalerClass: hpa
  {{- end }}
  {{- with $.Values.serving.annotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{/*
Autoscaling fields of an autoscaled predictor (stable predictors, gateway-mode canaries).
Usage: {{- include "credit-score.serving.autoscaling" . | nindent 4 }}
*/}}
{{- define "credit-score.serving.autoscaling" -}}
{{- $s := .Values.serving -}}
minReplicas: {{ $s.minReplicas }}
maxReplicas: {{ $s.maxReplicas }}
scaleMetric: {{ $s.scaleMetric }}
scaleTarget: {{ $s.scaleTarget }}
{{- end -}}

{{/*
Pod part of a predictor (PredictorSpec minus replicas and autoscaling) for one model reference:
service account, security, labels KServe copies onto the pods (the MLflow NetworkPolicy
selects them), the model server container and, in Standard mode, the model-reference check.
Knative mode keeps to the PodSpec fields Knative Serving accepts by default.
Usage: {{- include "credit-score.serving.predictorPod" (dict "context" . "ref" .Values.serving.stable) | nindent 4 }}
*/}}
{{- define "credit-score.serving.predictorPod" -}}
{{- $ := .context -}}
{{- $s := $.Values.serving -}}
{{- $standard := eq (include "credit-score.serving.deploymentMode" $) "Standard" -}}
{{- $modelUri := include "credit-score.serving.modelUri" .ref -}}
labels:
  {{- include "credit-score.labels" (dict "context" $ "component" "predictor") | nindent 2 }}
serviceAccountName: {{ include "credit-score.componentName" (dict "context" $ "component" "predictor") }}
automountServiceAccountToken: false
{{- if $standard }}
securityContext:
  {{- include "credit-score.podSecurityContext" $ | nindent 2 }}
{{- end }}
{{- /* Knative accepts a pod-level securityContext only behind its kubernetes.podspec-securitycontext
feature flag; the container context carries the same uid, gid, non-root and seccomp settings. */}}
{{- with include "credit-score.imagePullSecrets" $ }}{{ . | nindent 0 }}{{ end }}
{{- with $s.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if $standard }}
initContainers:
  {{- include "credit-score.serving.modelRefCheck" (dict "context" $ "modelUri" $modelUri) | nindent 2 }}
{{- end }}
containers:
  {{- include "credit-score.serving.container" (dict "context" $ "modelUri" $modelUri "standard" $standard) | nindent 2 }}
volumes:
  {{- include "credit-score.tmpVolume" $ | nindent 2 }}
  {{- with $s.audit }}{{ if .enabled }}
  - name: audit
    {{- if .persistence.enabled }}
    persistentVolumeClaim:
      claimName: {{ .persistence.existingClaim | default (include "credit-score.componentName" (dict "context" $ "component" "audit")) }}
    {{- else }}
    emptyDir: {}
    {{- end }}
  {{- end }}{{ end }}
{{- end -}}

{{/*
The model server container (serve image, ENTRYPOINT python -m kserve_model, configured by
environment). STORAGE_URI names the model for KServe in Standard mode: KServe's canary
validation and its predictor-name change check read it; see modelRefCheck for the download.
Usage: {{- include "credit-score.serving.container" (dict "context" . "modelUri" "models:/credit-score/1" "standard" true) | nindent 2 }}
*/}}
{{- define "credit-score.serving.container" -}}
{{- $ := .context -}}
{{- $s := $.Values.serving -}}
- name: kserve-container
  image: {{ include "credit-score.serveImage" $ }}
  imagePullPolicy: {{ $.Values.image.pullPolicy }}
  ports:
    - name: http1
      containerPort: 8080
      protocol: TCP
    {{- if $s.grpc.enabled }}
    - name: h2c
      containerPort: 8081
      protocol: TCP
    {{- end }}
  env:
    - name: MODEL_NAME
      value: {{ $s.modelName | quote }}
    - name: MODEL_URI
      value: {{ .modelUri | quote }}
    {{- if .standard }}
    - name: STORAGE_URI
      value: {{ .modelUri | quote }}
    {{- end }}
    {{- include "credit-score.mlflow.clientEnv" $ | nindent 4 }}
    - name: PROTOCOL
      value: v2
    - name: HTTP_PORT
      value: "8080"
    - name: GRPC_PORT
      value: "8081"
    - name: MAX_REQUEST_BYTES
      value: {{ $s.maxRequestBytes | int64 | quote }}
    - name: LOAD_DEADLINE_SECONDS
      value: {{ $s.loadDeadlineSeconds | quote }}
    - name: MODEL_CACHE_DIR
      value: /tmp/model-cache
    - name: HOME
      value: /tmp
    - name: DRIFT_WINDOW_SECONDS
      value: {{ $s.driftWindowSeconds | quote }}
    - name: AUDIT
      value: {{ $s.audit.enabled | quote }}
    {{- if $s.audit.enabled }}
    - name: AUDIT_DIR
      value: {{ include "credit-score.serving.auditDir" $ }}
    - name: AUDIT_INPUTS
      value: {{ $s.audit.inputs | quote }}
    - name: AUDIT_RETENTION_DAYS
      value: {{ $s.audit.retentionDays | quote }}
    - name: AUDIT_MAX_FILE_MB
      value: {{ $s.audit.maxFileMb | quote }}
    {{- end }}
  readinessProbe:
    # the model's readiness: KServe's server-level /v2/health/ready says 200 while the model
    # is still loading (or failed to load), which would route traffic to a pod answering 503
    httpGet:
      path: /v2/models/{{ $s.modelName }}/ready
      port: 8080
    initialDelaySeconds: {{ $s.probes.readinessInitialDelaySeconds }}
    periodSeconds: {{ $s.probes.readinessPeriodSeconds }}
    timeoutSeconds: 5
  livenessProbe:
    httpGet:
      path: /v2/health/live
      port: 8080
    initialDelaySeconds: {{ $s.probes.livenessInitialDelaySeconds }}
    periodSeconds: {{ $s.probes.livenessPeriodSeconds }}
    failureThreshold: {{ $s.probes.livenessFailureThreshold }}
    timeoutSeconds: 5
  resources:
    {{- include "credit-score.resources" $s.resources | nindent 4 }}
  securityContext:
    {{- include "credit-score.containerSecurityContext" $ | nindent 4 }}
  volumeMounts:
    {{- include "credit-score.tmpMount" $ | nindent 4 }}
    {{- if $s.audit.enabled }}
    - name: audit
      mountPath: {{ include "credit-score.serving.auditDir" $ }}
    {{- end }}
{{- end -}}

{{/*
Where the predictors write their decision records (serving.audit); `python -m audit query`
reads the same path (AUDIT_DIR) in a predictor pod.
*/}}
{{- define "credit-score.serving.auditDir" -}}
/var/lib/credit-score/audit
{{- end -}}

{{/*
Init container named `storage-initializer` (Standard mode only). KServe injects its own
storage initializer into a predictor whose container has STORAGE_URI, unless the pod already
has an init container of that name (KServe CommonStorageInitialization). KServe's downloader
does not understand models:/ URIs, so this container takes its place: it checks that the
registered version or alias exists in MLflow (waiting while MLflow starts or training has not
registered it yet) and fails clearly at the deadline. The model server downloads the artifact.
Knative mode needs neither (no STORAGE_URI; Knative gates init containers behind a flag).
Usage: {{- include "credit-score.serving.modelRefCheck" (dict "context" . "modelUri" "models:/credit-score/1") | nindent 2 }}
*/}}
{{- define "credit-score.serving.modelRefCheck" -}}
{{- $ := .context -}}
- name: storage-initializer
  image: {{ include "credit-score.serveImage" $ }}
  imagePullPolicy: {{ $.Values.image.pullPolicy }}
  command:
    - python
    - -c
    - {{ $.Files.Get "files/check-model-ref.py" | quote }}
  env:
    - name: MODEL_URI
      value: {{ .modelUri | quote }}
    {{- include "credit-score.mlflow.clientEnv" $ | nindent 4 }}
    - name: WAIT_SECONDS
      value: {{ $.Values.serving.loadDeadlineSeconds | quote }}
    - name: HOME
      value: /tmp
  resources:
    {{- include "credit-score.resources" $.Values.initResources | nindent 4 }}
  securityContext:
    {{- include "credit-score.containerSecurityContext" $ | nindent 4 }}
  volumeMounts:
    {{- include "credit-score.tmpMount" $ | nindent 4 }}
{{- end -}}

{{/*
In-cluster base URL of the stable predictor (the helm test target unless tests.url is set).
Usage: {{ include "credit-score.serving.stableUrl" . }}
*/}}
{{- define "credit-score.serving.stableUrl" -}}
{{- printf "http://%s.%s.svc.%s" (include "credit-score.serving.predictorService" (dict "context" . "ref" .Values.serving.stable)) .Release.Namespace .Values.clusterDomain -}}
{{- end -}}
