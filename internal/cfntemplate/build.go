package cfntemplate

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/switchboard-gw/switchboard/internal/resource"
)

// unserved says what happens to resources of types Switchboard does not serve.
var unserved = map[string]string{
	typeTable:                         "not created; see --create-tables",
	typeSimpleTable:                   "not created; see --create-tables",
	typeRole:                          "not enforced: local functions run with the credentials in the gateway's environment",
	"AWS::IAM::Policy":                "not enforced: local functions run with the credentials in the gateway's environment",
	"AWS::IAM::ManagedPolicy":         "not enforced: local functions run with the credentials in the gateway's environment",
	"AWS::Lambda::Permission":         "not needed: the gateway invokes its local functions itself",
	"AWS::Logs::LogGroup":             "not created: function output goes to the gateway's log",
	"AWS::CDK::Metadata":              "ignored: CDK bookkeeping",
	"AWS::Lambda::Version":            "not created: local functions always run their current code",
	"AWS::Lambda::Alias":              "not created: local functions always run their current code",
	"AWS::Lambda::LayerVersion":       "not applied: layers are not added to local functions",
	"AWS::Serverless::LayerVersion":   "not applied: layers are not added to local functions",
	"AWS::Lambda::EventSourceMapping": "not connected: only API Gateway invokes local functions",
	"AWS::ApiGatewayV2::VpcLink":      "not needed: the gateway reaches backends directly",
}

// unsupportedAPIs are API types that are an error: the template expects them to be served.
var unsupportedAPIs = map[string]string{
	"AWS::Serverless::Api":     "REST APIs are not supported yet; Switchboard serves WebSocket and HTTP APIs",
	"AWS::ApiGateway::RestApi": "REST APIs are not supported yet; Switchboard serves WebSocket and HTTP APIs",
}

// builder assembles the bundle.
type builder struct {
	e     *evaluator
	t     *Template
	b     *resource.Bundle
	apis  map[string]int // apiId → index in b.APIs
	plans map[string]int // usage plan id → index in b.UsagePlans
	// routes and integrations by id: API index and index within the API.
	routes       map[string][2]int
	integrations map[string][2]int
	domains      map[string]int
	// failed holds the ids of APIs, routes and integrations that had errors, so that their children do
	// not repeat them.
	failed map[string]bool
	// unrunnable are the functions that cannot run locally (see checkUnrunnable).
	unrunnable []unrunnable
	// httpEvents are the SAM functions' HttpApi events, connected after every API is built; samAuth is
	// each AWS::Serverless::HttpApi's Auth, by API id.
	httpEvents []httpEvent
	samAuth    map[string]*samAuth
	// implicitTried is set once the implicit ServerlessHttpApi was built from Globals.HttpApi.
	implicitTried bool
}

func (bd *builder) at(path string, r *res) {
	bd.t.positions[path] = place{line: r.node.Line, column: r.node.Column, resource: "Resources." + r.id}
}

// build converts every resource, in three passes so that children find their parents whatever the
// order of the template.
func (e *evaluator) build(t *Template) *resource.Bundle {
	bd := &builder{e: e, t: t, b: &resource.Bundle{}, apis: map[string]int{},
		routes: map[string][2]int{}, integrations: map[string][2]int{}, domains: map[string]int{},
		failed: map[string]bool{}, plans: map[string]int{}, samAuth: map[string]*samAuth{}}
	var live []*res
	for _, r := range e.order {
		ok, err := e.enabled(r)
		if err != nil {
			e.addErr(err, r.node, "Resources."+r.id)
			continue
		}
		if !ok {
			e.notes = append(e.notes, Note{LogicalID: r.id, Type: r.typ, What: fmt.Sprintf("skipped: its condition %s is false", r.condition)})
			continue
		}
		live = append(live, r)
	}
	passes := [][]string{
		{typeAPI, typeSAMHTTPAPI, typeDomainName, typeSAMFunction, typeLambdaFunction},
		{typeIntegration, typeAuthorizer, typeModel, typeRoute, typeStage, typeAPIMapping, typeDeployment, typeAPIKey, typeUsagePlan},
		{typeRouteResponse, typeIntegrationResponse, typeUsagePlanKey},
	}
	handled := map[string]bool{}
	for _, pass := range passes {
		for _, r := range live {
			for _, typ := range pass {
				if r.typ == typ {
					handled[r.id] = true
					bd.resource(r)
				}
			}
		}
	}
	for _, r := range live {
		if !handled[r.id] {
			bd.other(r)
		}
	}
	bd.connectHTTPEvents()
	bd.checkUnrunnable()
	resource.ApplyDefaults(bd.b)
	for _, fe := range resource.Validate(bd.b) {
		e.errs = append(e.errs, t.locate(fe))
	}
	return bd.b
}

