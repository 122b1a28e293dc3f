package awsservice_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/switchboard-gw/switchboard/internal/dynalitetest"
	"github.com/switchboard-gw/switchboard/internal/integration"
	"github.com/switchboard-gw/switchboard/internal/integration/awsservice"
	"github.com/switchboard-gw/switchboard/internal/lambda"
	"github.com/switchboard-gw/switchboard/internal/proxyevent"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/sigv4"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
	"github.com/switchboard-gw/switchboard/internal/vtl"
)

var creds = credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "")

// compile builds a one-route bundle with integration in and returns the compiled integration, as the
// gateway would serve it.
func compile(t *testing.T, in resource.Integration) *snapshot.Integration {
	t.Helper()
	in.IntegrationID = "i1"
	b := &resource.Bundle{APIs: []resource.API{{
		APIID: "abc", Name: "t", ProtocolType: "WEBSOCKET", RouteSelectionExpression: "$request.body.action",
		Routes:       []resource.Route{{RouteID: "r1", RouteKey: "$default", Target: "integrations/i1"}},
		Integrations: []resource.Integration{in},
		Stages:       []resource.Stage{{StageName: "dev"}},
	}}}
	set, err := snapshot.Compile(b)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return set.APIs["abc"].Stages["dev"].Routes["$default"].Integration
}

func run(t *testing.T, inv *awsservice.Invoker, in *snapshot.Integration, body string) (*integration.Response, error) {
	t.Helper()
	req := &integration.Request{Body: []byte(body), Context: &proxyevent.RequestContext{
		EventType: proxyevent.EventMessage, RouteKey: "$default", ConnectionID: "L0SM9cOFvHcCIhw=", RequestID: "req1", Stage: "dev"}}
	mapped, err := integration.MapRequest(in, req)
	if err != nil {
		return nil, err
	}
	resp, err := inv.Invoke(context.Background(), in, mapped)
	if err != nil {
		return nil, err
	}
	return integration.MapResponse(in, mapped, resp)
}

// TestDynamoDBPutItem writes an item with action/PutItem to dynalite, a real DynamoDB implementation,
// as a $connect or message route that stores connections does; the item is then read back with the SDK.
func TestDynamoDBPutItem(t *testing.T) {
	endpoint := dynalitetest.Start(t)
	ctx := context.Background()
	db := dynamodb.New(dynamodb.Options{Region: "us-east-1", Credentials: creds, BaseEndpoint: aws.String(endpoint)})
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String("connections"),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("connectionId"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("connectionId"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	if err := dynamodb.NewTableExistsWaiter(db).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("connections")}, time.Minute,
		func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay, o.MaxDelay = 50*time.Millisecond, time.Second }); err != nil {
		t.Fatalf("table not active: %v", err)
	}
	in := compile(t, resource.Integration{
		IntegrationType: "AWS", IntegrationMethod: "POST",
		IntegrationURI: "arn:aws:apigateway:us-east-1:dynamodb:action/PutItem",
		CredentialsARN: "arn:aws:iam::123456789012:role/apigw-dynamodb",
		RequestTemplates: map[string]string{"$default": `{
  "TableName": "connections",
  "Item": {
    "connectionId": {"S": "$context.connectionId"},
    "name": {"S": "$util.escapeJavaScript($input.path('$.name'))"}
  }
}`},
		TemplateSelectionExpression: `\$default`,
		IntegrationResponses: []resource.IntegrationResponse{
			{IntegrationResponseKey: "/2\\d\\d/", ResponseTemplates: map[string]string{"$default": `{"stored": true}`}},
			{IntegrationResponseKey: "$default", ResponseTemplates: map[string]string{"$default": `{"stored": false, "error": $input.json('$.message')}`}},
		},
		IntegrationResponseSelectionExpression: "${integration.response.statuscode}",
	})
	inv := awsservice.New(awsservice.Config{Credentials: creds, Region: "us-east-1",
		Getenv: func(k string) string { return map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": endpoint}[k] }})
	resp, err := run(t, inv, in, `{"name": "ada"}`)
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Body) != `{"stored": true}` {
		t.Fatalf("reply = %d %q", resp.StatusCode, resp.Body)
	}
	got, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("connections"),
		Key: map[string]types.AttributeValue{"connectionId": &types.AttributeValueMemberS{Value: "L0SM9cOFvHcCIhw="}}})
	if err != nil {
		t.Fatal(err)
	}
	if name, ok := got.Item["name"].(*types.AttributeValueMemberS); !ok || name.Value != "ada" {
		t.Fatalf("item = %#v", got.Item)
	}
	// A table that does not exist: DynamoDB answers 400, the $default integration response renders it.
	in.Templates["$default"] = mustParse(t, `{"TableName": "nope", "Item": {"k": {"S": "v"}}}`)
	resp, err = run(t, inv, in, `{}`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(resp.Body), `{"stored": false, "error": "`) || resp.StatusCode != 400 {
		t.Fatalf("reply = %d %q", resp.StatusCode, resp.Body)
	}
}

