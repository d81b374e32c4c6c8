{{/* The labels of every object, and the pods' selector (a subset: it may never change). */}}
{{- define "routereflector.selector" -}}
app.kubernetes.io/name: routereflector
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "routereflector.labels" -}}
{{ include "routereflector.selector" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{- define "routereflector.name" -}}
{{- if eq .Release.Name "routereflector" }}routereflector{{ else }}{{ .Release.Name }}-routereflector{{ end }}
{{- end }}