// other notes a resource Switchboard does not serve, or reports one it should but cannot.
func (bd *builder) other(r *res) {
	e := bd.e
	if why, ok := unsupportedAPIs[r.typ]; ok && why != "" {
		e.add(r.node, "Resources."+r.id, "%s (%s)", why, r.typ)
		return
	}
	if strings.HasPrefix(r.typ, "AWS::ApiGatewayV2::") {
		if _, ok := unserved[r.typ]; !ok {
			e.add(r.node, "Resources."+r.id, "%s is not supported", r.typ)
			return
		}
	}
	name, err := e.physical(r.node, r)
	if err != nil {
		e.addErr(err, r.node, "Resources."+r.id)
		return
	}
	what, ok := unserved[r.typ]
	switch {
	case r.typ == typeTable || r.typ == typeSimpleTable:
		what += fmt.Sprintf(" (table name %s)", name)
		if props, err := e.tableProperties(r); err != nil {
			what += fmt.Sprintf("; --create-tables cannot create it: %v", err)
		} else {
			e.tables = append(e.tables, Table{LogicalID: r.id, Name: name, Properties: props})
		}
	case !ok:
		what = fmt.Sprintf("not created: Switchboard does not serve %s; Ref gives %q", r.typ, name)
	}
	e.notes = append(e.notes, Note{LogicalID: r.id, Type: r.typ, What: what})
}

// resource converts one served resource.
func (bd *builder) resource(r *res) {
	e := bd.e
	if r.typ == typeDeployment {
		// Properties are still checked: a mistake in them is a mistake on AWS too.
		if p, ok := e.properties(r); ok {
			p.str("ApiId")
			p.str("Description")
			p.str("StageName")
			p.finish(r.typ, nil)
		}
		e.notes = append(e.notes, Note{LogicalID: r.id, Type: r.typ,
			What: "not needed: stages serve their API as the template declares it"})
		return
	}
	before := len(e.errs)
	defer func() {
		if len(e.errs) > before {
			bd.failed[e.apiID(r)], bd.failed[e.childID(r)] = true, true
			if id, err := e.physical(r.node, r); err == nil {
				bd.failed[id] = true
			}
		}
	}()
	p, ok := e.properties(r)
	if !ok {
		return
	}
	switch r.typ {
	case typeAPI:
		bd.api(r, p)
	case typeSAMHTTPAPI:
		bd.samHTTPAPI(r, p)
	case typeDomainName:
		bd.domainName(r, p)
	case typeSAMFunction, typeLambdaFunction:
		bd.function(r, p)
	case typeAPIKey, typeUsagePlan, typeUsagePlanKey:
		bd.usagePlans(r, p)
	default:
		bd.child(r, p)
	}
}

func (bd *builder) api(r *res, p *props) {
	id := bd.e.apiID(r)
	a := resource.API{
		APIID:                     id,
		Name:                      p.required("Name"),
		ProtocolType:              p.required("ProtocolType"),
		RouteSelectionExpression:  p.str("RouteSelectionExpression"),
		APIKeySelectionExpression: p.str("ApiKeySelectionExpression"),
		Description:               p.str("Description"),
		DisableSchemaValidation:   p.boolean("DisableSchemaValidation"),
		DisableExecuteAPIEndpoint: p.boolean("DisableExecuteApiEndpoint"),
		Version:                   p.str("Version"),
		IPAddressType:             p.str("IpAddressType"),
		Tags:                      p.strMap("Tags"),
	}
	if a.ProtocolType == resource.ProtocolHTTP {
		bd.httpAPIMembers(r, p, &a)
	}
	if !p.finish(r.typ, nil) {
		return
	}
	bd.at(resource.IndexPath("apis", len(bd.b.APIs)), r)
	bd.apis[id] = len(bd.b.APIs)
	bd.b.APIs = append(bd.b.APIs, a)
}