// TestSQSSendMessage sends a message with the path form and a form-encoded template, the way API
// Gateway's SQS examples do, to a stand-in that verifies the SigV4 signature with the sqs signing name.
func TestSQSSendMessage(t *testing.T) {
	verifier := &sigv4.Verifier{Service: "sqs", Region: "eu-west-1",
		Credentials: sigv4.StaticCredentials{"AKIDEXAMPLE": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}}
	var mu sync.Mutex
	var got url.Values
	var gotPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if _, err := verifier.Verify(r, body); err != nil {
			http.Error(w, `<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code></Error></ErrorResponse>`, http.StatusForbidden)
			return
		}
		form, _ := url.ParseQuery(string(body))
		mu.Lock()
		got, gotPath = form, r.URL.Path
		mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, `<SendMessageResponse><SendMessageResult><MessageId>m-1</MessageId></SendMessageResult></SendMessageResponse>`)
	}))
	t.Cleanup(srv.Close)
	in := compile(t, resource.Integration{
		IntegrationType: "AWS", IntegrationMethod: "POST",
		IntegrationURI:    "arn:aws:apigateway:eu-west-1:sqs:path/123456789012/chat",
		RequestParameters: map[string]string{"integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"},
		RequestTemplates:  map[string]string{"$default": `Action=SendMessage&MessageBody=$util.urlEncode($input.body)&MessageAttribute.1.Name=connectionId&MessageAttribute.1.Value.StringValue=$context.connectionId&MessageAttribute.1.Value.DataType=String`},
		IntegrationResponses: []resource.IntegrationResponse{
			{IntegrationResponseKey: "/2\\d\\d/", ResponseTemplates: map[string]string{"$default": `{"queued": true}`}},
			{IntegrationResponseKey: "$default", ResponseTemplates: map[string]string{"$default": `{"queued": false}`}},
		},
		IntegrationResponseSelectionExpression: "${integration.response.statuscode}",
	})
	env := map[string]string{"AWS_ENDPOINT_URL": srv.URL}
	inv := awsservice.New(awsservice.Config{Credentials: creds, Region: "us-east-1", Getenv: func(k string) string { return env[k] }})
	resp, err := run(t, inv, in, `{"text": "hi & bye"}`)
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Body) != `{"queued": true}` {
		t.Fatalf("reply = %d %q", resp.StatusCode, resp.Body)
	}
	mu.Lock()
	defer mu.Unlock()
	if gotPath != "/123456789012/chat" || got.Get("Action") != "SendMessage" || got.Get("MessageBody") != `{"text": "hi & bye"}` ||
		got.Get("MessageAttribute.1.Value.StringValue") != "L0SM9cOFvHcCIhw=" {
		t.Fatalf("stand-in got %s %v", gotPath, got)
	}

	// Signed for the wrong service, the stand-in refuses: the 403 goes to the $default response.
	verifier.Service = "sns"
	resp, err = run(t, inv, in, `{}`)
	if err != nil || string(resp.Body) != `{"queued": false}` {
		t.Fatalf("reply = %v %v", resp, err)
	}
}

type fakeFunctions struct {
	payload []byte
	result  *lambda.Result
}

func (f *fakeFunctions) Invoke(_ context.Context, fn string, payload []byte) (*lambda.Result, error) {
	if !strings.HasSuffix(fn, ":function:chat") {
		return nil, lambda.ErrFunctionNotFound
	}
	f.payload = payload
	return f.result, nil
}

