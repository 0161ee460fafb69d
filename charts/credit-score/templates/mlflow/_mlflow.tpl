{{/*
MLflow tracking server helpers.
*/}}

{{/*
Name of the MLflow Deployment, Service and ServiceAccount.
Usage: {{ include "credit-score.mlflow.name" . }}
*/}}
{{- define "credit-score.mlflow.name" -}}
{{- include "credit-score.componentName" (dict "context" . "component" "mlflow") -}}
{{- end -}}

{{/*
Tracking URI every client of the chart uses: the in-cluster Service by its fully qualified
name, or mlflow.external.trackingUri when the chart runs no MLflow.
Usage: {{ include "credit-score.mlflow.trackingUri" . }}
*/}}
{{- define "credit-score.mlflow.trackingUri" -}}
{{- if .Values.mlflow.enabled -}}
{{- printf "http://%s.%s.svc.%s:%d" (include "credit-score.mlflow.name" .) .Release.Namespace .Values.clusterDomain (int .Values.mlflow.service.port) -}}
{{- else -}}
{{- .Values.mlflow.external.trackingUri -}}
{{- end -}}
{{- end -}}

{{/*
Host headers MLflow 3 accepts (it answers 403 "Invalid Host header" to any other): the
Service as <svc>, <svc>.<ns>, <svc>.<ns>.svc and <svc>.<ns>.svc.<domain>, each with and
without :port, plus localhost and 127.0.0.1, plus mlflow.extraAllowedHosts. Comma-separated.
Usage: {{ include "credit-score.mlflow.allowedHosts" . }}
*/}}
{{- define "credit-score.mlflow.allowedHosts" -}}
{{- $svc := include "credit-score.mlflow.name" . -}}
{{- $ns := .Release.Namespace -}}
{{- $port := int .Values.mlflow.service.port -}}
{{- $hosts := list -}}
{{- range (list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.%s" $svc $ns .Values.clusterDomain) "localhost" "127.0.0.1") -}}
{{- $hosts = append $hosts . -}}
{{- $hosts = append $hosts (printf "%s:%d" . $port) -}}
{{- end -}}
{{- range .Values.mlflow.extraAllowedHosts -}}
{{- $hosts = append $hosts . -}}
{{- end -}}
{{- join "," $hosts -}}
{{- end -}}

{{/*
Backend store URI argument value. SQLite lives on the data volume; a Postgres URI comes from
the existing Secret through the MLFLOW_BACKEND_STORE_URI environment variable, so it is not
an argument at all (and never visible in the pod spec).
Usage: {{ include "credit-score.mlflow.sqliteUri" . }}
*/}}
{{- define "credit-score.mlflow.sqliteUri" -}}
sqlite:////mlflow/data/mlflow.db
{{- end -}}

{{/*
Artifact destination of the proxied artifact store.
Usage: {{ include "credit-score.mlflow.artifactsDestination" . }}
*/}}
{{- define "credit-score.mlflow.artifactsDestination" -}}
{{- if eq .Values.mlflow.artifacts.type "s3" -}}
{{- $s3 := .Values.mlflow.artifacts.s3 -}}
{{- if $s3.prefix -}}
{{- printf "s3://%s/%s" $s3.bucket (trimAll "/" $s3.prefix) -}}
{{- else -}}
{{- printf "s3://%s" $s3.bucket -}}
{{- end -}}
{{- else -}}
/mlflow/artifacts
{{- end -}}
{{- end -}}

{{/*
Arguments of `mlflow server`, as a YAML list. Appended to mlflow.command.
Usage: args: {{- include "credit-score.mlflow.args" . | nindent 12 }}
*/}}
{{- define "credit-score.mlflow.args" -}}
{{- $m := .Values.mlflow -}}
- --host
- 0.0.0.0
- --port
- {{ $m.service.port | quote }}
- --workers
- {{ $m.workers | quote }}
{{- if eq $m.backendStore.type "sqlite" }}
- --backend-store-uri
- {{ include "credit-score.mlflow.sqliteUri" . }}
{{- end }}
- --serve-artifacts
- --artifacts-destination
- {{ include "credit-score.mlflow.artifactsDestination" . }}
- --allowed-hosts
- {{ include "credit-score.mlflow.allowedHosts" . | quote }}
{{- if $m.auth.enabled }}
- --app-name
- basic-auth
{{- end }}
{{- range $m.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end -}}

{{/*
Whether the MLflow data volume is needed: SQLite backend store or the basic-auth user store.
Usage: {{ if include "credit-score.mlflow.needsDataVolume" . }}...{{ end }}
*/}}
{{- define "credit-score.mlflow.needsDataVolume" -}}
{{- if or (eq .Values.mlflow.backendStore.type "sqlite") .Values.mlflow.auth.enabled -}}true{{- end -}}
{{- end -}}

{{/*
Content of the basic-auth configuration file (MLFLOW_AUTH_CONFIG_PATH). The admin user name
and password are not in it: they come from the existing Secret as MLFLOW_AUTH_ADMIN_*.
Usage: {{ include "credit-score.mlflow.authIni" . }}
*/}}
{{- define "credit-score.mlflow.authIni" -}}
[mlflow]
default_permission = {{ .Values.mlflow.auth.defaultPermission }}
database_uri = sqlite:////mlflow/data/basic_auth.db
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
{{- end -}}

{{/*
Environment of MLflow clients (training Job, predictors, model-reference check): the tracking
URI and, with basic auth (in-cluster or on the external server), the credentials from the
existing Secret.
Usage: env: {{- include "credit-score.mlflow.clientEnv" . | nindent 12 }}
*/}}
{{- define "credit-score.mlflow.clientEnv" -}}
- name: MLFLOW_TRACKING_URI
  value: {{ include "credit-score.mlflow.trackingUri" . | quote }}
{{- if .Values.mlflow.auth.enabled }}
- name: MLFLOW_TRACKING_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ .Values.mlflow.auth.existingSecret }}
      key: {{ .Values.mlflow.auth.usernameKey }}
- name: MLFLOW_TRACKING_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.mlflow.auth.existingSecret }}
      key: {{ .Values.mlflow.auth.passwordKey }}
{{- end }}
{{- end -}}

{{/*
Init container that waits until MLflow answers /health (exempt from MLflow's host check), so
a fresh install does not spend the Job's retries on a server that is still starting.
Usage: {{- include "credit-score.mlflow.waitContainer" . | nindent 8 }}
*/}}
{{- define "credit-score.mlflow.waitContainer" -}}
- name: wait-for-mlflow
  image: {{ include "credit-score.trainImage" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  command:
    - python
    - -c
    - {{ .Files.Get "files/wait-for-mlflow.py" | quote }}
  env:
    - name: MLFLOW_TRACKING_URI
      value: {{ include "credit-score.mlflow.trackingUri" . | quote }}
    - name: WAIT_SECONDS
      value: {{ .Values.training.waitForMlflowSeconds | quote }}
  resources:
    {{- include "credit-score.resources" .Values.initResources | nindent 4 }}
  securityContext:
    {{- include "credit-score.containerSecurityContext" . | nindent 4 }}
  volumeMounts:
    {{- include "credit-score.tmpMount" . | nindent 4 }}
{{- end -}}
