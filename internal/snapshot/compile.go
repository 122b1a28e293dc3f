package snapshot

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/schema"
	"github.com/switchboard-gw/switchboard/internal/selexpr"
	"github.com/switchboard-gw/switchboard/internal/vtl"
)

// Compile validates b and compiles it into a Set. It applies AWS's defaults first, so callers may pass a
// Bundle as written. Every problem is reported as resource.FieldErrors with paths into b.
func Compile(b *resource.Bundle) (*Set, error) {
	resource.ApplyDefaults(b)
	applyDeploymentDefaults(b)
	if errs := resource.Validate(b); len(errs) > 0 {
		return nil, errs
	}
	c := compiler{}
	set := &Set{APIs: make(map[string]*API, len(b.APIs))}
	for i := range b.APIs {
		if api := c.api(resource.IndexPath("apis", i), &b.APIs[i]); api != nil {
			set.APIs[api.ID] = api
		}
	}
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	set.index()
	set.domains = make(map[string]*Domain, len(b.DomainNames))
	for _, d := range b.DomainNames {
		dom := &Domain{Name: strings.ToLower(d.DomainName), Mappings: make(map[string]*Stage, len(d.APIMappings)),
			MutualTLS: d.MutualTLSAuthentication != nil}
		for _, m := range d.APIMappings {
			if api := set.APIs[m.APIID]; api != nil {
				dom.HTTP = api.HTTP // Validate has made sure a domain maps one protocol
				dom.Mappings[m.APIMappingKey] = api.Stages[m.Stage]
			}
		}
		set.domains[dom.Name] = dom
	}
	return set, nil
}

// applyDeploymentDefaults fills in AWS's defaults in every deployment's routes and integrations, as
// resource.ApplyDefaults does for the working copy: a deployed stage serves them, and a deployment frozen
// from a working copy that lacked them must not serve, say, a zero integration timeout.
func applyDeploymentDefaults(b *resource.Bundle) {
	for i := range b.APIs {
		a := &b.APIs[i]
		for j := range a.Deployments {
			d := &a.Deployments[j]
			scratch := resource.Bundle{APIs: []resource.API{{APIID: a.APIID, Name: a.Name, ProtocolType: a.ProtocolType,
				Routes: d.Routes, Integrations: d.Integrations, Authorizers: d.Authorizers, Models: d.Models}}}
			resource.ApplyDefaults(&scratch)
			d.Routes, d.Integrations = scratch.APIs[0].Routes, scratch.APIs[0].Integrations
			d.Authorizers, d.Models = scratch.APIs[0].Authorizers, scratch.APIs[0].Models
		}
	}
}

type compiler struct {
	errs resource.FieldErrors
	// templates caches parsed mapping templates by their text: stages and deployments share them.
	templates map[string]*vtl.Template
}

// template parses src once per compile; report adds its error at path.
func (c *compiler) template(path, src string, report bool) *vtl.Template {
	if t, ok := c.templates[src]; ok {
		return t
	}
	t, err := vtl.Parse(src)
	if err != nil {
		if report {
			c.fail(path, fmt.Errorf("mapping template does not parse: %w", err))
		}
		return nil
	}
	if c.templates == nil {
		c.templates = make(map[string]*vtl.Template)
	}
	c.templates[src] = t
	return t
}

// models compiles an API's (or a deployment's) models. With disableSchemaValidation a model that is not
// valid JSON Schema is left out (routes that choose it refuse every message) instead of failing.
func (c *compiler) models(path, apiID string, models []resource.Model, lenient bool) map[string]*schema.Schema {
	if len(models) == 0 {
		return nil
	}
	src := make(map[string]string, len(models))
	index := make(map[string]int, len(models))
	for i, m := range models {
		src[m.Name] = m.Schema
		index[m.Name] = i
	}
	out, err := schema.CompileAll(apiID, src)
	if err == nil {
		return out
	}
	if !lenient {
		var me *schema.ModelError
		p := resource.FieldPath(path, "models")
		if errors.As(err, &me) {
			p = resource.FieldPath(resource.IndexPath(p, index[me.Model]), "schema")
		}
		c.fail(p, err)
		return nil
	}
	out = make(map[string]*schema.Schema, len(models))
	for _, m := range models {
		if one, err := schema.CompileAll(apiID, map[string]string{m.Name: m.Schema}); err == nil {
			out[m.Name] = one[m.Name]
		}
	}
	return out
}

func (c *compiler) fail(path string, err error) {
	msg := strings.Replace(err.Error(), "selexpr: ", "", 1)
	c.errs = append(c.errs, &resource.FieldError{Path: path, Message: msg})
}

func (c *compiler) expr(path, src string) *selexpr.Expr {
	if src == "" {
		return nil
	}
	e, err := selexpr.Parse(src)
	if err != nil {
		c.fail(path, fmt.Errorf("invalid selection expression %q: %w", src, err))
		return nil
	}
	return e
}