// TestLambdaCustomIntegration: an AWS integration with a Lambda URI invokes the function with the
// rendered template (not a proxy event); a function error is matched by its errorMessage, as
// integrationResponseSelectionExpression $integration.response.body.errorMessage (AWS's default) says.
func TestLambdaCustomIntegration(t *testing.T) {
	in := compile(t, resource.Integration{
		IntegrationType:  "AWS",
		IntegrationURI:   "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:chat/invocations",
		RequestTemplates: map[string]string{"$default": `{"who": "$context.connectionId", "said": $input.json('$.text')}`},
		IntegrationResponses: []resource.IntegrationResponse{
			{IntegrationResponseKey: "/.*not allowed.*/", ResponseTemplates: map[string]string{"$default": `{"error": "forbidden"}`}},
			{IntegrationResponseKey: "$default", ResponseTemplates: map[string]string{"$default": `{"reply": $input.json('$.reply')}`}},
		},
	})
	fn := &fakeFunctions{result: &lambda.Result{Payload: []byte(`{"reply": "pong"}`)}}
	inv := awsservice.New(awsservice.Config{Functions: fn})
	resp, err := run(t, inv, in, `{"text": "ping"}`)
	if err != nil {
		t.Fatal(err)
	}
	if string(fn.payload) != `{"who": "L0SM9cOFvHcCIhw=", "said": "ping"}` {
		t.Errorf("function got %q", fn.payload)
	}
	if string(resp.Body) != `{"reply": "pong"}` {
		t.Errorf("reply = %q", resp.Body)
	}
	fn.result = &lambda.Result{FunctionError: "Unhandled", Payload: []byte(`{"errorMessage": "this is not allowed", "errorType": "Error"}`)}
	resp, err = run(t, inv, in, `{"text": "ping"}`)
	if err != nil || string(resp.Body) != `{"error": "forbidden"}` {
		t.Errorf("reply = %v %v", resp, err)
	}
}

func TestParseURI(t *testing.T) {
	cases := []struct {
		uri     string
		want    awsservice.Target
		wantErr bool
	}{
		{"arn:aws:apigateway:us-east-1:dynamodb:action/PutItem", awsservice.Target{Region: "us-east-1", Service: "dynamodb", Action: "PutItem"}, false},
		{"arn:aws:apigateway:eu-west-1:sqs:path/123456789012/q", awsservice.Target{Region: "eu-west-1", Service: "sqs", Path: "123456789012/q"}, false},
		{"arn:aws:apigateway:us-east-1:dynamodb:PutItem", awsservice.Target{}, true},
		{"arn:aws:lambda:us-east-1:1:function:f", awsservice.Target{}, true},
		{"https://example.com", awsservice.Target{}, true},
		{"arn:aws:apigateway:us-west-2:s3:path/my-bucket/key", awsservice.Target{Region: "us-west-2", Service: "s3", Path: "my-bucket/key"}, false},
		{"arn:aws:apigateway::sqs:action/SendMessage", awsservice.Target{Service: "sqs", Action: "SendMessage"}, false},
		{"arn:aws-us-gov:apigateway:us-gov-west-1:sqs:action/SendMessage", awsservice.Target{Region: "us-gov-west-1", Service: "sqs", Action: "SendMessage"}, false},
		// The service and the region make the endpoint's host: nothing that would make another host.
		{"arn:aws:apigateway:us-east-1:evil.example/x:action/PutItem", awsservice.Target{}, true},
		{"arn:aws:apigateway:us-east-1:user@evil.example:action/PutItem", awsservice.Target{}, true},
		{"arn:aws:apigateway:us-east-1:abcd123456.execute-api:path/x", awsservice.Target{}, true}, // anybody's API on AWS
		{"arn:aws:apigateway:compute-1:ec2-54-1-2-3:action/X", awsservice.Target{}, true},         // anybody's EC2 instance
		{"arn:aws:apigateway:us-west-2:runtime.sagemaker:path/endpoints/e/invocations", awsservice.Target{}, true},
		{"arn:aws:apigateway:us-east-1:dynamodb.:action/PutItem", awsservice.Target{}, true},
		{"arn:aws:apigateway:x?y:dynamodb:action/PutItem", awsservice.Target{}, true},
		{"arn:aws:apigateway:US-EAST-1:dynamodb:action/PutItem", awsservice.Target{}, true},
		{"arn:aws:apigateway:us-east-1:DynamoDB:action/PutItem", awsservice.Target{}, true},
		{"arn:aws-cn:apigateway:cn-north-1:sqs:action/SendMessage", awsservice.Target{}, true}, // amazonaws.com.cn
		{"arn:evil:apigateway:us-east-1:sqs:action/SendMessage", awsservice.Target{}, true},
	}
	for _, tc := range cases {
		got, err := awsservice.ParseURI(tc.uri)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseURI(%q) = %+v, %v", tc.uri, got, err)
		}
		if tc.wantErr && !errors.Is(err, awsservice.ErrBadURI) {
			t.Errorf("ParseURI(%q) error %v is not ErrBadURI", tc.uri, err)
		}
	}
}

