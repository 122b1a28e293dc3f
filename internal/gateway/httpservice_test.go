package gateway_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// serviceCall is what the fake AWS endpoint received.
type serviceCall struct {
	Method, Path, Query, Target, ContentType, Authorization string
	Body                                                    string
}

// TestHTTPAPIServiceIntegrations: AWS_PROXY integrations with an integrationSubtype send the action's
// request, SigV4-signed with the gateway's credentials for the right service and region, to the endpoint
// AWS_ENDPOINT_URL_<SERVICE> names, with the requestParameters evaluated against the client's request;
// the service's answer is the client's.
func TestHTTPAPIServiceIntegrations(t *testing.T) {
	var mu sync.Mutex
	var calls []serviceCall
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		calls = append(calls, serviceCall{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Target: r.Header.Get("X-Amz-Target"),
			ContentType: r.Header.Get("Content-Type"), Authorization: r.Header.Get("Authorization"), Body: string(body)})
		mu.Unlock()
		if strings.Contains(string(body), "missing-queue") {
			w.Header().Set("Content-Type", "text/xml")
			w.WriteHeader(400)
			_, _ = io.WriteString(w, "<ErrorResponse><Error><Code>AWS.SimpleQueueService.NonExistentQueue</Code></Error></ErrorResponse>")
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(fake.Close)
	for _, k := range []string{"SQS", "EVENTBRIDGE", "KINESIS", "SFN"} {
		t.Setenv("AWS_ENDPOINT_URL_"+k, fake.URL)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDSERVICETEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	g := gatewaytest.Start(t, `
apis:
  - name: svc
    apiId: svc
    protocolType: HTTP
    integrations:
      - integrationId: sqs
        integrationType: AWS_PROXY
        integrationSubtype: SQS-SendMessage
        requestParameters:
          QueueUrl: $request.header.x-queue
          MessageBody: $request.body.message
          MessageGroupId: group-${request.path.id}
          MessageAttributes: '{"kind": {"DataType": "String", "StringValue": "pet"}}'
      - integrationId: regional
        integrationType: AWS_PROXY
        integrationSubtype: SQS-SendMessage
        requestParameters: {QueueUrl: "http://sqs.local/123456789012/pets", MessageBody: $request.body.message, Region: $request.header.x-region}
      - integrationId: events
        integrationType: AWS_PROXY
        integrationSubtype: EventBridge-PutEvents
        requestParameters: {Detail: $request.body, DetailType: Created, Source: pets, Resources: "a,b", Region: eu-west-1}
      - integrationId: kinesis
        integrationType: AWS_PROXY
        integrationSubtype: Kinesis-PutRecord
        requestParameters: {StreamName: pets, Data: $request.body, PartitionKey: $context.requestId}
      - integrationId: sfn
        integrationType: AWS_PROXY
        integrationSubtype: StepFunctions-StartExecution
        requestParameters: {StateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:pets", Input: $request.body}
    routes:
      - {routeKey: "POST /send/{id}", target: integrations/sqs}
      - {routeKey: "POST /events", target: integrations/events}
      - {routeKey: "POST /regional", target: integrations/regional}
      - {routeKey: "POST /records", target: integrations/kinesis}
      - {routeKey: "POST /run", target: integrations/sfn}
    stages: [{stageName: $default}]
`)
	post := func(path, body string, header ...string) (int, string) {
		req, _ := http.NewRequest("POST", g.HTTPURL+"/svc"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	last := func() serviceCall {
		mu.Lock()
		defer mu.Unlock()
		if len(calls) == 0 {
			t.Fatal("the service was not called")
		}
		return calls[len(calls)-1]
	}
	t.Run("SQS-SendMessage", func(t *testing.T) {
		status, body := post("/send/7", `{"message":"hello"}`, "X-Queue", "http://sqs.local/123456789012/pets")
		if status != 200 || body != `{"ok":true}` {
			t.Fatalf("%d %s", status, body)
		}
		c := last()
		form, _ := url.ParseQuery(c.Body)
		if c.Query != "Action=SendMessage" || c.ContentType != "application/x-www-form-urlencoded" ||
			form.Get("QueueUrl") != "http://sqs.local/123456789012/pets" || form.Get("MessageBody") != "hello" ||
			form.Get("MessageGroupId") != "group-7" || form.Get("MessageAttribute.1.Name") != "kind" ||
			form.Get("MessageAttribute.1.Value.StringValue") != "pet" {
			t.Fatalf("SQS got %+v", c)
		}
		if !strings.HasPrefix(c.Authorization, "AWS4-HMAC-SHA256 Credential=AKIDSERVICETEST/") || !strings.Contains(c.Authorization, "/us-east-1/sqs/aws4_request") {
			t.Fatalf("Authorization %q", c.Authorization)
		}
	})
	t.Run("the service's error is the client's", func(t *testing.T) {
		status, body := post("/send/7", `{"message":"x"}`, "X-Queue", "http://sqs.local/123456789012/missing-queue")
		if status != 400 || !strings.Contains(body, "NonExistentQueue") {
			t.Fatalf("%d %s", status, body)
		}
	})
	t.Run("a required parameter without a value", func(t *testing.T) {
		if status, body := post("/send/7", `{"message":"x"}`); status != 400 || body != `{"message":"Bad Request"}` {
			t.Fatalf("%d %s", status, body)
		}
	})
	t.Run("a Region from the request", func(t *testing.T) {
		if status, body := post("/regional", `{"message":"x"}`, "X-Region", "eu-west-2"); status != 200 {
			t.Fatalf("%d %s", status, body)
		}
		if c := last(); !strings.Contains(c.Authorization, "/eu-west-2/sqs/aws4_request") {
			t.Fatalf("Authorization %q, want it signed for eu-west-2", c.Authorization)
		}
	})
	// The region makes the endpoint's host name: a colon in it made the URI name another service,
	// {id}.execute-api — anybody's API on AWS — and the gateway sent its signed request there.
	t.Run("a Region from the request that is not a region", func(t *testing.T) {
		for _, region := range []string{"us-east-1:abcd123456.execute-api:path/x", "compute-1:ec2-54-1-2-3:action/SendMessage", "evil.example#"} {
			mu.Lock()
			before := len(calls)
			mu.Unlock()
			if status, body := post("/regional", `{"message":"x"}`, "X-Region", region); status != 400 || body != `{"message":"Bad Request"}` {
				t.Fatalf("Region %q: %d %s, want 400", region, status, body)
			}
			mu.Lock()
			after := len(calls)
			mu.Unlock()
			if after != before {
				t.Fatalf("Region %q: the service was called", region)
			}
		}
	})
	t.Run("EventBridge-PutEvents", func(t *testing.T) {
		if status, _ := post("/events", `{"name":"Rex"}`); status != 200 {
			t.Fatalf("status %d", status)
		}
		c := last()
		var doc struct{ Entries []map[string]any }
		_ = json.Unmarshal([]byte(c.Body), &doc)
		if c.Target != "AWSEvents.PutEvents" || len(doc.Entries) != 1 || doc.Entries[0]["Detail"] != `{"name":"Rex"}` ||
			doc.Entries[0]["Source"] != "pets" || fmt.Sprint(doc.Entries[0]["Resources"]) != "[a b]" || !strings.Contains(c.Authorization, "/eu-west-1/events/aws4_request") {
			t.Fatalf("EventBridge got %+v", c)
		}
	})
	t.Run("Kinesis-PutRecord", func(t *testing.T) {
		if status, _ := post("/records", `abc`); status != 200 {
			t.Fatalf("status %d", status)
		}
		c := last()
		var doc map[string]string
		_ = json.Unmarshal([]byte(c.Body), &doc)
		if c.Target != "Kinesis_20131202.PutRecord" || doc["StreamName"] != "pets" || doc["Data"] != "YWJj" || len(doc["PartitionKey"]) != 16 {
			t.Fatalf("Kinesis got %+v", c)
		}
	})
	t.Run("StepFunctions-StartExecution", func(t *testing.T) {
		if status, _ := post("/run", `{"a":1}`); status != 200 {
			t.Fatalf("status %d", status)
		}
		c := last()
		if c.Target != "AWSStepFunctions.StartExecution" || !strings.Contains(c.Body, `"Input":"{\"a\":1}"`) || !strings.Contains(c.Authorization, "/states/aws4_request") {
			t.Fatalf("Step Functions got %+v", c)
		}
	})
}
