package cfntemplate

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// exprTemplate is a template whose only output is expr, with parameters, mappings, conditions and
// resources for expr to use.
func exprTemplate(expr string) string {
	return `
Parameters:
  Env: {Type: String, Default: dev}
  Count: {Type: Number, Default: 3}
  Hosts: {Type: CommaDelimitedList, Default: "a.example, b.example"}
Mappings:
  Regions:
    us-east-1: {Short: use1}
    eu-west-1: {Short: euw1}
Conditions:
  IsDev: !Equals [!Ref Env, dev]
  IsProd: !Not [!Condition IsDev]
  Never: !And [!Condition IsDev, !Condition IsProd]
Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: a, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}
  Table:
    Type: AWS::DynamoDB::Table
    Properties: {TableName: connections}
  Unnamed:
    Type: AWS::DynamoDB::Table
  Role:
    Type: AWS::IAM::Role
    Properties: {RoleName: runner}
  ProdOnly:
    Type: AWS::SNS::Topic
    Condition: IsProd
Outputs:
  Out:
    Value: ` + expr + "\n"
}

func evalOutput(t *testing.T, expr string, opts Options) (string, error) {
	t.Helper()
	if opts.StackName == "" {
		opts.StackName = "demo"
	}
	tpl, err := Parse("t.yaml", []byte(exprTemplate(expr)), t.TempDir(), opts)
	if err != nil {
		return "", err
	}
	if len(tpl.Outputs) != 1 {
		t.Fatalf("outputs: %+v", tpl.Outputs)
	}
	return tpl.Outputs[0].Value, nil
}

