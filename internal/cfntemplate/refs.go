package cfntemplate

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Resource types by what their Ref gives.
const (
	typeAPI                 = "AWS::ApiGatewayV2::Api"
	typeRoute               = "AWS::ApiGatewayV2::Route"
	typeRouteResponse       = "AWS::ApiGatewayV2::RouteResponse"
	typeIntegration         = "AWS::ApiGatewayV2::Integration"
	typeIntegrationResponse = "AWS::ApiGatewayV2::IntegrationResponse"
	typeAuthorizer          = "AWS::ApiGatewayV2::Authorizer"
	typeModel               = "AWS::ApiGatewayV2::Model"
	typeStage               = "AWS::ApiGatewayV2::Stage"
	typeDeployment          = "AWS::ApiGatewayV2::Deployment"
	typeDomainName          = "AWS::ApiGatewayV2::DomainName"
	typeAPIMapping          = "AWS::ApiGatewayV2::ApiMapping"
	typeSAMFunction         = "AWS::Serverless::Function"
	typeLambdaFunction      = "AWS::Lambda::Function"
	typeTable               = "AWS::DynamoDB::Table"
	typeSimpleTable         = "AWS::Serverless::SimpleTable"
	typeRole                = "AWS::IAM::Role"
	// API Gateway's API keys and usage plans (apigateway v1 resources) apply to WebSocket APIs too.
	typeAPIKey       = "AWS::ApiGateway::ApiKey"
	typeUsagePlan    = "AWS::ApiGateway::UsagePlan"
	typeUsagePlanKey = "AWS::ApiGateway::UsagePlanKey"
)

// childTypes are the ApiGatewayV2 resources whose Ref is a 7-character id of their own.
var childTypes = map[string]string{typeRoute: "RouteId", typeRouteResponse: "RouteResponseId",
	typeIntegration: "IntegrationId", typeIntegrationResponse: "IntegrationResponseId",
	typeAuthorizer: "AuthorizerId", typeModel: "ModelId", typeDeployment: "DeploymentId",
	typeAPIMapping: "ApiMappingId"}

