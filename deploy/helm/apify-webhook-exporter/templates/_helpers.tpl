{{/* The chart's name, and the release's full name (at most 63 characters). */}}
{{- define "awe.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "awe.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "awe.selectorLabels" -}}
app.kubernetes.io/name: {{ include "awe.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "awe.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "awe.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "awe.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "awe.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding the token, and its key; empty when no token is given (the demo). */}}
{{- define "awe.tokenSecret" -}}
{{- if .Values.token.existingSecret -}}
{{- .Values.token.existingSecret -}}
{{- else if .Values.token.value -}}
{{- printf "%s-token" (include "awe.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "awe.tokenKey" -}}
{{- if .Values.token.existingSecret -}}
{{- .Values.token.existingSecretKey -}}
{{- else -}}
token
{{- end -}}
{{- end -}}

{{- define "awe.webConfigSecret" -}}
{{- if .Values.webConfig.existingSecret -}}
{{- .Values.webConfig.existingSecret -}}
{{- else if .Values.webConfig.config -}}
{{- printf "%s-web-config" (include "awe.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* A map of labels or annotations, every value a string (an unquoted 1 would be rejected). */}}
{{- define "awe.strings" -}}
{{- range $key, $value := . }}
{{ $key }}: {{ toString $value | quote }}
{{- end }}
{{- end -}}

{{/* A probe of the values: an httpGet probe gets the port and scheme; exec, tcpSocket and grpc stay as given. */}}
{{- define "awe.probe" -}}
{{- $probe := deepCopy .probe -}}
{{- if not (or $probe.exec $probe.tcpSocket $probe.grpc) -}}
{{- $_ := set $probe "httpGet" (merge (default dict $probe.httpGet) (dict "port" "metrics" "scheme" .scheme)) -}}
{{- else -}}
{{- $_ := unset $probe "httpGet" -}}
{{- end -}}
{{- toYaml $probe -}}
{{- end -}}

{{/* The one pod's state claim: the user's, or the one pvc.yaml makes. */}}
{{- define "awe.stateClaim" -}}
{{- default (printf "%s-state" (include "awe.fullname" .)) .Values.persistence.existingClaim -}}
{{- end -}}

{{/* A StatefulSet only when several replicas each need a volume of their own. */}}
{{- define "awe.statefulSet" -}}
{{- if and .Values.persistence.enabled (gt (int .Values.replicaCount) 1) -}}
true
{{- end -}}
{{- end -}}

{{- define "awe.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The pod template, shared by the Deployment and the StatefulSet. */}}
{{- define "awe.podTemplate" -}}
{{- $tokenSecret := include "awe.tokenSecret" . -}}
{{- $webSecret := include "awe.webConfigSecret" . -}}
{{- $x := .Values.exporter -}}
metadata:
  labels:
    {{- /* The selector's labels win over podLabels: the pods must match. */}}
    {{- include "awe.strings" (merge (include "awe.selectorLabels" . | fromYaml) .Values.podLabels) | trim | nindent 4 }}
  {{- $ann := dict }}
  {{- if and .Values.token.value (not .Values.token.existingSecret) }}
  {{- $_ := set $ann "checksum/token" (sha256sum .Values.token.value) }}
  {{- end }}
  {{- if and .Values.webConfig.config (not .Values.webConfig.existingSecret) }}
  {{- $_ := set $ann "checksum/web-config" (toYaml .Values.webConfig.config | sha256sum) }}
  {{- end }}
  {{- with merge $ann .Values.podAnnotations }}
  annotations:
    {{- include "awe.strings" . | trim | nindent 4 }}
  {{- end }}
spec:
  serviceAccountName: {{ include "awe.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.automountServiceAccountToken }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  containers:
    - name: exporter
      image: {{ include "awe.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      {{- $args := list }}
      {{- if .Values.demo }}
      {{- $args = append $args "--demo" }}
      {{- end }}
      {{- $args = concat $args (default list .Values.exporter.extraArgs) }}
      {{- with $args }}
      args:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- $env := list
            (dict "name" "APIFY_EXPORTER_LISTEN" "value" (printf "0.0.0.0:%v" $x.port))
            (dict "name" "APIFY_EXPORTER_STATE_FILE" "value" "/var/lib/apify-webhook-exporter/state.json") }}
      {{- if and $tokenSecret (not .Values.demo) }}
      {{- $env = append $env (dict "name" "APIFY_TOKEN_FILE" "value" "/etc/apify-webhook-exporter/token/token") }}
      {{- end }}
      {{- if $webSecret }}
      {{- $env = append $env (dict "name" "APIFY_EXPORTER_WEB_CONFIG" "value" "/etc/apify-webhook-exporter/web/web-config.yml") }}
      {{- end }}
      {{- /* Each setting only when set: else the exporter's own default. */}}
      {{- range $name, $value := dict
            "APIFY_API_BASE_URL" $x.apiBaseUrl
            "APIFY_ACTOR_IDS" (join "," $x.actorIds)
            "APIFY_ACTOR_TASK_IDS" (join "," $x.actorTaskIds)
            "APIFY_WEBHOOK_IDS" (join "," $x.webhookIds)
            "APIFY_EXPORTER_MODE" $x.mode
            "APIFY_EXPORTER_INTERVAL" $x.interval
            "APIFY_EXPORTER_MIN_INTERVAL" $x.minInterval
            "APIFY_EXPORTER_LOOKBACK" $x.lookback
            "APIFY_EXPORTER_METADATA_INTERVAL" $x.metadataInterval
            "APIFY_EXPORTER_AD_HOC" $x.adHoc
            "APIFY_EXPORTER_TIMEOUT" $x.timeout
            "APIFY_EXPORTER_MAX_RPS" $x.maxRps
            "APIFY_EXPORTER_CONCURRENCY" $x.concurrency
            "APIFY_EXPORTER_LOG_FORMAT" $x.logFormat
            "RUST_LOG" $x.logLevel }}
      {{- if and (not (kindIs "invalid" $value)) (ne (toString $value) "") }}
      {{- $env = append $env (dict "name" $name "value" (toString $value)) }}
      {{- end }}
      {{- end }}
      env:
        {{- toYaml (concat $env (default list $x.extraEnv)) | nindent 8 }}
      ports:
        - name: metrics
          containerPort: {{ $x.port }}
          protocol: TCP
      livenessProbe:
        {{- include "awe.probe" (dict "probe" .Values.livenessProbe "scheme" .Values.webConfig.scheme) | nindent 8 }}
      readinessProbe:
        {{- include "awe.probe" (dict "probe" .Values.readinessProbe "scheme" .Values.webConfig.scheme) | nindent 8 }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      volumeMounts:
        - name: state
          mountPath: /var/lib/apify-webhook-exporter
        {{- if and $tokenSecret (not .Values.demo) }}
        - name: token
          mountPath: /etc/apify-webhook-exporter/token
          readOnly: true
        {{- end }}
        {{- if $webSecret }}
        - name: web-config
          mountPath: /etc/apify-webhook-exporter/web
          readOnly: true
        {{- end }}
  volumes:
    {{- if not (include "awe.statefulSet" .) }}
    - name: state
      {{- if .Values.persistence.enabled }}
      persistentVolumeClaim:
        claimName: {{ include "awe.stateClaim" . }}
      {{- else }}
      emptyDir: {}
      {{- end }}
    {{- end }}
    {{- if and $tokenSecret (not .Values.demo) }}
    - name: token
      secret:
        secretName: {{ $tokenSecret }}
        defaultMode: 0440
        items:
          - key: {{ include "awe.tokenKey" . }}
            path: token
    {{- end }}
    {{- if $webSecret }}
    - name: web-config
      projected:
        defaultMode: 0440
        sources:
          - secret:
              name: {{ $webSecret }}
          {{- with .Values.webConfig.tlsSecret }}
          - secret:
              name: {{ . }}
          {{- end }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