func TestEndpoint(t *testing.T) {
	env := map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000/", "AWS_ENDPOINT_URL": "http://localhost:4566"}
	get := func(k string) string { return env[k] }
	for _, tc := range []struct{ service, want string }{
		{"dynamodb", "http://127.0.0.1:8000"},
		{"sqs", "http://localhost:4566"},
	} {
		if got := awsservice.Endpoint(get, tc.service, "us-east-1"); got != tc.want {
			t.Errorf("Endpoint(%s) = %s, want %s", tc.service, got, tc.want)
		}
	}
	if got := awsservice.Endpoint(func(string) string { return "" }, "sqs", "eu-west-1"); got != "https://sqs.eu-west-1.amazonaws.com" {
		t.Errorf("default endpoint = %s", got)
	}
}

func mustParse(t *testing.T, src string) *vtl.Template {
	t.Helper()
	tp, err := vtl.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// FuzzParseURI holds ParseURI to what the endpoint needs: a URI it accepts makes, with no endpoint
// override, an https URL whose host is four labels — one service label, a region's name (letters in
// dash-separated words, then a number), amazonaws, com — and nothing else, and it never panics.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{"arn:aws:apigateway:us-east-1:dynamodb:action/PutItem", "arn:aws:apigateway:us-west-2:runtime.sagemaker:path/x",
		"arn:aws:apigateway:us-east-1:evil.example/x:action/PutItem", "arn:aws:apigateway::sqs:path/", "arn:aws:apigateway:a:b"} {
		f.Add(s)
	}
	noEnv := func(string) string { return "" }
	f.Fuzz(func(t *testing.T, uri string) {
		tg, err := awsservice.ParseURI(uri)
		if err != nil {
			if !errors.Is(err, awsservice.ErrBadURI) {
				t.Fatalf("ParseURI(%q): %v is not ErrBadURI", uri, err)
			}
			return
		}
		region := tg.Region
		if region == "" {
			region = "us-east-1"
		}
		u, err := url.Parse(awsservice.Endpoint(noEnv, tg.Service, region))
		if err != nil || u.Scheme != "https" || u.Path != "" || u.User != nil || u.Port() != "" || u.RawQuery != "" || u.Fragment != "" {
			t.Fatalf("ParseURI(%q) = %+v: endpoint %v, %v", uri, tg, u, err)
		}
		labels := strings.Split(u.Hostname(), ".")
		if len(labels) != 4 || labels[2] != "amazonaws" || labels[3] != "com" || labels[0] == "" {
			t.Fatalf("ParseURI(%q) = %+v: endpoint host %q", uri, tg, u.Host)
		}
		words := strings.Split(labels[1], "-")
		if len(words) < 3 || len(words[0]) != 2 {
			t.Fatalf("ParseURI(%q) = %+v: %q is not a region's name", uri, tg, labels[1])
		}
		for i, w := range words {
			last := i == len(words)-1
			for _, c := range w {
				if last && (c < '0' || c > '9') || !last && (c < 'a' || c > 'z') || w == "" {
					t.Fatalf("ParseURI(%q) = %+v: %q is not a region's name", uri, tg, labels[1])
				}
			}
		}
	})
}