func TestIntrinsics(t *testing.T) {
	tests := []struct {
		name, expr, want string
		opts             Options
	}{
		{name: "Ref parameter default", expr: "!Ref Env", want: "dev"},
		{name: "Ref parameter override", expr: "!Ref Env", want: "prod", opts: Options{Parameters: map[string]string{"Env": "prod"}}},
		{name: "Ref number parameter", expr: "!Ref Count", want: "3"},
		{name: "Ref list parameter joined", expr: `!Join ["|", !Ref Hosts]`, want: "a.example|b.example"},
		{name: "long-form Ref", expr: "{Ref: Env}", want: "dev"},
		{name: "AWS::Region", expr: "!Ref AWS::Region", want: "eu-west-1", opts: Options{Region: "eu-west-1"}},
		{name: "AWS::AccountId", expr: "!Ref AWS::AccountId", want: "123456789012"},
		{name: "AWS::StackName", expr: "!Ref AWS::StackName", want: "demo"},
		{name: "AWS::Partition in China", expr: "!Ref AWS::Partition", want: "aws-cn", opts: Options{Region: "cn-north-1"}},
		{name: "AWS::URLSuffix in China", expr: "!Ref AWS::URLSuffix", want: "amazonaws.com.cn", opts: Options{Region: "cn-north-1"}},
		{name: "AWS::URLSuffix", expr: "!Ref AWS::URLSuffix", want: "amazonaws.com"},
		{name: "AWS::NoValue drops a list item", expr: `!Join [",", [a, !Ref AWS::NoValue, b]]`, want: "a,b"},
		{name: "AWS::NotificationARNs is empty", expr: `!Join [",", !Ref AWS::NotificationARNs]`, want: ""},
		{name: "Ref API is its id", expr: "!Ref Api", want: stableID(10, lowerAlnum, "api", "demo", "Api")},
		{name: "Ref table with a name", expr: "!Ref Table", want: "connections"},
		{name: "Ref table without a name", expr: "!Ref Unnamed", want: "demo-Unnamed-" + stableID(12, upperAlnum, "name", "demo", "Unnamed")},
		{name: "GetAtt table Arn", expr: "!GetAtt Table.Arn", want: "arn:aws:dynamodb:us-east-1:123456789012:table/connections"},
		{name: "GetAtt short form with a list", expr: "!GetAtt [Role, Arn]", want: "arn:aws:iam::123456789012:role/runner"},
		{name: "GetAtt list form", expr: "{Fn::GetAtt: [Role, Arn]}", want: "arn:aws:iam::123456789012:role/runner"},
		{name: "GetAtt API endpoint", expr: "!GetAtt Api.ApiEndpoint", want: "wss://" + stableID(10, lowerAlnum, "api", "demo", "Api") + ".execute-api.us-east-1.amazonaws.com"},
		{name: "Sub with pseudo parameters", expr: `!Sub "${AWS::Region}/${Env}/${Table}"`, want: "us-east-1/dev/connections"},
		{name: "Sub with GetAtt", expr: `!Sub "${Table.Arn}"`, want: "arn:aws:dynamodb:us-east-1:123456789012:table/connections"},
		{name: "Sub literal ${!…}", expr: `!Sub "${!Literal}-${Env}"`, want: "${Literal}-dev"},
		{name: "Sub with variables", expr: `!Sub ["${A}-${Env}", {A: !Ref Count}]`, want: "3-dev"},
		{name: "long-form Sub", expr: `{Fn::Sub: "x-${Env}"}`, want: "x-dev"},
		{name: "Join", expr: `!Join ["", [a, !Ref Env, c]]`, want: "adevc"},
		{name: "Select", expr: `!Select [1, [a, b, c]]`, want: "b"},
		{name: "Select with a string index", expr: `!Select ["2", [a, b, c]]`, want: "c"},
		{name: "Split then Select", expr: `!Select [1, !Split [".", "x.y.z"]]`, want: "y"},
		{name: "If true", expr: `!If [IsDev, yes, no]`, want: "yes"},
		{name: "If false", expr: `!If [IsProd, yes, no]`, want: "no"},
		{name: "If with override", expr: `!If [IsProd, yes, no]`, want: "yes", opts: Options{Parameters: map[string]string{"Env": "prod"}}},
		{name: "Equals as a value", expr: `!Equals [a, a]`, want: "true"},
		{name: "Equals number and string", expr: `!Equals [!Ref Count, "3"]`, want: "true"},
		{name: "And", expr: `!And [!Condition IsDev, !Equals [x, x]]`, want: "true"},
		{name: "Or", expr: `!Or [!Condition IsProd, !Equals [x, y]]`, want: "false"},
		{name: "Not", expr: `!Not [!Condition IsProd]`, want: "true"},
		{name: "condition of conditions", expr: `!If [Never, yes, no]`, want: "no"},
		{name: "FindInMap", expr: `!FindInMap [Regions, !Ref AWS::Region, Short]`, want: "euw1", opts: Options{Region: "eu-west-1"}},
		{name: "Base64", expr: `!Base64 hello`, want: "aGVsbG8="},
		{name: "GetAZs of the current region", expr: `!Select [0, !GetAZs ""]`, want: "us-east-1a"},
		{name: "GetAZs of a region", expr: `!Select [2, !GetAZs eu-west-1]`, want: "eu-west-1c"},
		{name: "nested intrinsics", expr: `!Join ["-", [!Select [0, !Split [",", !Sub "${Env},x"]], !FindInMap [Regions, us-east-1, Short]]]`, want: "dev-use1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := evalOutput(t, tt.expr, tt.opts)
			if err != nil {
				t.Fatalf("%s: %v", tt.expr, err)
			}
			if got != tt.want {
				t.Errorf("%s = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}
}

func TestIntrinsicErrors(t *testing.T) {
	tests := []struct {
		name, expr, want string
		opts             Options
	}{
		{name: "ImportValue", expr: "!ImportValue shared-table", want: "Fn::ImportValue reads another stack's exports"},
		{name: "Cidr", expr: `!Cidr ["10.0.0.0/16", 2, 8]`, want: "Fn::Cidr"},
		{name: "unknown long-form function", expr: "{Fn::Frobnicate: [a]}", want: "unknown intrinsic function Fn::Frobnicate"},
		{name: "unknown tag", expr: "!Frobnicate a", want: "unknown intrinsic function !Frobnicate"},
		{name: "Ref to nothing", expr: "!Ref Nope", want: "Nope is neither a parameter nor a resource of this template"},
		{name: "unknown pseudo parameter", expr: "!Ref AWS::Nope", want: "AWS::Nope is not a pseudo parameter"},
		{name: "GetAtt unknown attribute", expr: "!GetAtt Api.Nope", want: `Api (AWS::ApiGatewayV2::Api) has no attribute "Nope"`},
		{name: "GetAtt without a dot", expr: "!GetAtt Api", want: "write LogicalId.Attribute"},
		{name: "Select out of range", expr: "!Select [5, [a]]", want: "Fn::Select index 5 is out of range"},
		{name: "Select of a string", expr: "!Select [0, abc]", want: "must be a list, not a string"},
		{name: "Join of a mapping", expr: `!Join [",", {a: b}]`, want: "must be a list, not a mapping"},
		{name: "If with an unknown condition", expr: "!If [Nope, a, b]", want: `condition "Nope" is not declared`},
		{name: "FindInMap missing key", expr: "!FindInMap [Regions, ap-south-1, Short]", want: "Mappings has no Regions.ap-south-1"},
		{name: "Sub without a closing brace", expr: `!Sub "${Env"`, want: "without a closing }"},
		{name: "Ref to a resource whose condition is false", expr: "!Ref ProdOnly", want: "ProdOnly is not created: its condition IsProd is false"},
		{name: "wrong argument count", expr: "!Equals [a]", want: "Fn::Equals takes a list of 2 arguments"},
		{name: "Not of a string", expr: "!Not [maybe]", want: `a condition must be true or false, not "maybe"`},
		{name: "output is a mapping", expr: "{a: b}", want: "an output's Value must be a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := evalOutput(t, tt.expr, tt.opts)
			checkError(t, err, tt.want, "Outputs.Out")
		})
	}
}

// checkError requires err to be Errors with one problem that says want, at a line, for where.
func checkError(t *testing.T, err error, want, where string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error is %T, not Errors: %v", err, err)
	}
	for _, e := range es {
		if strings.Contains(e.Message, want) {
			if e.Line == 0 {
				t.Errorf("error %q has no line", e)
			}
			if where != "" && e.Resource != where {
				t.Errorf("error %q is for %q, want %q", e, e.Resource, where)
			}
			if !strings.HasPrefix(e.Error(), e.File+":") {
				t.Errorf("error %q does not start with the file name", e)
			}
			return
		}
	}
	t.Fatalf("errors do not say %q:\n%v", want, err)
}

// templateDir writes files (name → content; a name ending in * is made executable) into a new directory.
func templateDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		mode := os.FileMode(0o644)
		if n, ok := strings.CutSuffix(name, "*"); ok {
			name, mode = n, 0o755
		}
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// useFn is an integration that invokes the resource Fn.
const useFn = `
  Use:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations
`

const apiYAML = `
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: a, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}
`

// TestTemplateErrors checks that every mistake in a template is reported at load with the file, line and
// the resource it is in.
func TestTemplateErrors(t *testing.T) {
	code := map[string]string{"fn/app.mjs": "export const handler = async () => ({})\n", "py/app.py": "def handler(e, c): pass\n",
		"go/bootstrap*": "#!/bin/sh\n", "notexec/bootstrap": "#!/bin/sh\n", "ts/app.ts": "export const handler = async () => ({})\n"}
	tests := []struct {
		name, yaml, want, where string
		opts                    Options
	}{
		{name: "missing parameter", yaml: "Parameters:\n  Table: {Type: String}\nResources:" + apiYAML,
			want: "parameter Table has no Default and no value was given; pass --parameter-overrides Table=VALUE", where: "Parameters.Table"},
		{name: "value not allowed", yaml: "Parameters:\n  Env: {Type: String, Default: x, AllowedValues: [a, b]}\nResources:" + apiYAML,
			want: `value "x" is not one of the AllowedValues a, b`, where: "Parameters.Env"},
		{name: "pattern not matched", yaml: "Parameters:\n  T: {Type: String, Default: ab1, AllowedPattern: '[a-z]+', ConstraintDescription: letters only}\nResources:" + apiYAML,
			want: `value "ab1" does not match the AllowedPattern [a-z]+ (letters only)`, where: "Parameters.T"},
		{name: "too short", yaml: "Parameters:\n  T: {Type: String, Default: ab, MinLength: 3}\nResources:" + apiYAML,
			want: `value "ab" is shorter than the MinLength 3`, where: "Parameters.T"},
		{name: "too large", yaml: "Parameters:\n  N: {Type: Number, Default: 11, MaxValue: 10}\nResources:" + apiYAML,
			want: `value "11" is above the MaxValue 10`, where: "Parameters.N"},
		{name: "not a number", yaml: "Parameters:\n  N: {Type: Number, Default: x}\nResources:" + apiYAML,
			want: `value "x" is not a number`, where: "Parameters.N"},
		{name: "cycle between resources", yaml: "Resources:" + apiYAML + `
  A:
    Type: AWS::SNS::Topic
    Properties: {TopicName: !GetAtt B.TopicName}
  B:
    Type: AWS::SNS::Topic
    Properties: {TopicName: !Sub "${A}-b"}
`, want: "circular dependency between resources: A → B → A", where: "Resources.A"},
		{name: "cycle through DependsOn", yaml: "Resources:" + apiYAML + `
  A: {Type: AWS::SNS::Topic, DependsOn: B}
  B: {Type: AWS::SNS::Topic, DependsOn: [A]}
`, want: "circular dependency", where: "Resources.A"},
		{name: "cycle between conditions", yaml: "Conditions:\n  A: !Condition B\n  B: !Not [!Condition A]\nResources:" + apiYAML,
			want: "depends on itself (a cycle in Conditions)", where: "Conditions.A"},
		{name: "unsupported intrinsic in a served resource", yaml: "Resources:" + apiYAML + `
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Api, StageName: !ImportValue stage}
`, want: "Fn::ImportValue", where: "Resources.Stage"},
		{name: "Ref to an unknown resource", yaml: "Resources:" + apiYAML + `
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Apii, StageName: prod}
`, want: "Apii is neither a parameter nor a resource", where: "Resources.Stage"},
		{name: "ApiId of another template", yaml: "Resources:" + apiYAML + `
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: abcdefghij, StageName: prod}
`, want: `ApiId: "abcdefghij" is not an API of this template`, where: "Resources.Stage"},
		{name: "HTTP API quick create member without Target", yaml: `Resources:
  Http:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: h, ProtocolType: HTTP, RouteKey: GET /x}
`, want: "RouteKey: is part of quick create: it needs Target", where: "Resources.Http"},
		{name: "HTTP API body in S3", yaml: `Resources:
  Http:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: h, ProtocolType: HTTP, BodyS3Location: {Bucket: b, Key: k}}
`, want: "BodyS3Location: is in S3", where: "Resources.Http"},
		{name: "HTTP API body that is not OpenAPI 3", yaml: `Resources:
  Http:
    Type: AWS::ApiGatewayV2::Api
    Properties: {ProtocolType: HTTP, Body: {swagger: "2.0", info: {title: t}}}
`, want: "Body: Invalid OpenAPI input: OpenAPI 2.0 (swagger)", where: "Resources.Http"},
		{name: "HTTP API body warning with FailOnWarnings", yaml: `Resources:
  Http:
    Type: AWS::ApiGatewayV2::Api
    Properties: {ProtocolType: HTTP, FailOnWarnings: true, Body: {openapi: 3.0.1, info: {title: t}, x-amazon-apigateway-policy: {}}}
`, want: "x-amazon-apigateway-policy is not supported for HTTP APIs and was ignored (FailOnWarnings is true)", where: "Resources.Http"},
		{name: "HTTP API route key", yaml: `Resources:
  Http:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: h, ProtocolType: HTTP, Target: "https://b.example.com", RouteKey: "FETCH /x"}
`, want: `method "FETCH" is not one of`, where: "Resources.Http"},
		{name: "OpenAPI definition with a REST integration", yaml: "openapi: 3.0.1\ninfo: {title: t}\npaths:\n  /a:\n    get:\n      x-amazon-apigateway-integration: {type: mock}\n",
			want: "may only be associated with proxy integrations"},
		{name: "SAM HTTP API definition in S3", yaml: "Resources:\n  H:\n    Type: AWS::Serverless::HttpApi\n    Properties: {DefinitionUri: s3://b/k.yaml}\n",
			want: "DefinitionUri: must be a local file", where: "Resources.H"},
		{name: "unknown property", yaml: "Resources:" + apiYAML + `
  Route:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Api, RouteKey: $default, Targett: x}
`, want: "Targett: is not a property of AWS::ApiGatewayV2::Route", where: "Resources.Route"},
		{name: "route target to a missing integration", yaml: "Resources:" + apiYAML + `
  Route:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Api, RouteKey: $default, Target: integrations/nope123}
`, want: "nope123", where: "Resources.Route"},
		{name: "missing CodeUri directory", yaml: "Transform: AWS::Serverless-2016-10-31\nResources:" + apiYAML + `
  Fn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: missing/, Handler: app.handler, Runtime: nodejs20.x}
`, want: "the code directory", where: "Resources.Fn"},
		{name: "missing Node.js handler file", yaml: "Resources:" + apiYAML + `
  Fn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: fn, Handler: index.handler, Runtime: nodejs22.x}
`, want: `"index.handler": none of index.js, index.mjs, index.cjs exists`, where: "Resources.Fn"},
		{name: "TypeScript handler not built", yaml: "Resources:" + apiYAML + `
  Fn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: ts, Handler: app.handler, Runtime: nodejs22.x}
`, want: "app.ts needs building first: run sam build", where: "Resources.Fn"},
		{name: "missing Python module", yaml: "Resources:" + apiYAML + `
  Fn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: py, Handler: lib.app.handler, Runtime: python3.12}
`, want: "neither lib/app.py nor lib/app/__init__.py exists", where: "Resources.Fn"},
		{name: "missing bootstrap", yaml: "Resources:" + apiYAML + `
  Fn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: fn, Handler: bootstrap, Runtime: provided.al2023}
`, want: "bootstrap does not exist", where: "Resources.Fn"},
		{name: "bootstrap not executable", yaml: "Resources:" + apiYAML + `
  Fn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: notexec, Handler: bootstrap, Runtime: provided.al2}
`, want: "is not executable", where: "Resources.Fn"},
		{name: "runtime that cannot run here", yaml: "Resources:" + apiYAML + `
  Fn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: fn, Handler: x::y, Runtime: java21}
` + useFn, want: `the API invokes this function, but it cannot run locally: runtime "java21" cannot run locally`, where: "Resources.Fn"},
		{name: "code in S3", yaml: "Resources:" + apiYAML + `
  Fn:
    Type: AWS::Lambda::Function
    Properties: {Code: {S3Bucket: b, S3Key: k}, Handler: app.handler, Runtime: nodejs20.x, Role: r}
` + useFn, want: "the code is in S3", where: "Resources.Fn"},
		{name: "CodeUri in S3", yaml: "Resources:" + apiYAML + `
  Fn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: {Bucket: b, Key: k}, Handler: app.handler, Runtime: nodejs20.x}
` + useFn, want: "points at S3", where: "Resources.Fn"},
		{name: "API event", yaml: "Resources:" + apiYAML + `
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn
      Handler: app.handler
      Runtime: nodejs20.x
      Events:
        Get: {Type: Api, Properties: {Path: /, Method: get}}
`, want: "an Api event makes a REST API", where: "Resources.Fn"},
		{name: "HttpApi event with Method and no Path", yaml: "Resources:" + apiYAML + `
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn
      Handler: app.handler
      Runtime: nodejs20.x
      Events:
        Get: {Type: HttpApi, Properties: {Method: get}}
`, want: "Path: is required with Method", where: "Resources.Fn"},
		{name: "HttpApi event with an unknown authorizer", yaml: `Resources:
  H: {Type: AWS::Serverless::HttpApi}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn
      Handler: app.handler
      Runtime: nodejs20.x
      Events:
        Get: {Type: HttpApi, Properties: {ApiId: !Ref H, Path: /, Method: get, Auth: {Authorizer: Nobody}}}
`, want: `"Nobody" is not an authorizer of the API's Auth.Authorizers`, where: "Resources.Fn"},
		{name: "HttpApi event on a WebSocket API", yaml: "Resources:" + apiYAML + `
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn
      Handler: app.handler
      Runtime: nodejs20.x
      Events:
        Get: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /, Method: get}}
`, want: "is not an AWS::Serverless::HttpApi of this template", where: "Resources.Fn"},
		{name: "usage plan key of an unknown plan", yaml: "Resources:" + apiYAML + `
  Key: {Type: AWS::ApiGateway::ApiKey, Properties: {Value: abcdefghijklmnopqrstuvwxyz}}
  PlanKey:
    Type: AWS::ApiGateway::UsagePlanKey
    Properties: {KeyId: !Ref Key, KeyType: API_KEY, UsagePlanId: nope}
`, want: `UsagePlanId: "nope" is not a usage plan of this template`, where: "Resources.PlanKey"},
		{name: "usage plan of a stage that does not exist", yaml: "Resources:" + apiYAML + `
  Plan:
    Type: AWS::ApiGateway::UsagePlan
    Properties: {ApiStages: [{ApiId: !Ref Api, Stage: prod}]}
`, want: `with stage "prod" is declared`, where: "Resources.Plan"},
		{name: "a domain mapping a WebSocket and an HTTP API", yaml: "Resources:" + apiYAML + `
  WsStage: {Type: AWS::ApiGatewayV2::Stage, Properties: {ApiId: !Ref Api, StageName: prod}}
  Http: {Type: AWS::ApiGatewayV2::Api, Properties: {Name: h, ProtocolType: HTTP, Target: "https://backend.example.com"}}
  Domain: {Type: AWS::ApiGatewayV2::DomainName, Properties: {DomainName: api.example.com}}
  HttpMapping:
    Type: AWS::ApiGatewayV2::ApiMapping
    DependsOn: [Http]
    Properties: {DomainName: !Ref Domain, ApiId: !Ref Http, Stage: $default, ApiMappingKey: v1/pets}
  WsMapping:
    Type: AWS::ApiGatewayV2::ApiMapping
    DependsOn: [WsStage]
    Properties: {DomainName: !Ref Domain, ApiId: !Ref Api, Stage: prod, ApiMappingKey: chat}
`, want: "a domain maps WebSocket APIs or HTTP APIs, not both", where: "Resources.WsMapping"},
		{name: "unsupported transform", yaml: "Transform: AWS::LanguageExtensions\nResources:" + apiYAML,
			want: `transform "AWS::LanguageExtensions" is not supported`, where: "Transform"},
		{name: "resource condition not declared", yaml: "Resources:" + apiYAML + "  T: {Type: AWS::SNS::Topic, Condition: Nope}\n",
			want: `condition "Nope" is not declared`, where: "Resources.T"},
		{name: "duplicate resource", yaml: "Resources:" + apiYAML + apiYAML,
			want: `"Api" is declared twice`, where: "Resources"},
		{name: "unknown section", yaml: "Resource:" + apiYAML,
			want: `unknown top-level section "Resource"`},
		{name: "YAML syntax error", yaml: "Resources:\n  Api: [\n", want: "YAML/JSON syntax error"},
		{name: "two documents", yaml: "Resources:" + apiYAML + "---\nResources: {}\n", want: "more than one YAML document"},
		{name: "JSON syntax error", yaml: "{\"Resources\": {\"Api\": }", want: "YAML/JSON syntax error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := templateDir(t, code)
			_, err := Parse("template.yaml", []byte(tt.yaml), dir, tt.opts)
			checkError(t, err, tt.want, tt.where)
		})
	}
}

// TestGlobals checks SAM's Globals.Function: scalars filled in, mappings merged key by key, the
// function's own values winning.
func TestGlobals(t *testing.T) {
	dir := templateDir(t, map[string]string{"fn/app.js": "exports.handler = async () => ({})\n"})
	tpl, err := Parse("template.yaml", []byte(`Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: nodejs18.x
    Timeout: 30
    CodeUri: fn
    Environment:
      Variables: {A: global, B: global}
Resources:`+apiYAML+`
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Timeout: 5
      Environment:
        Variables: {B: own, C: own}
`), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fn := tpl.Bundle.Functions[0]
	if fn.Runtime != "nodejs18.x" || fn.Timeout != 5 || fn.CodeURI != filepath.Join(dir, "fn") {
		t.Errorf("function %+v: want runtime nodejs18.x, timeout 5, code in fn", fn)
	}
	want := map[string]string{"A": "global", "B": "own", "C": "own"}
	for k, v := range want {
		if fn.Environment[k] != v {
			t.Errorf("environment %v, want %v", fn.Environment, want)
			break
		}
	}
}

// TestHTTPAPIGlobals checks SAM's Globals.HttpApi: applied to an AWS::Serverless::HttpApi (its own values
// winning, maps merged) and to the implicit ServerlessHttpApi; a property SAM does not let it set is refused.
func TestHTTPAPIGlobals(t *testing.T) {
	dir := templateDir(t, map[string]string{"fn/app.js": "exports.handler = async () => ({})\n"})
	const globals = `Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: nodejs20.x, Handler: app.handler, CodeUri: fn}
  HttpApi:
    CorsConfiguration: {AllowOrigins: [https://app.example.com], MaxAge: 60}
    Tags: {team: chat, env: dev}
    StageVariables: {table: global}
    DefaultRouteSettings: {ThrottlingBurstLimit: 10, ThrottlingRateLimit: 5}
Resources:
`
	t.Run("explicit and implicit APIs", func(t *testing.T) {
		tpl, err := Parse("template.yaml", []byte(globals+`  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      StageName: prod
      Tags: {env: prod}
      StageVariables: {table: own}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Mine: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /a, Method: GET}}
        Implicit: {Type: HttpApi, Properties: {Path: /b, Method: GET}}
`), dir, Options{StackName: "s"})
		if err != nil {
			t.Fatal(err)
		}
		if len(tpl.Bundle.APIs) != 2 {
			t.Fatalf("%d APIs, want the HttpApi and ServerlessHttpApi", len(tpl.Bundle.APIs))
		}
		for _, a := range tpl.Bundle.APIs {
			if a.CorsConfiguration == nil || !slices.Equal(a.CorsConfiguration.AllowOrigins, []string{"https://app.example.com"}) || a.CorsConfiguration.MaxAge == nil || *a.CorsConfiguration.MaxAge != 60 {
				t.Errorf("API %s: CORS %+v, want the global one", a.APIID, a.CorsConfiguration)
			}
			st := a.Stages[0]
			if st.DefaultRouteSettings == nil || st.DefaultRouteSettings.ThrottlingBurstLimit != 10 {
				t.Errorf("API %s: default route settings %+v, want the global ones", a.APIID, st.DefaultRouteSettings)
			}
			want := map[string]string{"team": "chat", "env": "dev"}
			wantVars := map[string]string{"table": "global"}
			if st.StageName == "prod" { // the explicit API: its own values win, maps merged
				want["env"] = "prod"
				wantVars["table"] = "own"
			} else if st.StageName != "$default" {
				t.Errorf("API %s: stage %q", a.APIID, st.StageName)
			}
			if !maps.Equal(a.Tags, want) || !maps.Equal(st.StageVariables, wantVars) {
				t.Errorf("API %s: tags %v and stage variables %v, want %v and %v", a.APIID, a.Tags, st.StageVariables, want, wantVars)
			}
			if len(a.Routes) != 1 {
				t.Errorf("API %s: %d routes, want 1", a.APIID, len(a.Routes))
			}
		}
	})
	t.Run("a property Globals.HttpApi cannot set", func(t *testing.T) {
		_, err := Parse("template.yaml", []byte(`Transform: AWS::Serverless-2016-10-31
Globals:
  HttpApi:
    StageName: prod
Resources:
  Api: {Type: AWS::Serverless::HttpApi}
`), dir, Options{})
		if err == nil || !strings.Contains(err.Error(), `"StageName" is not a property Globals.HttpApi can set`) {
			t.Errorf("Parse = %v, want StageName refused", err)
		}
	})
}

// TestNotesListEveryUnservedResource checks that nothing is ignored silently.
func TestNotesListEveryUnservedResource(t *testing.T) {
	tpl, err := Parse("t.yaml", []byte("Resources:"+apiYAML+`
  Table: {Type: AWS::DynamoDB::Table, Properties: {TableName: conns}}
  Role: {Type: AWS::IAM::Role}
  Logs: {Type: AWS::Logs::LogGroup}
  Bucket: {Type: AWS::S3::Bucket}
`), t.TempDir(), Options{StackName: "s"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Table": "not created; see --create-tables (table name conns)", "Role": "not enforced",
		"Logs": "not created: function output goes to the gateway's log", "Bucket": "Switchboard does not serve AWS::S3::Bucket; Ref gives"}
	if len(tpl.Notes) != len(want) {
		t.Errorf("notes %v, want one for each of %v", tpl.Notes, want)
	}
	for _, n := range tpl.Notes {
		if !strings.Contains(n.What, want[n.LogicalID]) || want[n.LogicalID] == "" {
			t.Errorf("note %q, want it to say %q", n, want[n.LogicalID])
		}
	}
}

// TestStableIDs checks that ids depend on the stack and logical ID only, and have AWS's shapes.
func TestStableIDs(t *testing.T) {
	load := func(stack string) *Template {
		tpl, err := Parse("t.yaml", []byte("Resources:"+apiYAML), t.TempDir(), Options{StackName: stack})
		if err != nil {
			t.Fatal(err)
		}
		return tpl
	}
	a, b, c := load("one"), load("one"), load("two")
	if a.Bundle.APIs[0].APIID != b.Bundle.APIs[0].APIID {
		t.Errorf("the same template gave ids %s and %s", a.Bundle.APIs[0].APIID, b.Bundle.APIs[0].APIID)
	}
	if a.Bundle.APIs[0].APIID == c.Bundle.APIs[0].APIID {
		t.Errorf("two stacks gave the same id %s", a.Bundle.APIs[0].APIID)
	}
	if id := a.Bundle.APIs[0].APIID; len(id) != 10 || strings.Trim(id, lowerAlnum) != "" {
		t.Errorf("apiId %q is not 10 characters of [a-z0-9]", id)
	}
	long := (&evaluator{opts: Options{StackName: strings.Repeat("s", 100)}}).generatedName(&res{id: strings.Repeat("L", 100)}, 64)
	if len(long) != 64 {
		t.Errorf("generated name %q has %d characters, want 64", long, len(long))
	}
}

// TestChildrenOfFailedResourcesStayQuiet checks that a mistake is reported once: the route response of
// a route that failed does not add "not a route of this template".
func TestChildrenOfFailedResourcesStayQuiet(t *testing.T) {
	_, err := Parse("t.yaml", []byte("Resources:"+apiYAML+`
  Route:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Api, RouteKey: x, Target: !Ref Nope}
  Response:
    Type: AWS::ApiGatewayV2::RouteResponse
    Properties: {ApiId: !Ref Api, RouteId: !Ref Route, RouteResponseKey: $default}
`), t.TempDir(), Options{})
	var es Errors
	if !errors.As(err, &es) || len(es) != 1 || !strings.Contains(es[0].Message, "Nope is neither") {
		t.Fatalf("errors:\n%v\nwant only the route's", err)
	}
}

// TestUnusedFunctionsThatCannotRun checks that a function the API does not use may have code or a runtime
// Switchboard cannot run: it is noted, not an error.
func TestUnusedFunctionsThatCannotRun(t *testing.T) {
	tpl, err := Parse("t.yaml", []byte("Resources:"+apiYAML+`
  Consumer:
    Type: AWS::Lambda::Function
    Properties: {Code: {ZipFile: "exports.handler = async () => {}"}, Handler: index.handler, Runtime: nodejs20.x, Role: r}
  Batch:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: s3://bucket/key.zip, Handler: x::y, Runtime: java21}
`), t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Consumer": "not run (no API uses it): inline code (ZipFile) is not supported yet",
		"Batch": "not run (no API uses it): s3://bucket/key.zip is in S3"}
	for _, n := range tpl.Notes {
		if w, ok := want[n.LogicalID]; ok && strings.Contains(n.What, w) {
			delete(want, n.LogicalID)
		}
	}
	if len(want) > 0 {
		t.Errorf("missing notes %v in %v", want, tpl.Notes)
	}
	if len(tpl.Bundle.Functions) != 0 {
		t.Errorf("functions %+v, want none", tpl.Bundle.Functions)
	}
}

func TestDefaultStackName(t *testing.T) {
	tests := []struct{ name, path, want string }{
		{name: "cdk.out", path: "/src/app/cdk.out/ChatStack.template.json", want: "ChatStack"},
		{name: "SAM template", path: "/src/simple-websockets-chat-app/template.yaml", want: "simple-websockets-chat-app"},
		{name: "sam build output", path: "/src/chat/.aws-sam/build/template.yaml", want: "chat"},
		{name: "characters a stack name cannot have", path: "/src/my app_v2/template.yaml", want: "my-app-v2"},
		{name: "starts with a digit", path: "/src/2024chat/template.yaml", want: "stack-2024chat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := defaultStackName(tt.path, filepath.Dir(tt.path)); got != tt.want {
				t.Errorf("defaultStackName(%q) = %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}

// TestTables: a template's tables come out with their names and resolved properties for --create-tables;
// a SimpleTable as the SAM transform expands it.
func TestTables(t *testing.T) {
	tests := []struct {
		name  string
		table string
		want  Table
	}{
		{"a DynamoDB table with a parameter for its name", `
  Connections:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${Prefix}_connections"
      AttributeDefinitions: [{AttributeName: connectionId, AttributeType: S}]
      KeySchema: [{AttributeName: connectionId, KeyType: HASH}]
      ProvisionedThroughput: {ReadCapacityUnits: 5, WriteCapacityUnits: 5}`,
			Table{LogicalID: "Connections", Name: "chat_connections", Properties: map[string]any{
				"TableName":             "chat_connections",
				"AttributeDefinitions":  []any{map[string]any{"AttributeName": "connectionId", "AttributeType": "S"}},
				"KeySchema":             []any{map[string]any{"AttributeName": "connectionId", "KeyType": "HASH"}},
				"ProvisionedThroughput": map[string]any{"ReadCapacityUnits": float64(5), "WriteCapacityUnits": float64(5)},
			}}},
		{"a SimpleTable with its defaults", `
  Rooms:
    Type: AWS::Serverless::SimpleTable`,
			Table{LogicalID: "Rooms", Name: "stack-Rooms-", Properties: map[string]any{
				"AttributeDefinitions": []any{map[string]any{"AttributeName": "id", "AttributeType": "S"}},
				"KeySchema":            []any{map[string]any{"AttributeName": "id", "KeyType": "HASH"}},
				"BillingMode":          "PAY_PER_REQUEST",
			}}},
		{"a SimpleTable with a key, throughput and tags", `
  Rooms:
    Type: AWS::Serverless::SimpleTable
    Properties:
      TableName: rooms
      PrimaryKey: {Name: room, Type: Number}
      ProvisionedThroughput: {ReadCapacityUnits: 1, WriteCapacityUnits: 1}
      Tags: {team: chat, app: demo}`,
			Table{LogicalID: "Rooms", Name: "rooms", Properties: map[string]any{
				"AttributeDefinitions":  []any{map[string]any{"AttributeName": "room", "AttributeType": "N"}},
				"KeySchema":             []any{map[string]any{"AttributeName": "room", "KeyType": "HASH"}},
				"BillingMode":           "PROVISIONED",
				"ProvisionedThroughput": map[string]any{"ReadCapacityUnits": float64(1), "WriteCapacityUnits": float64(1)},
				"Tags":                  []any{map[string]any{"Key": "app", "Value": "demo"}, map[string]any{"Key": "team", "Value": "chat"}},
			}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl, err := Parse("template.yaml", []byte(`Transform: AWS::Serverless-2016-10-31
Parameters:
  Prefix: {Type: String, Default: chat}
Resources:`+apiYAML+tt.table+"\n"), t.TempDir(), Options{StackName: "stack"})
			if err != nil {
				t.Fatal(err)
			}
			if len(tpl.Tables) != 1 {
				t.Fatalf("tables %+v", tpl.Tables)
			}
			got := tpl.Tables[0]
			if strings.HasSuffix(tt.want.Name, "-") { // a generated name: CloudFormation's shape
				if !strings.HasPrefix(got.Name, tt.want.Name) {
					t.Errorf("name %q, want one starting %q", got.Name, tt.want.Name)
				}
				got.Name = tt.want.Name
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}