// parentAPI finds the API a child resource's ApiId names; ok is false when the problem was reported.
func (bd *builder) parentAPI(p *props) (*resource.API, int, bool) {
	id := p.required("ApiId")
	if id == "" {
		return nil, 0, false
	}
	i, ok := bd.apis[id]
	if !ok {
		if !bd.failed[id] && !p.bad {
			p.fail("ApiId", "%q is not an API of this template; Ref one of its AWS::ApiGatewayV2::Api resources", id)
		}
		return nil, 0, false
	}
	return &bd.b.APIs[i], i, true
}

func (bd *builder) child(r *res, p *props) {
	a, ai, ok := bd.parentAPI(p)
	if r.typ == typeAPIMapping {
		bd.apiMapping(r, p)
		return
	}
	if !ok {
		p.finish(r.typ, nil)
		return
	}
	apiPath := resource.IndexPath("apis", ai)
	id := bd.e.childID(r)
	switch r.typ {
	case typeRoute:
		rt := resource.Route{
			RouteID:                          id,
			RouteKey:                         p.required("RouteKey"),
			Target:                           p.str("Target"),
			AuthorizationType:                p.str("AuthorizationType"),
			AuthorizerID:                     p.str("AuthorizerId"),
			AuthorizationScopes:              p.strList("AuthorizationScopes"),
			APIKeyRequired:                   p.boolean("ApiKeyRequired"),
			ModelSelectionExpression:         p.str("ModelSelectionExpression"),
			RequestModels:                    p.strMap("RequestModels"),
			RequestParameters:                p.constraints("RequestParameters"),
			RouteResponseSelectionExpression: p.str("RouteResponseSelectionExpression"),
			OperationName:                    p.str("OperationName"),
		}
		if p.finish(r.typ, nil) {
			bd.at(resource.IndexPath(resource.FieldPath(apiPath, "routes"), len(a.Routes)), r)
			bd.routes[id] = [2]int{ai, len(a.Routes)}
			a.Routes = append(a.Routes, rt)
		}
	case typeIntegration:
		in := resource.Integration{
			IntegrationID:               id,
			IntegrationType:             p.required("IntegrationType"),
			IntegrationURI:              p.str("IntegrationUri"),
			IntegrationMethod:           p.str("IntegrationMethod"),
			ConnectionType:              p.str("ConnectionType"),
			ConnectionID:                p.str("ConnectionId"),
			IntegrationSubtype:          p.str("IntegrationSubtype"),
			ContentHandlingStrategy:     p.str("ContentHandlingStrategy"),
			CredentialsARN:              p.str("CredentialsArn"),
			Description:                 p.str("Description"),
			PassthroughBehavior:         p.str("PassthroughBehavior"),
			PayloadFormatVersion:        p.str("PayloadFormatVersion"),
			RequestParameters:           p.strMap("RequestParameters"),
			RequestTemplates:            p.strMap("RequestTemplates"),
			TemplateSelectionExpression: p.str("TemplateSelectionExpression"),
			TimeoutInMillis:             p.integer("TimeoutInMillis"),
		}
		if tls := p.sub("TlsConfig"); tls != nil {
			in.TLSConfig = &resource.TLSConfig{ServerNameToVerify: tls.str("ServerNameToVerify")}
			tls.finish(r.typ, nil)
		}
		in.ResponseParameters = responseParameters(p, r.typ)
		if p.finish(r.typ, nil) {
			bd.at(resource.IndexPath(resource.FieldPath(apiPath, "integrations"), len(a.Integrations)), r)
			bd.integrations[id] = [2]int{ai, len(a.Integrations)}
			a.Integrations = append(a.Integrations, in)
		}
	case typeAuthorizer:
		au := resource.Authorizer{
			AuthorizerID:                 id,
			Name:                         p.required("Name"),
			AuthorizerType:               p.required("AuthorizerType"),
			AuthorizerURI:                p.str("AuthorizerUri"),
			AuthorizerCredentialsARN:     p.str("AuthorizerCredentialsArn"),
			IdentitySource:               p.strList("IdentitySource"),
			IdentityValidationExpression: p.str("IdentityValidationExpression"),
		}
		au.JWTConfiguration = jwtConfiguration(p, r.typ)
		au.AuthorizerPayloadFormatVersion = p.str("AuthorizerPayloadFormatVersion")
		au.EnableSimpleResponses = p.boolean("EnableSimpleResponses")
		au.AuthorizerResultTTLInSeconds = p.integer("AuthorizerResultTtlInSeconds")
		if p.finish(r.typ, nil) {
			bd.at(resource.IndexPath(resource.FieldPath(apiPath, "authorizers"), len(a.Authorizers)), r)
			a.Authorizers = append(a.Authorizers, au)
		}
	case typeModel:
		m := resource.Model{ModelID: id, Name: p.required("Name"), ContentType: p.str("ContentType"), Description: p.str("Description")}
		if v, ok := p.get("Schema"); ok {
			if s, isStr := v.(string); isStr {
				m.Schema = s
			} else if text, err := toJSONText(v); err == nil {
				m.Schema = text
			} else {
				p.fail("Schema", "does not convert to JSON: %v", err)
			}
		} else {
			p.fail("Schema", "is required")
		}
		if p.finish(r.typ, nil) {
			bd.at(resource.IndexPath(resource.FieldPath(apiPath, "models"), len(a.Models)), r)
			a.Models = append(a.Models, m)
		}
	case typeStage:
		s := resource.Stage{
			StageName:           p.required("StageName"),
			Description:         p.str("Description"),
			StageVariables:      p.strMap("StageVariables"),
			ClientCertificateID: p.str("ClientCertificateId"),
			Tags:                p.strMap("Tags"),
		}
		if l := p.sub("AccessLogSettings"); l != nil {
			s.AccessLogSettings = &resource.AccessLogSettings{DestinationARN: l.str("DestinationArn"), Format: l.str("Format")}
			l.finish(r.typ, nil)
		}
		if d := p.sub("DefaultRouteSettings"); d != nil {
			rs := routeSettings(d, r.typ)
			s.DefaultRouteSettings = &rs
		}
		if rsp := p.sub("RouteSettings"); rsp != nil {
			s.RouteSettings = map[string]resource.RouteSettings{}
			for _, key := range rsp.vals.keys {
				if one := rsp.sub(key); one != nil {
					s.RouteSettings[key] = routeSettings(one, r.typ)
				}
			}
			rsp.finish(r.typ, nil)
		}
		ignored := map[string]string{
			"DeploymentId": "the stage serves the API as the template declares it",
			"AutoDeploy":   "the stage serves the API as the template declares it",
		}
		if p.finish(r.typ, ignored) {
			bd.at(resource.IndexPath(resource.FieldPath(apiPath, "stages"), len(a.Stages)), r)
			a.Stages = append(a.Stages, s)
		}
	case typeRouteResponse:
		routeID := p.required("RouteId")
		rr := resource.RouteResponse{
			RouteResponseID:          id,
			RouteResponseKey:         p.required("RouteResponseKey"),
			ModelSelectionExpression: p.str("ModelSelectionExpression"),
			ResponseModels:           p.strMap("ResponseModels"),
			ResponseParameters:       p.constraints("ResponseParameters"),
		}
		loc, found := bd.routes[routeID]
		if !found && routeID != "" && !bd.failed[routeID] {
			p.fail("RouteId", "%q is not a route of this template; Ref one of its AWS::ApiGatewayV2::Route resources", routeID)
		} else if found && loc[0] != ai {
			p.fail("RouteId", "route %q belongs to another API than ApiId", routeID)
		}
		if p.finish(r.typ, nil) && found {
			rt := &bd.b.APIs[loc[0]].Routes[loc[1]]
			bd.at(resource.IndexPath(resource.FieldPath(resource.IndexPath(resource.FieldPath(apiPath, "routes"), loc[1]), "routeResponses"), len(rt.RouteResponses)), r)
			rt.RouteResponses = append(rt.RouteResponses, rr)
		}
	case typeIntegrationResponse:
		integrationID := p.required("IntegrationId")
		ir := resource.IntegrationResponse{
			IntegrationResponseID:       id,
			IntegrationResponseKey:      p.required("IntegrationResponseKey"),
			ContentHandlingStrategy:     p.str("ContentHandlingStrategy"),
			ResponseParameters:          p.strMap("ResponseParameters"),
			ResponseTemplates:           p.strMap("ResponseTemplates"),
			TemplateSelectionExpression: p.str("TemplateSelectionExpression"),
		}
		loc, found := bd.integrations[integrationID]
		if !found && integrationID != "" && !bd.failed[integrationID] {
			p.fail("IntegrationId", "%q is not an integration of this template; Ref one of its AWS::ApiGatewayV2::Integration resources", integrationID)
		} else if found && loc[0] != ai {
			p.fail("IntegrationId", "integration %q belongs to another API than ApiId", integrationID)
		}
		if p.finish(r.typ, nil) && found {
			in := &bd.b.APIs[loc[0]].Integrations[loc[1]]
			bd.at(resource.IndexPath(resource.FieldPath(resource.IndexPath(resource.FieldPath(apiPath, "integrations"), loc[1]), "integrationResponses"), len(in.IntegrationResponses)), r)
			in.IntegrationResponses = append(in.IntegrationResponses, ir)
		}
	}
}