// quietExpr parses src, or returns nil when it does not parse (the error is reported elsewhere).
func (c *compiler) quietExpr(src string) *selexpr.Expr {
	e, err := selexpr.Parse(src)
	if err != nil {
		return nil
	}
	return e
}

func (c *compiler) api(path string, a *resource.API) *API {
	if a.IsHTTP() {
		return c.httpAPI(path, a)
	}
	api := &API{
		ID:                        a.APIID,
		Name:                      a.Name,
		RouteSelection:            c.expr(resource.FieldPath(path, "routeSelectionExpression"), a.RouteSelectionExpression),
		DisableExecuteAPIEndpoint: a.DisableExecuteAPIEndpoint,
		APIKeySelection:           a.APIKeySelectionExpression,
		Stages:                    make(map[string]*Stage, len(a.Stages)),
	}
	for i, in := range a.Integrations {
		// Compile once without stage variables to report expression errors a single time.
		c.integration(resource.IndexPath(resource.FieldPath(path, "integrations"), i), &in, nil, true)
	}
	workingModels := c.models(path, a.APIID, a.Models, a.DisableSchemaValidation)
	deployedModels := make(map[int]map[string]*schema.Schema)
	reported := make(map[int]bool) // deployments whose expression errors are reported
	for si := range a.Stages {
		st := &a.Stages[si]
		routes, integrations, authorizers := a.Routes, a.Integrations, a.Authorizers
		models := workingModels
		routeSelection, keySelection := api.RouteSelection, api.APIKeySelection
		if st.DeploymentID != "" {
			// A deployed stage serves its deployment, whatever the working copy says since. (Validate has
			// rejected a deploymentId that names no deployment.)
			for di := range a.Deployments {
				d := &a.Deployments[di]
				if d.DeploymentID != st.DeploymentID {
					continue
				}
				routes, integrations, authorizers = d.Routes, d.Integrations, d.Authorizers
				dp := resource.IndexPath(resource.FieldPath(path, "deployments"), di)
				if d.RouteSelectionExpression != "" && d.RouteSelectionExpression != a.RouteSelectionExpression {
					// Parsed again for each stage of the deployment; errors are reported once below.
					routeSelection = c.quietExpr(d.RouteSelectionExpression)
				}
				if d.APIKeySelectionExpression != "" {
					keySelection = d.APIKeySelectionExpression
				}
				if !reported[di] {
					reported[di] = true
					deployedModels[di] = c.models(dp, a.APIID, d.Models, a.DisableSchemaValidation)
					c.expr(resource.FieldPath(dp, "routeSelectionExpression"), d.RouteSelectionExpression)
					for i := range d.Integrations {
						c.integration(resource.IndexPath(resource.FieldPath(dp, "integrations"), i), &d.Integrations[i], nil, true)
					}
				}
				models = deployedModels[di]
				break
			}
		}
		stage := &Stage{API: api, Name: st.StageName, Variables: st.StageVariables, Routes: make(map[string]*Route, len(routes)),
			RouteSelection: routeSelection, APIKeySelection: keySelection}
		stage.DefaultRouteSettings, stage.RouteSettings = st.DefaultRouteSettings, st.RouteSettings
		byID := make(map[string]*Authorizer, len(authorizers))
		for _, au := range authorizers {
			byID[au.AuthorizerID] = &Authorizer{ID: au.AuthorizerID, Name: au.Name,
				URI: substituteStageVariables(au.AuthorizerURI, st.StageVariables), IdentitySource: au.IdentitySource}
		}
		compiled := make(map[string]*Integration, len(integrations))
		for i := range integrations {
			compiled[integrations[i].IntegrationID] = c.integration("", &integrations[i], st.StageVariables, false)
		}
		for _, r := range routes {
			route := &Route{ID: r.RouteID, Key: r.RouteKey, AuthorizationType: r.AuthorizationType, APIKeyRequired: r.APIKeyRequired}
			c.validation(route, &r, models)
			if r.AuthorizationType == "CUSTOM" {
				route.Authorizer = byID[r.AuthorizerID]
			}
			if id, ok := strings.CutPrefix(r.Target, "integrations/"); ok {
				route.Integration = compiled[id]
			}
			for _, rr := range r.RouteResponses {
				// As on AWS, a route is two-way when it has both the $default route response and
				// routeResponseSelectionExpression $default.
				if rr.RouteResponseKey == resource.RouteKeyDefault && r.RouteResponseSelectionExpression == resource.RouteKeyDefault {
					route.TwoWay = true
				}
			}
			stage.Routes[r.RouteKey] = route
			stage.NeedsAPIKey = stage.NeedsAPIKey || r.APIKeyRequired
		}
		api.Stages[st.StageName] = stage
	}
	return api
}

