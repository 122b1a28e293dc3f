package cfntemplate

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/switchboard-gw/switchboard/internal/openapi"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// HTTP APIs in templates: AWS::ApiGatewayV2::Api with ProtocolType HTTP (its quick create, CORS and
// OpenAPI Body), the HTTP members of its children, and SAM's AWS::Serverless::HttpApi with functions'
// HttpApi events, expanded as the SAM transform expands them
// (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-resource-httpapi.html,
// https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-function-httpapi.html).

const (
	typeSAMHTTPAPI = "AWS::Serverless::HttpApi"
	// implicitHTTPAPI is the logical ID SAM gives the HTTP API it makes for HttpApi events without ApiId.
	implicitHTTPAPI = "ServerlessHttpApi"
)

// httpAPIMembers reads an AWS::ApiGatewayV2::Api's HTTP members into a: CorsConfiguration, quick create
// (Target, RouteKey, CredentialsArn: an integration, a route and an auto-deployed $default stage) and the
// OpenAPI Body with BasePath and FailOnWarnings.
func (bd *builder) httpAPIMembers(r *res, p *props, a *resource.API) {
	if c := p.sub("CorsConfiguration"); c != nil {
		a.CorsConfiguration = cors(c, r.typ)
	}
	if p.has("BodyS3Location") {
		p.used["BodyS3Location"] = true
		p.fail("BodyS3Location", "is in S3, which Switchboard does not read; put the definition in Body instead")
	}
	basepath, failOnWarnings := p.str("BasePath"), p.boolean("FailOnWarnings")
	if body, ok := p.get("Body"); ok {
		bd.definition(r, p, "Body", body, basepath, failOnWarnings, a)
	}
	if target := p.str("Target"); target != "" {
		in := resource.Integration{IntegrationID: bd.e.childID(&res{id: r.id + "QuickCreateIntegration"}), IntegrationURI: target,
			CredentialsARN: p.str("CredentialsArn"), ConnectionType: resource.DefaultConnectionType}
		if strings.HasPrefix(target, "arn:") {
			in.IntegrationType, in.IntegrationMethod, in.PayloadFormatVersion = resource.IntegrationAWSProxy, "POST", "2.0"
		} else {
			in.IntegrationType, in.IntegrationMethod, in.PayloadFormatVersion = resource.IntegrationHTTPProxy, "ANY", "1.0"
		}
		key := p.str("RouteKey")
		if key == "" {
			key = resource.RouteKeyDefault
		}
		a.Integrations = append(a.Integrations, in)
		a.Routes = append(a.Routes, resource.Route{RouteID: bd.e.childID(&res{id: r.id + "QuickCreateRoute"}), RouteKey: key,
			Target: "integrations/" + in.IntegrationID})
		a.Stages = append(a.Stages, resource.Stage{StageName: resource.RouteKeyDefault, AutoDeploy: true})
	} else {
		for _, k := range []string{"RouteKey", "CredentialsArn"} {
			if p.has(k) {
				p.used[k] = true
				p.fail(k, "is part of quick create: it needs Target, the Lambda function ARN or HTTP URL the API integrates with")
			}
		}
	}
}

