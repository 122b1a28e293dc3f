package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/configfile"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// mockTemplate is a template whose API answers "pong" from a MOCK integration; its stage is a parameter.
const mockTemplate = `Parameters:
  Stage: {Type: String}
Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: pinger, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}
  Ping:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: ping
      RouteResponseSelectionExpression: $default
      Target: !Join [/, [integrations, !Ref Mock]]
  PingResponse:
    Type: AWS::ApiGatewayV2::RouteResponse
    Properties: {ApiId: !Ref Api, RouteId: !Ref Ping, RouteResponseKey: $default}
  Mock:
    Type: AWS::ApiGatewayV2::Integration
    Properties: {ApiId: !Ref Api, IntegrationType: MOCK, RequestTemplates: {$default: '{"statusCode": 200}'}}
  MockResponse:
    Type: AWS::ApiGatewayV2::IntegrationResponse
    Properties: {ApiId: !Ref Api, IntegrationId: !Ref Mock, IntegrationResponseKey: $default, ResponseTemplates: {$default: pong}}
  ApiStage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Api, StageName: !Ref Stage}
  Table:
    Type: AWS::DynamoDB::Table
    Properties: {TableName: !Sub "${Stage}-table"}
  Key:
    Type: AWS::ApiGateway::ApiKey
    Properties: {Value: 0123456789abcdefghij, Enabled: true}
  Plan:
    Type: AWS::ApiGateway::UsagePlan
    Properties: {ApiStages: [{ApiId: !Ref Api, Stage: !Ref ApiStage}]}
  PlanKey:
    Type: AWS::ApiGateway::UsagePlanKey
    Properties: {KeyId: !Ref Key, KeyType: API_KEY, UsagePlanId: !Ref Plan}
`

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestValidateAndImportTemplates(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, filepath.Join(dir, "template.yaml"), mockTemplate)
	bad := writeFile(t, filepath.Join(dir, "bad.yaml"), strings.Replace(mockTemplate, "!Ref Mock", "!Ref Mok", 1))
	cases := []struct {
		name    string
		args    []string
		wantErr bool
		stdout  string
		stderr  string
	}{
		{"valid template", []string{"validate", "--template", good, "--parameter-overrides", "Stage=dev"}, false,
			"template.yaml: ok (1 APIs, 1 routes, 0 functions)\n  Table (AWS::DynamoDB::Table): not created; see --create-tables (table name dev-table)", ""},
		{"SAM override syntax", []string{"validate", "--template", good, "--parameter-overrides", "ParameterKey=Stage,ParameterValue=prod"}, false, "table name prod-table", ""},
		{"missing parameter", []string{"validate", "--template", good}, true, "", "template.yaml:2:3: Parameters.Stage: parameter Stage has no Default and no value was given; pass --parameter-overrides Stage=VALUE"},
		{"unknown parameter", []string{"validate", "--template", good, "--parameter-overrides", "Stage=dev Stag=x"}, true, "", "parameters [Stag] do not exist"},
		{"Ref to an unknown resource", []string{"validate", "--template", bad, "--parameter-overrides", "Stage=dev"}, true, "", "bad.yaml:13:40: Resources.Ping: Mok is neither a parameter nor a resource of this template"},
		{"config file and template together", []string{"validate", "--template", good, "--parameter-overrides", "Stage=dev", writeFile(t, filepath.Join(dir, "c.yaml"), string(defaultConfig))}, false, "c.yaml: ok", ""},
		{"a non-proxy HTTP integration", []string{"validate", "--template", writeFile(t, filepath.Join(dir, "http.yaml"), strings.Replace(mockTemplate, "IntegrationType: MOCK", "IntegrationType: HTTP, IntegrationUri: http://127.0.0.1:1", 1)), "--parameter-overrides", "Stage=dev"}, false,
			"http.yaml: ok", ""},
		{"import without a template", []string{"import"}, true, "", "import needs --template"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			err := run(context.Background(), tc.args, func(string) string { return "" }, &stdout, &stderr)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v; stderr %s", err, tc.wantErr, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String()+errText(err), tc.stderr) {
				t.Fatalf("stdout %q, stderr %q, err %v", stdout.String(), stderr.String(), err)
			}
		})
	}

	t.Run("import writes a config file that loads", func(t *testing.T) {
		var stdout, stderr syncBuffer
		if err := run(context.Background(), []string{"import", "--template", good, "--parameter-overrides", "Stage=dev"}, nil, &stdout, &stderr); err != nil {
			t.Fatalf("import: %v; %s", err, stderr.String())
		}
		out := stdout.String()
		if !strings.Contains(out, "#     Table (AWS::DynamoDB::Table): not created") {
			t.Errorf("the unserved table is not listed in the header:\n%s", out)
		}
		f, err := configfile.Parse("imported.yaml", []byte(out))
		if err != nil {
			t.Fatalf("the imported config does not load: %v\n%s", err, out)
		}
		if len(f.Bundle.APIKeys) != 1 || len(f.Bundle.UsagePlans) != 1 || len(f.Bundle.UsagePlans[0].KeyIDs) != 1 {
			t.Errorf("imported keys %+v and plans %+v, want one of each", f.Bundle.APIKeys, f.Bundle.UsagePlans)
		}
		a := f.Bundle.APIs[0]
		if a.Name != "pinger" || len(a.Routes) != 1 || len(a.Routes[0].RouteResponses) != 1 || len(a.Integrations[0].IntegrationResponses) != 1 || a.Stages[0].StageName != "dev" {
			t.Errorf("imported API %+v", a)
		}
	})
}

// TestServeTemplateCommand runs `serve --template` without a config file and talks to the template's API.
func TestServeTemplateCommand(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, filepath.Join(dir, "template.yaml"), mockTemplate)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--template", path, "--parameter-overrides", "Stage=test", "--listen", "127.0.0.1:0",
			"--control-listen", "", "--data", filepath.Join(dir, "state")}, func(string) string { return "" }, &stdout, &stderr)
	}()
	urlRE := regexp.MustCompile(`ws://(127\.0\.0\.1:\d+/[a-z0-9]{10}/test)`)
	gatewaytest.Eventually(t, 10*time.Second, func() bool {
		select {
		case err := <-done:
			t.Fatalf("serve ended early: %v; stderr %s", err, stderr.String())
		default:
		}
		return urlRE.MatchString(stdout.String())
	}, "no endpoint printed; stdout %q, stderr %q", stdout.String(), stderr.String())
	if strings.Contains(stdout.String(), "/demo/") {
		t.Errorf("the demo API is served beside the template:\n%s", stdout.String())
	}
	c := gatewaytest.Dial(t, "ws://"+urlRE.FindStringSubmatch(stdout.String())[1], nil)
	c.Send(`{"action":"ping"}`)
	if got := c.Read(); got != "pong" {
		t.Errorf("ping: %q, want pong", got)
	}
	logs := stderr.String()
	if n := strings.Count(logs, "resource=Table"); n != 1 {
		t.Errorf("the unserved table is logged %d times, want once:\n%s", n, logs)
	}
	if !strings.Contains(logs, "not created; see --create-tables (table name test-table)") {
		t.Errorf("no log says what happens to the table:\n%s", logs)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}