// integration compiles in for one stage's variables; report is set on the pass that reports errors.
func (c *compiler) integration(path string, in *resource.Integration, vars map[string]string, report bool) *Integration {
	fail := func(p string, err error) {
		if report {
			c.fail(p, err)
		}
	}
	out := &Integration{
		ID:                  in.IntegrationID,
		Type:                in.IntegrationType,
		URI:                 substituteStageVariables(in.IntegrationURI, vars),
		Method:              in.IntegrationMethod,
		Timeout:             time.Duration(in.TimeoutInMillis) * time.Millisecond,
		PassthroughBehavior: in.PassthroughBehavior,
		RequestTemplates:    in.RequestTemplates,
		ContentHandling:     in.ContentHandlingStrategy,
		CredentialsARN:      in.CredentialsARN,
	}
	for _, key := range sortedKeys(in.RequestTemplates) {
		if t := c.template(resource.FieldPath(resource.FieldPath(path, "requestTemplates"), key), in.RequestTemplates[key], report); t != nil {
			if out.Templates == nil {
				out.Templates = make(map[string]*vtl.Template, len(in.RequestTemplates))
			}
			out.Templates[key] = t
		}
	}
	if e, err := parseOptional(in.IntegrationResponseSelectionExpression); err != nil {
		fail(resource.FieldPath(path, "integrationResponseSelectionExpression"), err)
	} else {
		out.ResponseSelection = e
	}
	if e, err := parseOptional(in.TemplateSelectionExpression); err != nil {
		fail(resource.FieldPath(path, "templateSelectionExpression"), err)
	} else {
		out.TemplateSelection = e
	}
	for _, key := range sortedKeys(in.RequestParameters) {
		p, err := parameter(key, in.RequestParameters[key], vars)
		if err != nil {
			fail(resource.FieldPath(resource.FieldPath(path, "requestParameters"), key), err)
			continue
		}
		out.RequestParameters = append(out.RequestParameters, p)
	}
	for i, ir := range in.IntegrationResponses {
		irPath := resource.IndexPath(resource.FieldPath(path, "integrationResponses"), i)
		pat, err := selexpr.ParseKeyPattern(ir.IntegrationResponseKey)
		if err != nil {
			fail(resource.FieldPath(irPath, "integrationResponseKey"), err)
			continue
		}
		resp := &IntegrationResponse{Key: ir.IntegrationResponseKey, Pattern: pat, Templates: ir.ResponseTemplates,
			ContentHandling: ir.ContentHandlingStrategy}
		for _, key := range sortedKeys(ir.ResponseParameters) {
			rp, err := responseParameter(key, ir.ResponseParameters[key])
			if err != nil {
				fail(resource.FieldPath(resource.FieldPath(irPath, "responseParameters"), key), err)
				continue
			}
			resp.ResponseParameters = append(resp.ResponseParameters, rp)
		}
		for _, key := range sortedKeys(ir.ResponseTemplates) {
			if t := c.template(resource.FieldPath(resource.FieldPath(irPath, "responseTemplates"), key), ir.ResponseTemplates[key], report); t != nil {
				if resp.Compiled == nil {
					resp.Compiled = make(map[string]*vtl.Template, len(ir.ResponseTemplates))
				}
				resp.Compiled[key] = t
			}
		}
		if e, err := parseOptional(ir.TemplateSelectionExpression); err != nil {
			fail(resource.FieldPath(irPath, "templateSelectionExpression"), err)
		} else {
			resp.TemplateSelection = e
		}
		out.Responses = append(out.Responses, resp)
	}
	return out
}

// validation compiles a route's request validation: its model selection, the models it names and its
// required request parameters. Unknown model names are reported by resource.Validate.
func (c *compiler) validation(route *Route, r *resource.Route, models map[string]*schema.Schema) {
	if r.ModelSelectionExpression != "" {
		route.ModelSelection = c.quietExpr(r.ModelSelectionExpression)
		route.Models = make(map[string]*schema.Schema, len(r.RequestModels))
		for key, name := range r.RequestModels {
			route.Models[key] = models[name]
		}
	}
	for _, key := range sortedKeys(r.RequestParameters) {
		if !r.RequestParameters[key].Required {
			continue
		}
		src, err := routeParameterSource(key)
		if err != nil {
			continue // reported by resource.Validate
		}
		route.RequiredParameters = append(route.RequiredParameters, RouteParameter{Key: key, Source: src})
	}
}