// definition imports an OpenAPI definition (a template value or a file's text) into a: its routes,
// integrations and authorizers join a's, and its info and CORS fill what a does not set. Warnings are
// notes, or errors with failOnWarnings.
func (bd *builder) definition(r *res, p *props, key string, body any, basepath string, failOnWarnings bool, a *resource.API) {
	var data []byte
	if s, ok := body.(string); ok {
		data = []byte(s)
	} else {
		text, err := toJSONText(body)
		if err != nil {
			p.fail(key, "does not convert to JSON: %v", err)
			return
		}
		data = []byte(text)
	}
	n := 0
	imp, err := openapi.Import(data, openapi.ImportOptions{Basepath: basepath, NewID: func() string {
		n++
		return bd.e.childID(&res{id: fmt.Sprintf("%s%s%d", r.id, key, n)})
	}})
	if err != nil {
		p.fail(key, "%v", err)
		return
	}
	for _, w := range imp.Warnings {
		if failOnWarnings {
			p.fail(key, "%s (FailOnWarnings is true)", w)
			continue
		}
		bd.e.notes = append(bd.e.notes, Note{LogicalID: r.id, Type: r.typ, What: key + ": " + w})
	}
	d := imp.API
	a.Routes = append(a.Routes, d.Routes...)
	a.Integrations = append(a.Integrations, d.Integrations...)
	a.Authorizers = append(a.Authorizers, d.Authorizers...)
	if a.Name == "" {
		a.Name = d.Name
	}
	if a.Description == "" {
		a.Description = d.Description
	}
	if a.Version == "" {
		a.Version = d.Version
	}
	if a.CorsConfiguration == nil {
		a.CorsConfiguration = d.CorsConfiguration
	}
	if imp.DisableExecuteAPIEndpointSet && !a.DisableExecuteAPIEndpoint {
		a.DisableExecuteAPIEndpoint = d.DisableExecuteAPIEndpoint
	}
	for k, v := range d.Tags {
		if a.Tags == nil {
			a.Tags = map[string]string{}
		}
		if _, set := a.Tags[k]; !set {
			a.Tags[k] = v
		}
	}
}

// cors reads a Cors property (CloudFormation's and SAM's spelling are the same).
func cors(c *props, typ string) *resource.Cors {
	out := &resource.Cors{
		AllowHeaders:  c.strList("AllowHeaders"),
		AllowMethods:  c.strList("AllowMethods"),
		AllowOrigins:  c.strList("AllowOrigins"),
		ExposeHeaders: c.strList("ExposeHeaders"),
	}
	if c.has("AllowCredentials") {
		b := c.boolean("AllowCredentials")
		out.AllowCredentials = &b
	}
	if c.has("MaxAge") {
		n := c.integer("MaxAge")
		out.MaxAge = &n
	}
	c.finish(typ, nil)
	return out
}

// responseParameters reads an HTTP API integration's ResponseParameters: CloudFormation's shape
// ({"404": {"ResponseParameters": [{"Destination": …, "Source": …}]}}) or the API's ({"404": {dest: source}}).
func responseParameters(p *props, typ string) map[string]map[string]string {
	codes := p.sub("ResponseParameters")
	if codes == nil {
		return nil
	}
	out := map[string]map[string]string{}
	for _, code := range codes.vals.keys {
		one := codes.sub(code)
		if one == nil {
			continue
		}
		if one.has("ResponseParameters") {
			m := map[string]string{}
			for _, item := range one.subList("ResponseParameters") {
				m[item.required("Destination")] = item.required("Source")
				item.finish(typ, nil)
			}
			out[code] = m
			one.finish(typ, nil)
			continue
		}
		out[code] = codes.strMap(code)
	}
	codes.finish(typ, nil)
	return out
}

// jwtConfiguration reads a JwtConfiguration (CloudFormation: Audience, Issuer; SAM: audience, issuer).
func jwtConfiguration(p *props, typ string) *resource.JWTConfiguration {
	jc := p.sub("JwtConfiguration")
	if jc == nil {
		return nil
	}
	out := &resource.JWTConfiguration{Issuer: jc.str("Issuer") + jc.str("issuer"), Audience: append(jc.strList("Audience"), jc.strList("audience")...)}
	jc.finish(typ, nil)
	return out
}

