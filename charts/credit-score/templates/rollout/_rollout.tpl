{{/*
Gateway-mode routing helpers.
*/}}

{{/*
Name of the HTTPRoute and GRPCRoute.
Usage: {{ include "credit-score.rollout.routeName" . }}
*/}}
{{- define "credit-score.rollout.routeName" -}}
{{- include "credit-score.serving.baseName" . -}}
{{- end -}}

{{/*
parentRefs and hostnames shared by both routes.
Usage: {{- include "credit-score.rollout.routeCommon" . | nindent 2 }}
*/}}
{{- define "credit-score.rollout.routeCommon" -}}
parentRefs:
  {{- range .Values.rollout.gateway.parentRefs }}
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: {{ .name }}
    {{- with .namespace }}
    namespace: {{ . }}
    {{- end }}
    {{- with .sectionName }}
    sectionName: {{ . }}
    {{- end }}
  {{- end }}
{{- with .Values.rollout.gateway.hostnames }}
hostnames:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
Weighted backendRefs of a route rule, and the RequestMirror filter in shadow mode. Weights:
stable 100 - trafficPercent, canary trafficPercent (both listed, even at 0 or 100, so that
`helm rollback` and the next step only move numbers). Shadow: stable alone at 100 and every
request mirrored to the canary; mirrored responses are discarded by the Gateway.
Usage: {{- include "credit-score.rollout.backends" (dict "context" . "port" 80) | nindent 6 }}
*/}}
{{- define "credit-score.rollout.backends" -}}
{{- $ := .context -}}
{{- $canary := $.Values.rollout.canary -}}
{{- $stableSvc := include "credit-score.serving.predictorService" (dict "context" $ "ref" $.Values.serving.stable) -}}
{{- if not $canary.enabled }}
backendRefs:
  - name: {{ $stableSvc }}
    port: {{ .port }}
    weight: 100
{{- else }}
{{- $canarySvc := include "credit-score.serving.predictorService" (dict "context" $ "ref" $canary) -}}
{{- if $.Values.rollout.shadow }}
filters:
  - type: RequestMirror
    requestMirror:
      backendRef:
        name: {{ $canarySvc }}
        port: {{ .port }}
backendRefs:
  - name: {{ $stableSvc }}
    port: {{ .port }}
    weight: 100
{{- else }}
backendRefs:
  - name: {{ $stableSvc }}
    port: {{ .port }}
    weight: {{ sub 100 (int $canary.trafficPercent) }}
  - name: {{ $canarySvc }}
    port: {{ .port }}
    weight: {{ $canary.trafficPercent }}
{{- end }}
{{- end }}
{{- end -}}