func routeSettings(p *props, typ string) resource.RouteSettings {
	rs := resource.RouteSettings{
		DataTraceEnabled:       p.boolean("DataTraceEnabled"),
		DetailedMetricsEnabled: p.boolean("DetailedMetricsEnabled"),
		LoggingLevel:           p.str("LoggingLevel"),
		ThrottlingBurstLimit:   p.integer("ThrottlingBurstLimit"),
		ThrottlingRateLimit:    p.float("ThrottlingRateLimit"),
	}
	p.finish(typ, nil)
	return rs
}

func (bd *builder) domainName(r *res, p *props) {
	d := resource.DomainName{DomainName: p.required("DomainName"), Tags: p.strMap("Tags")}
	for _, c := range p.subList("DomainNameConfigurations") {
		d.DomainNameConfigurations = append(d.DomainNameConfigurations, resource.DomainNameConfiguration{
			EndpointType:                        c.str("EndpointType"),
			SecurityPolicy:                      c.str("SecurityPolicy"),
			CertificateArn:                      c.str("CertificateArn"),
			CertificateName:                     c.str("CertificateName"),
			IPAddressType:                       c.str("IpAddressType"),
			OwnershipVerificationCertificateARN: c.str("OwnershipVerificationCertificateArn"),
		})
		c.finish(r.typ, nil)
	}
	if m := p.sub("MutualTlsAuthentication"); m != nil {
		uri := m.str("TruststoreUri")
		if strings.HasPrefix(uri, "s3://") {
			m.fail("TruststoreUri", "%s is in S3, which Switchboard does not read; declare this domain in a Switchboard config file with a local truststore file instead", uri)
		}
		d.MutualTLSAuthentication = &resource.MutualTLSAuthentication{TruststoreURI: uri, TruststoreVersion: m.str("TruststoreVersion")}
		m.finish(r.typ, nil)
	}
	ignored := map[string]string{"RoutingMode": "domains route by their API mappings"}
	if !p.finish(r.typ, ignored) {
		return
	}
	bd.at(resource.IndexPath("domainNames", len(bd.b.DomainNames)), r)
	bd.domains[d.DomainName] = len(bd.b.DomainNames)
	bd.b.DomainNames = append(bd.b.DomainNames, d)
	bd.e.notes = append(bd.e.notes, Note{LogicalID: r.id, Type: r.typ,
		What: "served with the gateway's default certificate (ACM certificates cannot be used locally; declare certificate files in a Switchboard config file)"})
}