// samHTTPAPI expands an AWS::Serverless::HttpApi: an HTTP API with a stage (StageName, default $default),
// its CORS, authorizers and OpenAPI definition; the functions' HttpApi events add routes later.
func (bd *builder) samHTTPAPI(r *res, p *props) {
	e := bd.e
	a := resource.API{APIID: e.apiID(r), Name: p.str("Name"), ProtocolType: resource.ProtocolHTTP, Description: p.str("Description"),
		DisableExecuteAPIEndpoint: p.boolean("DisableExecuteApiEndpoint"), Tags: p.strMap("Tags")}
	if v, ok := p.get("CorsConfiguration"); ok {
		if _, isObject := v.(*object); isObject {
			a.CorsConfiguration = cors(p.sub("CorsConfiguration"), r.typ)
		} else if p.boolean("CorsConfiguration") {
			// SAM's CorsConfiguration: true allows every origin, header and method.
			a.CorsConfiguration = &resource.Cors{AllowOrigins: []string{"*"}, AllowHeaders: []string{"*"}, AllowMethods: []string{"*"}}
		}
	}
	failOnWarnings := p.boolean("FailOnWarnings")
	if body, ok := p.get("DefinitionBody"); ok {
		bd.definition(r, p, "DefinitionBody", body, "", failOnWarnings, &a)
	}
	if uri, ok := p.get("DefinitionUri"); ok {
		path, isStr := uri.(string)
		if !isStr || strings.HasPrefix(path, "s3://") {
			p.fail("DefinitionUri", "must be a local file (Switchboard does not read S3); or put the definition in DefinitionBody")
		} else if !filepath.IsAbs(path) {
			path = filepath.Join(e.dir, path)
		}
		if isStr && !p.bad {
			data, err := os.ReadFile(path)
			if err != nil {
				p.fail("DefinitionUri", "%v", err)
			} else {
				bd.definition(r, p, "DefinitionUri", string(data), "", failOnWarnings, &a)
			}
		}
	}
	if a.Name == "" {
		a.Name = e.opts.StackName
	}
	stage := resource.Stage{StageName: p.str("StageName"), StageVariables: p.strMap("StageVariables")}
	if stage.StageName == "" {
		stage.StageName = resource.RouteKeyDefault
	}
	if l := p.sub("AccessLogSettings"); l != nil {
		stage.AccessLogSettings = &resource.AccessLogSettings{DestinationARN: l.str("DestinationArn"), Format: l.str("Format")}
		l.finish(r.typ, nil)
	}
	if d := p.sub("DefaultRouteSettings"); d != nil {
		rs := routeSettings(d, r.typ)
		stage.DefaultRouteSettings = &rs
	}
	if rsp := p.sub("RouteSettings"); rsp != nil {
		stage.RouteSettings = map[string]resource.RouteSettings{}
		for _, key := range rsp.vals.keys {
			if one := rsp.sub(key); one != nil {
				stage.RouteSettings[key] = routeSettings(one, r.typ)
			}
		}
		rsp.finish(r.typ, nil)
	}
	a.Stages = append(a.Stages, stage)
	auth := &samAuth{}
	if ap := p.sub("Auth"); ap != nil {
		auth = bd.samHTTPAuth(r, ap, &a)
	}
	ignored := map[string]string{
		"Domain":        "custom domains come from AWS::ApiGatewayV2::DomainName resources or the config file",
		"PropagateTags": "tags are not propagated",
	}
	if !p.finish(r.typ, ignored) {
		return
	}
	bd.at(resource.IndexPath("apis", len(bd.b.APIs)), r)
	bd.apis[a.APIID] = len(bd.b.APIs)
	bd.samAuth[a.APIID] = auth
	bd.b.APIs = append(bd.b.APIs, a)
}

// samAuth is what an HttpApi's Auth says about its routes.
type samAuth struct {
	// ids are the authorizers by the name the template gives them; scopes their default scopes.
	ids    map[string]string
	scopes map[string][]string
	// def is DefaultAuthorizer (a name, or AWS_IAM).
	def string
}