// partition and urlSuffix follow the region, as AWS::Partition and AWS::URLSuffix do.
func (e *evaluator) partition() string {
	switch {
	case strings.HasPrefix(e.opts.Region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(e.opts.Region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

func (e *evaluator) urlSuffix() string {
	if strings.HasPrefix(e.opts.Region, "cn-") {
		return "amazonaws.com.cn"
	}
	return "amazonaws.com"
}

// ref evaluates Ref name: a parameter, a pseudo parameter or a resource.
func (e *evaluator) ref(at *yaml.Node, name string) (any, error) {
	if v, ok := e.params[name]; ok {
		return v, nil
	}
	switch name {
	case "AWS::Region":
		return e.opts.Region, nil
	case "AWS::AccountId":
		return e.opts.Account, nil
	case "AWS::StackName":
		return e.opts.StackName, nil
	case "AWS::StackId":
		return fmt.Sprintf("arn:%s:cloudformation:%s:%s:stack/%s/%s", e.partition(), e.opts.Region, e.opts.Account,
			e.opts.StackName, uuidLike(e.opts.StackName)), nil
	case "AWS::Partition":
		return e.partition(), nil
	case "AWS::URLSuffix":
		return e.urlSuffix(), nil
	case "AWS::NoValue":
		return noValue{}, nil
	case "AWS::NotificationARNs":
		return []any{}, nil
	}
	if _, declared := e.paramDecl[name]; declared {
		return nil, errAt(at, "parameter %s has no value", name)
	}
	r, err := e.resource(at, name)
	if err != nil {
		return nil, err
	}
	return e.physical(at, r)
}

// resource looks up a resource that a Ref or Fn::GetAtt names, which must exist and be created.
func (e *evaluator) resource(at *yaml.Node, name string) (*res, error) {
	r, ok := e.resources[name]
	if !ok && name == implicitHTTPAPI && e.hasImplicitHTTPAPI() {
		// SAM makes ServerlessHttpApi for HttpApi events without ApiId; templates Ref it in Outputs.
		return &res{id: name, typ: typeSAMHTTPAPI}, nil
	}
	if !ok {
		if fn, ok := e.resources[strings.TrimSuffix(name, "Role")]; ok && strings.HasSuffix(name, "Role") && fn.typ == typeSAMFunction {
			// SAM makes {Function}Role for a function without Role.
			return &res{id: name, typ: typeRole}, nil
		}
		if strings.HasPrefix(name, "AWS::") {
			return nil, errAt(at, "%s is not a pseudo parameter; there are AWS::Region, AWS::AccountId, AWS::StackName, AWS::StackId, AWS::Partition, AWS::URLSuffix, AWS::NoValue and AWS::NotificationARNs", name)
		}
		return nil, errAt(at, "%s is neither a parameter nor a resource of this template", name)
	}
	ok, err := e.enabled(r)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errAt(at, "%s is not created: its condition %s is false", name, r.condition)
	}
	return r, nil
}

// enabled says whether a resource's condition holds.
func (e *evaluator) enabled(r *res) (bool, error) {
	if r.condition == "" {
		return true, nil
	}
	return e.condition(r.node, r.condition)
}

// physical is what Ref of the resource gives: an id, a name, a URL or an ARN, depending on its type.
func (e *evaluator) physical(at *yaml.Node, r *res) (string, error) {
	switch r.typ {
	case typeAPI, typeSAMHTTPAPI:
		return e.apiID(r), nil
	case typeStage:
		return e.nameProperty(at, r, "StageName", 0)
	case typeDomainName:
		return e.nameProperty(at, r, "DomainName", 0)
	case typeSAMFunction, typeLambdaFunction:
		return e.nameProperty(at, r, "FunctionName", 64)
	case typeTable, typeSimpleTable:
		return e.nameProperty(at, r, "TableName", 255)
	case typeRole:
		return e.nameProperty(at, r, "RoleName", 64)
	case "AWS::Logs::LogGroup":
		return e.nameProperty(at, r, "LogGroupName", 512)
	case "AWS::SQS::Queue":
		name, err := e.nameProperty(at, r, "QueueName", 80)
		return fmt.Sprintf("https://sqs.%s.%s/%s/%s", e.opts.Region, e.urlSuffix(), e.opts.Account, name), err
	case "AWS::SNS::Topic":
		name, err := e.nameProperty(at, r, "TopicName", 256)
		return fmt.Sprintf("arn:%s:sns:%s:%s:%s", e.partition(), e.opts.Region, e.opts.Account, name), err
	}
	if _, ok := childTypes[r.typ]; ok {
		return e.childID(r), nil
	}
	switch r.typ {
	case typeAPIKey:
		return stableID(10, lowerAlnum, "apikey", e.opts.StackName, r.id), nil
	case typeUsagePlan:
		return stableID(6, lowerAlnum, "usageplan", e.opts.StackName, r.id), nil
	case typeUsagePlanKey:
		return e.childID(r), nil
	}
	return e.generatedName(r, 64), nil
}

// apiID is an API's apiId: 10 characters of [a-z0-9] derived from the stack name and logical ID.
func (e *evaluator) apiID(r *res) string {
	return stableID(10, lowerAlnum, "api", e.opts.StackName, r.id)
}

// childID is the 7-character id of a route, integration, … derived from the stack name and logical ID.
func (e *evaluator) childID(r *res) string {
	return stableID(7, lowerAlnum, "child", e.opts.StackName, r.id)
}

// generatedName is the name CloudFormation makes up for a resource whose name property is not set:
// {stack}-{logicalId}-{12 characters}, the first two shortened to fit max.
func (e *evaluator) generatedName(r *res, max int) string {
	suffix := stableID(12, upperAlnum, "name", e.opts.StackName, r.id)
	stack, id := e.opts.StackName, r.id
	room := max - len(suffix) - 2
	for len(stack)+len(id) > room {
		if len(stack) >= len(id) {
			stack = stack[:len(stack)-1]
		} else {
			id = id[:len(id)-1]
		}
	}
	return strings.Trim(stack+"-"+id, "-") + "-" + suffix
}

// nameProperty evaluates the resource's name property, or makes a name up when it has none (max 0: the
// property is required).
func (e *evaluator) nameProperty(at *yaml.Node, r *res, prop string, max int) (string, error) {
	if r.named {
		return r.name, nil
	}
	if r.naming {
		return "", errAt(at, "%s's %s depends on itself", r.id, prop)
	}
	n := propertyNode(r.props, prop)
	switch {
	case n != nil:
		r.naming = true
		name, err := e.evalString(n, prop)
		r.naming = false
		if err != nil {
			return "", err
		}
		r.name = name
	case max == 0:
		return "", errAt(r.node, "%s has no %s", r.id, prop)
	default:
		r.name = e.generatedName(r, max)
	}
	r.named = true
	return r.name, nil
}

// propertyNode returns the value of the property key of a Properties mapping, nil when absent.
func propertyNode(props *yaml.Node, key string) *yaml.Node {
	if props == nil {
		return nil
	}
	for i := 0; i+1 < len(props.Content); i += 2 {
		if props.Content[i].Value == key {
			return deref(props.Content[i+1])
		}
	}
	return nil
}

// propertyKey returns the key node of a property, for error positions; nil when absent.
func propertyKey(props *yaml.Node, key string) *yaml.Node {
	if props == nil {
		return nil
	}
	for i := 0; i+1 < len(props.Content); i += 2 {
		if props.Content[i].Value == key {
			return props.Content[i]
		}
	}
	return nil
}

// getAtt evaluates Fn::GetAtt logical.attr.
func (e *evaluator) getAtt(at *yaml.Node, logical, attr string) (any, error) {
	r, err := e.resource(at, logical)
	if err != nil {
		return nil, err
	}
	unknown := func(known string) error {
		return errAt(at, "%s (%s) has no attribute %q; it has %s", logical, r.typ, attr, known)
	}
	switch r.typ {
	case typeSAMFunction, typeLambdaFunction:
		if attr != "Arn" {
			return nil, unknown("Arn")
		}
		name, err := e.physical(at, r)
		return e.functionARN(name), err
	case typeAPI:
		switch attr {
		case "ApiId":
			return e.apiID(r), nil
		case "ApiEndpoint":
			scheme := "wss"
			if literalProperty(r, "ProtocolType") == "HTTP" {
				scheme = "https"
			}
			return fmt.Sprintf("%s://%s.execute-api.%s.%s", scheme, e.apiID(r), e.opts.Region, e.urlSuffix()), nil
		}
		return nil, unknown("ApiEndpoint and ApiId")
	case typeDomainName:
		name, err := e.physical(at, r)
		if err != nil {
			return nil, err
		}
		switch attr {
		case "RegionalDomainName":
			return fmt.Sprintf("d-%s.execute-api.%s.%s", stableID(10, lowerAlnum, "domain", name), e.opts.Region, e.urlSuffix()), nil
		case "RegionalHostedZoneId":
			return "Z1UJRXOUMOOFQ8", nil
		case "DomainNameArn":
			return fmt.Sprintf("arn:%s:apigateway:%s::/domainnames/%s", e.partition(), e.opts.Region, name), nil
		}
		return nil, unknown("RegionalDomainName, RegionalHostedZoneId and DomainNameArn")
	case typeTable, typeSimpleTable:
		name, err := e.physical(at, r)
		if err != nil {
			return nil, err
		}
		arn := fmt.Sprintf("arn:%s:dynamodb:%s:%s:table/%s", e.partition(), e.opts.Region, e.opts.Account, name)
		switch attr {
		case "Arn":
			return arn, nil
		case "StreamArn":
			return arn + "/stream/1970-01-01T00:00:00.000", nil
		}
		return nil, unknown("Arn and StreamArn")
	case typeRole:
		name, err := e.physical(at, r)
		if err != nil {
			return nil, err
		}
		switch attr {
		case "Arn":
			return fmt.Sprintf("arn:%s:iam::%s:role/%s", e.partition(), e.opts.Account, name), nil
		case "RoleId":
			return "AROA" + stableID(17, upperAlnum, "role", name), nil
		}
		return nil, unknown("Arn and RoleId")
	}
	switch r.typ {
	case typeAPIKey, typeUsagePlan, typeUsagePlanKey:
		known := map[string]string{typeAPIKey: "APIKeyId", typeUsagePlan: "Id", typeUsagePlanKey: "Id"}[r.typ]
		if attr != known {
			return nil, unknown(known)
		}
		return e.physical(at, r)
	}
	if idAttr, ok := childTypes[r.typ]; ok {
		if attr != idAttr {
			return nil, unknown(idAttr)
		}
		return e.childID(r), nil
	}
	if strings.HasPrefix(r.typ, "AWS::ApiGatewayV2::") {
		return nil, errAt(at, "%s (%s) has no attributes to read", logical, r.typ)
	}
	// A resource Switchboard does not serve: an ARN shaped like its service's, or its name.
	name, err := e.physical(at, r)
	if err != nil {
		return nil, err
	}
	if attr == "Arn" || strings.HasSuffix(attr, "Arn") {
		return e.genericARN(r.typ, name), nil
	}
	return name, nil
}

func (e *evaluator) functionARN(name string) string {
	return fmt.Sprintf("arn:%s:lambda:%s:%s:function:%s", e.partition(), e.opts.Region, e.opts.Account, name)
}

// genericARN is arn:{partition}:{service}:{region}:{account}:{type}/{name} for AWS::Service::Type.
func (e *evaluator) genericARN(typ, name string) string {
	parts := strings.Split(typ, "::")
	service, kind := "unknown", "resource"
	if len(parts) == 3 {
		service, kind = strings.ToLower(parts[1]), strings.ToLower(parts[2])
	}
	if strings.HasPrefix(name, "arn:") || strings.HasPrefix(name, "https://") {
		return name
	}
	return fmt.Sprintf("arn:%s:%s:%s:%s:%s/%s", e.partition(), service, e.opts.Region, e.opts.Account, kind, name)
}

// uuidLike formats a stable UUID-shaped string for AWS::StackId.
func uuidLike(seed string) string {
	s := stableID(32, "0123456789abcdef", "stack", seed)
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}