func (bd *builder) apiMapping(r *res, p *props) {
	m := resource.APIMapping{APIMappingID: bd.e.childID(r), APIID: p.str("ApiId"), Stage: p.required("Stage"), APIMappingKey: p.str("ApiMappingKey")}
	domain := p.required("DomainName")
	i, ok := bd.domains[domain]
	if !ok && domain != "" {
		p.fail("DomainName", "%q is not a domain name of this template; Ref one of its AWS::ApiGatewayV2::DomainName resources", domain)
	}
	if !p.finish(r.typ, nil) {
		return
	}
	d := &bd.b.DomainNames[i]
	bd.at(resource.IndexPath(resource.FieldPath(resource.IndexPath("domainNames", i), "apiMappings"), len(d.APIMappings)), r)
	d.APIMappings = append(d.APIMappings, m)
}

// locate turns a FieldError about the bundle into an Error at the resource it came from.
func (t *Template) locate(fe *resource.FieldError) Error {
	pl := t.place(fe.Path)
	msg := fe.Message
	return Error{File: t.Name, Line: pl.line, Column: pl.column, Resource: pl.resource, Message: msg}
}

// place finds the resource a field path belongs to: the longest declared prefix.
func (t *Template) place(path string) place {
	for {
		if pl, ok := t.positions[path]; ok {
			return pl
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return place{}
		}
		path = path[:i]
	}
}