// samHTTPAuth reads an HttpApi's Auth: OAuth2/JWT authorizers (JwtConfiguration, IdentitySource,
// AuthorizationScopes) and Lambda authorizers (FunctionArn, Identity, AuthorizerPayloadFormatVersion,
// EnableSimpleResponses), DefaultAuthorizer and EnableIamAuthorizer.
func (bd *builder) samHTTPAuth(r *res, ap *props, a *resource.API) *samAuth {
	auth := &samAuth{ids: map[string]string{}, scopes: map[string][]string{}, def: ap.str("DefaultAuthorizer")}
	// EnableIamAuthorizer only makes AWS_IAM a name events and DefaultAuthorizer may use; that name is
	// always understood here.
	ap.boolean("EnableIamAuthorizer")
	if list := ap.sub("Authorizers"); list != nil {
		for _, name := range list.vals.keys {
			one := list.sub(name)
			if one == nil {
				continue
			}
			au := resource.Authorizer{AuthorizerID: bd.e.childID(&res{id: r.id + name + "Authorizer"}), Name: name}
			if jc := jwtConfiguration(one, r.typ); jc != nil {
				au.AuthorizerType = "JWT"
				au.JWTConfiguration = jc
				au.IdentitySource = one.strList("IdentitySource")
				if au.IdentitySource == nil {
					au.IdentitySource = []string{"$request.header.Authorization"}
				}
				auth.scopes[name] = one.strList("AuthorizationScopes")
			} else {
				au.AuthorizerType = "REQUEST"
				au.AuthorizerURI = one.required("FunctionArn")
				au.AuthorizerPayloadFormatVersion = one.str("AuthorizerPayloadFormatVersion")
				au.EnableSimpleResponses = one.boolean("EnableSimpleResponses")
				if id := one.sub("Identity"); id != nil {
					for _, src := range []struct{ key, prefix string }{{"Headers", "$request.header."}, {"QueryStrings", "$request.querystring."},
						{"Context", "$context."}, {"StageVariables", "$stageVariables."}} {
						for _, v := range id.strList(src.key) {
							au.IdentitySource = append(au.IdentitySource, src.prefix+v)
						}
					}
					au.AuthorizerResultTTLInSeconds = id.integer("ReauthorizeEvery")
					id.finish(r.typ, nil)
				}
			}
			one.finish(r.typ, map[string]string{
				"FunctionInvokeRole":               "IAM is not enforced locally",
				"EnableFunctionDefaultPermissions": "the gateway invokes its local functions itself",
			})
			auth.ids[name] = au.AuthorizerID
			a.Authorizers = append(a.Authorizers, au)
		}
		list.finish(r.typ, nil)
	}
	ap.finish(r.typ, nil)
	return auth
}

// httpEvent is a function's HttpApi event, connected once every API is known.
type httpEvent struct {
	fn      *res
	name    string // the event's name
	p       *props
	apiID   string // "" for the implicit API
	arn     string // the function's ARN
	route   string
	pfv     string
	timeout int
	auth    string
	scopes  []string
	setting *resource.RouteSettings
}

// httpAPIEvent reads one HttpApi event of a SAM function; the route and integration are made by
// connectHTTPEvents.
func (bd *builder) httpAPIEvent(r *res, name string, one *props, fnName string) {
	ev := one.sub("Properties")
	he := httpEvent{fn: r, name: name, arn: bd.e.functionARN(fnName), pfv: "2.0"}
	if ev != nil {
		he.p = ev
		he.apiID = ev.str("ApiId")
		method, path := ev.str("Method"), ev.str("Path")
		switch {
		case method == "" && path == "":
			he.route = resource.RouteKeyDefault
		case path == "":
			ev.fail("Path", "is required with Method")
		default:
			if method == "" || strings.EqualFold(method, "any") || method == "x-amazon-apigateway-any-method" {
				method = "ANY"
			}
			he.route = strings.ToUpper(method) + " " + path
		}
		if v := ev.str("PayloadFormatVersion"); v != "" {
			he.pfv = v
		}
		he.timeout = ev.integer("TimeoutInMillis")
		if a := ev.sub("Auth"); a != nil {
			he.auth = a.str("Authorizer")
			he.scopes = a.strList("AuthorizationScopes")
			a.finish(r.typ, nil)
		}
		if rs := ev.sub("RouteSettings"); rs != nil {
			s := routeSettings(rs, r.typ)
			he.setting = &s
		}
		ev.finish(r.typ, nil)
	} else {
		he.route = resource.RouteKeyDefault
	}
	bd.httpEvents = append(bd.httpEvents, he)
}

