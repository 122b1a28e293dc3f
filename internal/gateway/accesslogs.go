package gateway

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/accesslog"
	"github.com/switchboard-gw/switchboard/internal/dispatch"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// StdoutDestination is the accessLogSettings.destinationArn that sends a stage's access log to the
// gateway's standard output (Options.Stdout) instead of a file.
const StdoutDestination = "stdout"

// stageKey names a stage across APIs.
type stageKey struct{ apiID, stage string }

// stageLog is one stage's access log: its compiled format and where its lines go.
type stageLog struct {
	format *accesslog.Format
	sink   *accesslog.Sink
}

// logGroup maps a destinationArn to a file name: arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*] becomes
// NAME with "/" replaced by "_", plus ".log". Anything else is an error that says what is expected.
func logGroup(arn string) (string, error) {
	parts := strings.SplitN(arn, ":", 7)
	if len(parts) < 7 || parts[0] != "arn" || parts[2] != "logs" || parts[5] != "log-group" {
		return "", fmt.Errorf("destinationArn %q is not a CloudWatch Logs log group ARN (arn:aws:logs:REGION:ACCOUNT:log-group:NAME) nor %q", arn, StdoutDestination)
	}
	name := strings.TrimSuffix(parts[6], ":*")
	if name == "" || strings.Contains(name, "..") || strings.ContainsAny(name, `\:*`) {
		return "", fmt.Errorf("destinationArn %q: the log group name %q cannot name a file", arn, name)
	}
	return strings.ReplaceAll(name, "/", "_") + ".log", nil
}

// checkAccessLogs validates every stage's accessLogSettings: a format AWS would accept (only the
// $context variables of WebSocket access logs, $context.requestId present, one line, ≤ 3 KB) and a
// destination that names a log group or stdout.
func checkAccessLogs(b *resource.Bundle) error {
	var errs resource.FieldErrors
	for i, a := range b.APIs {
		for j, st := range a.Stages {
			s := st.AccessLogSettings
			if s == nil || (s.Format == "" && s.DestinationARN == "") {
				continue
			}
			path := resource.FieldPath(resource.IndexPath(resource.FieldPath(resource.IndexPath("apis", i), "stages"), j), "accessLogSettings")
			compile := accesslog.Compile
			if a.IsHTTP() {
				compile = accesslog.CompileHTTP
			}
			if _, err := compile(s.Format); err != nil {
				errs = append(errs, &resource.FieldError{Path: resource.FieldPath(path, "format"), Message: err.Error()})
			}
			if s.DestinationARN == "" {
				errs = append(errs, &resource.FieldError{Path: resource.FieldPath(path, "destinationArn"), Message: "destinationArn is required with a format"})
			} else if s.DestinationARN != StdoutDestination {
				if _, err := logGroup(s.DestinationARN); err != nil {
					errs = append(errs, &resource.FieldError{Path: resource.FieldPath(path, "destinationArn"), Message: err.Error()})
				}
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// openDestination opens an access-log destination: the gateway's stdout, or a file under the log
// directory, appended to.
func (g *Gateway) openDestination(dest string) (io.WriteCloser, error) {
	if dest == StdoutDestination {
		return nopCloser{g.opts.Stdout}, nil
	}
	name, err := logGroup(dest)
	if err != nil {
		return nil, err
	}
	if g.opts.LogDir == "" {
		return nil, fmt.Errorf("access log %s: no log directory (Options.LogDir)", dest)
	}
	if err := os.MkdirAll(g.opts.LogDir, 0o755); err != nil {
		return nil, fmt.Errorf("access log directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(g.opts.LogDir, name), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("access log %s: %w", dest, err)
	}
	return f, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// accessLogs builds the stages' access logs of bundle b (validated by checkAccessLogs).
func (g *Gateway) accessLogs(b *resource.Bundle) (map[stageKey]stageLog, error) {
	out := map[stageKey]stageLog{}
	for _, a := range b.APIs {
		for _, st := range a.Stages {
			s := st.AccessLogSettings
			if s == nil || s.Format == "" || s.DestinationARN == "" {
				continue
			}
			compile := accesslog.Compile
			if a.IsHTTP() {
				compile = accesslog.CompileHTTP
			}
			f, err := compile(s.Format)
			if err != nil {
				return nil, err
			}
			sink, err := g.sinks.Get(s.DestinationARN)
			if err != nil {
				return nil, err
			}
			out[stageKey{a.APIID, st.StageName}] = stageLog{format: f, sink: sink}
		}
	}
	return out, nil
}

// responseType names an outcome's error for $context.error.responseType, in API Gateway's gateway
// response types.
func responseType(o *dispatch.Outcome) string {
	switch {
	case o.Error == "":
		return ""
	case o.Reason == "throttled":
		return "THROTTLED"
	case o.Reason == "api_key" && o.Status == 429:
		return "QUOTA_EXCEEDED"
	case o.Reason == "api_key":
		return "INVALID_API_KEY"
	case o.Reason == "authorizer" && o.Status == 401:
		return "UNAUTHORIZED"
	case o.Reason == "authorizer" && o.Status >= 500:
		return "AUTHORIZER_FAILURE"
	case o.Reason == "authorizer" || o.Reason == "iam":
		return "ACCESS_DENIED"
	case o.Reason == "no_route" || o.Reason == "no_stage":
		return "MISSING_AUTHENTICATION_TOKEN"
	case o.Reason == "integration_timeout":
		return "INTEGRATION_TIMEOUT"
	case o.Status >= 500:
		return "INTEGRATION_FAILURE"
	}
	return "DEFAULT_4XX"
}