// Locate turns resource.FieldErrors about the bundle — from a later compile step that names fields the
// same way — into Errors located at the resources they came from. Any other error is returned prefixed
// with the file name; nil stays nil.
func (t *Template) Locate(err error) error {
	if err == nil {
		return nil
	}
	fes, ok := resource.AsFieldErrors(err)
	if !ok || len(fes) == 0 {
		return fmt.Errorf("%s: %w", t.Name, err)
	}
	es := make(Errors, 0, len(fes))
	for _, fe := range fes {
		es = append(es, t.locate(fe))
	}
	return es.sorted()
}

// outputs evaluates the Outputs section.
func (e *evaluator) outputs(n *yaml.Node) []Output {
	var out []Output
	for _, kv := range pairs(e, n, "Outputs") {
		where := "Outputs." + kv.key.Value
		var value *yaml.Node
		cond := ""
		for _, m := range pairs(e, kv.val, where) {
			switch m.key.Value {
			case "Value":
				value = m.val
			case "Condition":
				cond = m.val.Value
			}
		}
		if cond != "" {
			ok, err := e.condition(kv.key, cond)
			if err != nil {
				e.addErr(err, kv.key, where)
				continue
			}
			if !ok {
				continue
			}
		}
		if value == nil {
			e.add(kv.key, where, "the output has no Value")
			continue
		}
		v, err := e.eval(value)
		if err != nil {
			e.addErr(err, kv.key, where)
			continue
		}
		s, ok := scalarString(v)
		if !ok {
			if list, isList := v.([]any); isList {
				parts := make([]string, 0, len(list))
				for _, item := range list {
					if s, ok := scalarString(item); ok {
						parts = append(parts, s)
					}
				}
				s = strings.Join(parts, ",")
			} else {
				e.add(value, where, "an output's Value must be a string, not %s", typeName(v))
				continue
			}
		}
		out = append(out, Output{Name: kv.key.Value, Value: s})
	}
	return out
}