// connectHTTPEvents gives every HttpApi event its integration and route, on the API its ApiId names or
// on the implicit ServerlessHttpApi (made with a $default stage, as SAM makes it).
func (bd *builder) connectHTTPEvents() {
	e := bd.e
	for _, he := range bd.httpEvents {
		id := he.apiID
		if id == "" {
			id = e.apiID(&res{id: implicitHTTPAPI})
			if _, ok := bd.apis[id]; !ok && e.httpGlobals != nil {
				// Globals.HttpApi applies to the implicit API too: it is an HttpApi of those properties.
				if !bd.implicitTried {
					bd.implicitTried = true
					r := &res{id: implicitHTTPAPI, typ: typeSAMHTTPAPI, node: he.fn.node, props: e.httpGlobals}
					if p, ok := e.properties(r); ok {
						bd.samHTTPAPI(r, p)
					}
				}
				if _, ok := bd.apis[id]; !ok {
					continue // Globals.HttpApi's error is reported
				}
			}
			if _, ok := bd.apis[id]; !ok {
				bd.apis[id] = len(bd.b.APIs)
				bd.samAuth[id] = &samAuth{}
				bd.b.APIs = append(bd.b.APIs, resource.API{APIID: id, Name: e.opts.StackName, ProtocolType: resource.ProtocolHTTP,
					Stages: []resource.Stage{{StageName: resource.RouteKeyDefault}}})
				bd.t.positions[resource.IndexPath("apis", bd.apis[id])] = place{line: he.fn.node.Line, column: he.fn.node.Column, resource: "Resources." + he.fn.id}
			}
		}
		ai, ok := bd.apis[id]
		if !ok || !bd.b.APIs[ai].IsHTTP() {
			e.add(he.fn.node, "Resources."+he.fn.id, "Events.%s.Properties.ApiId: %q is not an AWS::Serverless::HttpApi of this template", he.name, id)
			continue
		}
		a := &bd.b.APIs[ai]
		in := resource.Integration{IntegrationID: e.childID(&res{id: he.fn.id + he.name + "Integration"}), IntegrationType: resource.IntegrationAWSProxy,
			IntegrationURI: he.arn, IntegrationMethod: "POST", PayloadFormatVersion: he.pfv, TimeoutInMillis: he.timeout}
		route := resource.Route{RouteID: e.childID(&res{id: he.fn.id + he.name + "Route"}), RouteKey: he.route, Target: "integrations/" + in.IntegrationID}
		auth := bd.samAuth[id]
		name := he.auth
		if name == "" && auth != nil {
			name = auth.def
		}
		switch {
		case name == "" || name == "NONE":
		case name == "AWS_IAM":
			route.AuthorizationType = "AWS_IAM"
		case auth != nil && auth.ids[name] != "":
			route.AuthorizerID = auth.ids[name]
			route.AuthorizationType = "CUSTOM"
			for _, au := range a.Authorizers {
				if au.AuthorizerID == route.AuthorizerID && au.AuthorizerType == "JWT" {
					route.AuthorizationType = "JWT"
					route.AuthorizationScopes = he.scopes
					if route.AuthorizationScopes == nil {
						route.AuthorizationScopes = auth.scopes[name]
					}
				}
			}
		default:
			e.add(he.fn.node, "Resources."+he.fn.id, "Events.%s.Properties.Auth.Authorizer: %q is not an authorizer of the API's Auth.Authorizers (nor NONE or AWS_IAM)", he.name, name)
			continue
		}
		if he.setting != nil && len(a.Stages) > 0 {
			st := &a.Stages[0]
			if st.RouteSettings == nil {
				st.RouteSettings = map[string]resource.RouteSettings{}
			}
			st.RouteSettings[he.route] = *he.setting
		}
		base := resource.IndexPath("apis", ai)
		bd.t.positions[resource.IndexPath(resource.FieldPath(base, "routes"), len(a.Routes))] = place{line: he.fn.node.Line, column: he.fn.node.Column, resource: "Resources." + he.fn.id}
		bd.t.positions[resource.IndexPath(resource.FieldPath(base, "integrations"), len(a.Integrations))] = place{line: he.fn.node.Line, column: he.fn.node.Column, resource: "Resources." + he.fn.id}
		a.Integrations = append(a.Integrations, in)
		a.Routes = append(a.Routes, route)
	}
}