// responseParameter compiles method.response.header.NAME ← integration.response.header.NAME,
// integration.response.body.PATH or 'static'.
func responseParameter(key, value string) (ResponseParameter, error) {
	header, ok := strings.CutPrefix(key, "method.response.header.")
	if !ok || header == "" {
		return ResponseParameter{}, fmt.Errorf("response parameter %q is not valid; use method.response.header.NAME", key)
	}
	if len(value) >= 2 && value[0] == '\'' && value[len(value)-1] == '\'' {
		return ResponseParameter{Header: header, Source: ParameterSource{Kind: SourceStatic, Value: value[1 : len(value)-1]}}, nil
	}
	if name, ok := strings.CutPrefix(value, "integration.response.header."); ok && name != "" {
		return ResponseParameter{Header: header, Source: ParameterSource{Kind: SourceResponseHeader, Name: name}}, nil
	}
	if strings.HasPrefix(value, "integration.response.body") {
		e, err := selexpr.Parse("$" + value)
		if err == nil && len(e.Vars()) == 1 && e.Vars()[0].Source == selexpr.SourceResponseBody {
			return ResponseParameter{Header: header, Source: ParameterSource{Kind: SourceResponseBody, Path: e.Vars()[0].Path}}, nil
		}
	}
	return ResponseParameter{}, fmt.Errorf("response parameter source %q is not valid; use integration.response.header.NAME, integration.response.body.PATH or a single-quoted 'static value'", value)
}

// routeParameterSource reads route.request.{header|querystring|multivalueheader|multivaluequerystring}.NAME
// or route.request.body.PATH.
func routeParameterSource(key string) (ParameterSource, error) {
	rest, ok := strings.CutPrefix(key, "route.request.")
	if !ok {
		return ParameterSource{}, fmt.Errorf("request parameter %q does not start with route.request.", key)
	}
	kind, name, ok := strings.Cut(rest, ".")
	if !ok || name == "" {
		return ParameterSource{}, fmt.Errorf("request parameter %q names no parameter", key)
	}
	switch kind {
	case SourceHeader, SourceQuery, SourceMultiHeader, SourceMultiQuery:
		return ParameterSource{Kind: kind, Name: name}, nil
	case SourceBody:
		e, err := selexpr.Parse("$request.body." + name)
		if err != nil || len(e.Vars()) != 1 {
			return ParameterSource{}, fmt.Errorf("request parameter %q: bad body path", key)
		}
		return ParameterSource{Kind: SourceBody, Path: e.Vars()[0].Path}, nil
	}
	return ParameterSource{}, fmt.Errorf("request parameter %q: unknown source %s", key, kind)
}

func parseOptional(src string) (*selexpr.Expr, error) {
	if src == "" {
		return nil, nil
	}
	e, err := selexpr.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("invalid selection expression %q: %w", src, err)
	}
	return e, nil
}

// parameter compiles one integration.request.{location}.{name} → source mapping.
func parameter(key, value string, vars map[string]string) (Parameter, error) {
	rest, ok := strings.CutPrefix(key, "integration.request.")
	location, name, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || name == "" {
		return Parameter{}, fmt.Errorf("key must be integration.request.{header|querystring|path}.NAME")
	}
	p := Parameter{Location: location, Name: name}
	switch {
	case len(value) >= 2 && value[0] == '\'' && value[len(value)-1] == '\'':
		p.Source = ParameterSource{Kind: SourceStatic, Value: value[1 : len(value)-1]}
	case strings.HasPrefix(value, "stageVariables."):
		p.Source = ParameterSource{Kind: SourceStatic, Value: vars[strings.TrimPrefix(value, "stageVariables.")]}
	case strings.HasPrefix(value, "context."):
		p.Source = ParameterSource{Kind: SourceContext, Name: strings.TrimPrefix(value, "context.")}
	case strings.HasPrefix(value, "route.request.body."):
		e, err := selexpr.Parse("$request.body." + strings.TrimPrefix(value, "route.request.body."))
		if err != nil || len(e.Vars()) != 1 {
			return Parameter{}, fmt.Errorf("invalid body path %q", value)
		}
		p.Source = ParameterSource{Kind: SourceBody, Path: e.Vars()[0].Path}
	default:
		src, ok := strings.CutPrefix(value, "route.request.")
		kind, name, ok2 := strings.Cut(src, ".")
		switch {
		case !ok || !ok2 || name == "":
			return Parameter{}, fmt.Errorf("unsupported value %q", value)
		case kind == SourceHeader, kind == SourceQuery, kind == SourceMultiHeader, kind == SourceMultiQuery:
			p.Source = ParameterSource{Kind: kind, Name: name}
		default:
			return Parameter{}, fmt.Errorf("unsupported value %q", value)
		}
	}
	return p, nil
}

// substituteStageVariables replaces ${stageVariables.NAME} with the stage's value ("" when undefined).
func substituteStageVariables(s string, vars map[string]string) string {
	const open = "${stageVariables."
	if !strings.Contains(s, open) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, open)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(vars[s[i+len(open):i+j]])
		s = s[i+j+1:]
	}
}