// usagePlans converts API Gateway's API keys, usage plans and usage plan keys.
func (bd *builder) usagePlans(r *res, p *props) {
	e := bd.e
	id, err := e.physical(r.node, r)
	if err != nil {
		e.addErr(err, r.node, p.where)
		return
	}
	switch r.typ {
	case typeAPIKey:
		k := resource.APIKey{ID: id, Name: p.str("Name"), Value: p.str("Value"), Enabled: p.boolean("Enabled"), Description: p.str("Description")}
		if !p.has("Value") {
			// AWS makes a random value up; a stable one keeps clients working from one start to the next.
			k.Value = stableID(40, lowerAlnum+upperAlnum[:26], "apikeyvalue", e.opts.StackName, r.id)
			e.notes = append(e.notes, Note{LogicalID: r.id, Type: r.typ, What: "the key has no Value; its value here is " + k.Value})
		}
		if !p.finish(r.typ, map[string]string{"GenerateDistinctId": "ids are derived from the logical ID",
			"CustomerId": "AWS Marketplace only", "StageKeys": "REST API stages only", "Tags": "tags are not kept for keys"}) {
			return
		}
		bd.at(resource.IndexPath("apiKeys", len(bd.b.APIKeys)), r)
		bd.b.APIKeys = append(bd.b.APIKeys, k)
	case typeUsagePlan:
		pl := resource.UsagePlan{ID: id, Name: p.str("UsagePlanName"), Description: p.str("Description")}
		for _, st := range p.subList("ApiStages") {
			pl.APIStages = append(pl.APIStages, resource.UsagePlanStage{APIID: st.str("ApiId"), Stage: st.str("Stage")})
			st.finish(r.typ, map[string]string{"Throttle": "per-route limits of a usage plan are not applied"})
		}
		if t := p.sub("Throttle"); t != nil {
			pl.Throttle = &resource.UsagePlanThrottle{BurstLimit: t.integer("BurstLimit"), RateLimit: t.float("RateLimit")}
			t.finish(r.typ, nil)
		}
		if q := p.sub("Quota"); q != nil {
			pl.Quota = &resource.UsagePlanQuota{Limit: q.integer("Limit"), Offset: q.integer("Offset"), Period: q.str("Period")}
			q.finish(r.typ, nil)
		}
		if !p.finish(r.typ, map[string]string{"Tags": "tags are not kept for usage plans"}) {
			return
		}
		bd.at(resource.IndexPath("usagePlans", len(bd.b.UsagePlans)), r)
		bd.plans[id] = len(bd.b.UsagePlans)
		bd.b.UsagePlans = append(bd.b.UsagePlans, pl)
	case typeUsagePlanKey:
		keyID, planID, keyType := p.required("KeyId"), p.required("UsagePlanId"), p.str("KeyType")
		if keyType != "" && keyType != "API_KEY" {
			p.fail("KeyType", "%q is not a key type; the only one is API_KEY", keyType)
		}
		i, ok := bd.plans[planID]
		if !ok && planID != "" && !bd.failed[planID] {
			p.fail("UsagePlanId", "%q is not a usage plan of this template; Ref one of its AWS::ApiGateway::UsagePlan resources", planID)
		}
		if !p.finish(r.typ, nil) || !ok {
			return
		}
		pl := &bd.b.UsagePlans[i]
		bd.at(resource.IndexPath(resource.FieldPath(resource.IndexPath("usagePlans", i), "keyIds"), len(pl.KeyIDs)), r)
		pl.KeyIDs = append(pl.KeyIDs, keyID)
	}
}

// tableProperties evaluates a table's properties into plain JSON values. A SimpleTable's are expanded as
// the SAM transform does: PrimaryKey (default id, String) becomes the hash key, and the table is
// on-demand unless it has ProvisionedThroughput.
func (e *evaluator) tableProperties(r *res) (map[string]any, error) {
	props := map[string]any{}
	if r.props != nil {
		v, err := e.eval(r.props)
		if err != nil {
			return nil, err
		}
		data, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(data, &props); err != nil {
			return nil, fmt.Errorf("properties are not an object")
		}
	}
	if r.typ != typeSimpleTable {
		return props, nil
	}
	key := map[string]any{"Name": "id", "Type": "String"}
	if pk, ok := props["PrimaryKey"].(map[string]any); ok {
		key = pk
	}
	name, _ := key["Name"].(string)
	typ := map[string]string{"String": "S", "Number": "N", "Binary": "B"}[fmt.Sprint(key["Type"])]
	if name == "" || typ == "" {
		return nil, fmt.Errorf("PrimaryKey needs a Name and a Type of String, Number or Binary")
	}
	out := map[string]any{
		"AttributeDefinitions": []any{map[string]any{"AttributeName": name, "AttributeType": typ}},
		"KeySchema":            []any{map[string]any{"AttributeName": name, "KeyType": "HASH"}},
		"BillingMode":          "PAY_PER_REQUEST",
	}
	if pt, ok := props["ProvisionedThroughput"]; ok {
		out["BillingMode"] = "PROVISIONED"
		out["ProvisionedThroughput"] = pt
	}
	if v, ok := props["SSESpecification"]; ok {
		out["SSESpecification"] = v
	}
	if tags, ok := props["Tags"].(map[string]any); ok { // SAM's map, DynamoDB's list
		var list []any
		for _, k := range slices.Sorted(maps.Keys(tags)) {
			list = append(list, map[string]any{"Key": k, "Value": tags[k]})
		}
		out["Tags"] = list
	}
	return out, nil
}