// literalProperty returns r's property k when it is written as a plain scalar, else "" (intrinsics are
// not evaluated: this is for attributes that depend on how a resource is declared).
func literalProperty(r *res, k string) string {
	n := propertyNode(r.props, k)
	if n == nil || n.Kind != yaml.ScalarNode || strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return ""
	}
	return n.Value
}

// hasImplicitHTTPAPI says whether a SAM function has an HttpApi event without ApiId, which makes SAM
// create ServerlessHttpApi.
func (e *evaluator) hasImplicitHTTPAPI() bool {
	for _, r := range e.resources {
		if r.typ != typeSAMFunction || r.props == nil {
			continue
		}
		events := propertyNode(r.props, "Events")
		if events == nil || events.Kind != yaml.MappingNode {
			continue
		}
		for i := 1; i < len(events.Content); i += 2 {
			ev := events.Content[i]
			if t := propertyNode(ev, "Type"); t != nil && t.Value == "HttpApi" {
				if props := propertyNode(ev, "Properties"); props == nil || propertyNode(props, "ApiId") == nil {
					return true
				}
			}
		}
	}
	return false
}

// isOpenAPI says whether a document is an OpenAPI definition rather than a template: it has openapi (or
// swagger) at the top and no Resources.
func isOpenAPI(root *yaml.Node) bool {
	return root != nil && root.Kind == yaml.MappingNode && propertyNode(root, "Resources") == nil &&
		(propertyNode(root, "openapi") != nil || propertyNode(root, "swagger") != nil)
}

// parseOpenAPI serves an OpenAPI 3.0 definition given where a template is expected as the one HTTP API
// it describes, with an auto-deployed $default stage: what ImportApi followed by CreateStage $default
// gives on AWS, or an AWS::ApiGatewayV2::Api whose Body is the definition. Ids are derived from the stack
// name as for a template's resources; the import's warnings are notes.
func parseOpenAPI(name string, data []byte, opts Options) (*Template, error) {
	n := 0
	imp, err := openapi.Import(data, openapi.ImportOptions{NewID: func() string {
		n++
		return stableID(7, lowerAlnum, "child", opts.StackName, fmt.Sprintf("OpenApi%d", n))
	}})
	if err != nil {
		var line int
		if e, ok := openapi.AsError(err); ok {
			line = e.Line
		}
		return nil, Errors{{File: name, Line: line, Message: err.Error()}}
	}
	a := imp.API
	a.APIID = stableID(10, lowerAlnum, "api", opts.StackName, "OpenApi")
	a.Stages = []resource.Stage{{StageName: resource.RouteKeyDefault, AutoDeploy: true}}
	t := &Template{Name: name, StackName: opts.StackName, Bundle: &resource.Bundle{APIs: []resource.API{a}}, positions: map[string]place{}}
	for _, w := range imp.Warnings {
		t.Notes = append(t.Notes, Note{LogicalID: a.Name, Type: "OpenAPI", What: w})
	}
	resource.ApplyDefaults(t.Bundle)
	var errs Errors
	for _, fe := range resource.Validate(t.Bundle) {
		errs = append(errs, Error{File: name, Message: fe.Path + ": " + fe.Message})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return t, nil
}
