package openapi

import (
	"bytes"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/resource"
)

// ExportOptions are ExportApi's parameters, resolved by the caller.
type ExportOptions struct {
	// IncludeExtensions adds the x-amazon-apigateway-* extensions (integrations, authorizers, CORS, the
	// import/export version), as AWS does by default.
	IncludeExtensions bool
	// YAML selects YAML output; JSON otherwise.
	YAML bool
	// StageName is the stage exported, or "" for the API's latest configuration. A stage export has a
	// servers entry: ServerURL + "/{basePath}", the basePath variable defaulting to the stage name ("" for
	// the $default stage).
	StageName string
	ServerURL string
	// Updated is used as info.version ("2006-01-02 15:04:05UTC") when the API has no version.
	Updated time.Time
}

// defaultTimeout is HTTP APIs' integration timeout, which exports leave out.
const defaultTimeout = 30000

// Export writes a's routes, integrations and authorizers (the caller passes a deployment's for a stage)
// as an OpenAPI 3.0 definition.
func Export(a *resource.API, opts ExportOptions) []byte {
	doc := &obj{}
	doc.set("openapi", "3.0.1")
	info := (&obj{}).set("title", a.Name)
	if a.Description != "" {
		info.set("description", a.Description)
	}
	version := a.Version
	if version == "" {
		version = opts.Updated.UTC().Format("2006-01-02 15:04:05") + "UTC"
	}
	info.set("version", version)
	doc.set("info", info)
	endpointConfig := opts.IncludeExtensions && a.DisableExecuteAPIEndpoint
	if opts.StageName != "" {
		base := opts.StageName
		if base == "$default" {
			base = ""
		}
		server := (&obj{}).set("url", opts.ServerURL+"/{basePath}").
			set("variables", (&obj{}).set("basePath", (&obj{}).set("default", base)))
		if endpointConfig {
			server.set(extEndpointConfig, (&obj{}).set("disableExecuteApiEndpoint", true))
			endpointConfig = false
		}
		doc.set("servers", []any{server})
	}
	if opts.IncludeExtensions && len(a.Tags) > 0 {
		var tags []any
		for _, k := range sortedKeys(a.Tags) {
			tags = append(tags, (&obj{}).set("name", k).set(extTagValue, a.Tags[k]))
		}
		doc.set("tags", tags)
	}
	doc.set("paths", exportPaths(a, opts))
	if c := exportComponents(a, opts); c != nil {
		doc.set("components", c)
	}
	if opts.IncludeExtensions {
		if c := a.CorsConfiguration; c != nil {
			doc.set(extCORS, exportCORS(c))
		}
		if endpointConfig {
			doc.set(extEndpointConfig, (&obj{}).set("disableExecuteApiEndpoint", true))
		}
		doc.set(extImportExport, importExportVersion)
	}
	var b bytes.Buffer
	if opts.YAML {
		writeYAML(&b, doc, 0)
	} else {
		writeJSON(&b, doc, 0)
	}
	return b.Bytes()
}

// exportPaths groups the routes by path, each path's operations in OpenAPI's method order (ANY last),
// followed by its path parameters.
func exportPaths(a *resource.API, opts ExportOptions) *obj {
	byPath := map[string][]resource.Route{}
	for _, r := range a.Routes {
		path := resource.RouteKeyDefault
		if r.RouteKey != resource.RouteKeyDefault {
			_, path, _ = strings.Cut(r.RouteKey, " ")
		}
		byPath[path] = append(byPath[path], r)
	}
	paths := &obj{}
	for _, path := range sortedKeys(byPath) {
		routes := byPath[path]
		order := func(r resource.Route) int {
			method, _, _ := strings.Cut(r.RouteKey, " ")
			if i := slices.Index(methods, strings.ToLower(method)); i >= 0 {
				return i
			}
			return len(methods)
		}
		sort.SliceStable(routes, func(i, j int) bool { return order(routes[i]) < order(routes[j]) })
		item := &obj{}
		for _, r := range routes {
			method, _, _ := strings.Cut(r.RouteKey, " ")
			if r.RouteKey == resource.RouteKeyDefault {
				method = "ANY"
			}
			item.set(operationKey(method), exportOperation(a, r, opts))
		}
		if params := pathParameters(path); len(params) > 0 {
			item.set("parameters", params)
		}
		paths.set(path, item)
	}
	return paths
}

// pathParameters are the OpenAPI parameters AWS generates for a path's {variables}.
func pathParameters(path string) []any {
	var out []any
	for _, seg := range strings.Split(path, "/") {
		if len(seg) > 2 && seg[0] == '{' && seg[len(seg)-1] == '}' {
			name := seg[1 : len(seg)-1]
			out = append(out, (&obj{}).set("name", name).set("in", "path").
				set("description", "Generated path parameter for "+name).set("required", true).
				set("schema", (&obj{}).set("type", "string")))
		}
	}
	return out
}

// exportOperation writes one route.
func exportOperation(a *resource.API, r resource.Route, opts ExportOptions) *obj {
	op := &obj{}
	if r.OperationName != "" {
		op.set("operationId", r.OperationName)
	}
	op.set("responses", (&obj{}).set("default", (&obj{}).set("description", "Default response for "+r.RouteKey)))
	switch r.AuthorizationType {
	case "JWT", "CUSTOM":
		if au := authorizer(a, r.AuthorizerID); au != nil {
			scopes := []any{}
			for _, s := range r.AuthorizationScopes {
				scopes = append(scopes, s)
			}
			op.set("security", []any{(&obj{}).set(au.Name, scopes)})
		}
	case "AWS_IAM":
		op.set("security", []any{(&obj{}).set(sigv4Scheme, []any{})})
	}
	if opts.IncludeExtensions {
		if id, ok := strings.CutPrefix(r.Target, "integrations/"); ok {
			if shared(a)[id] {
				op.set(extIntegration, (&obj{}).set("$ref", integrationRef+id))
			} else if in := integration(a, id); in != nil {
				op.set(extIntegration, exportIntegration(in))
			}
		}
	}
	return op
}

// shared returns the ids of the integrations more than one route targets. Exports write them once, in
// components.x-amazon-apigateway-integrations under their id, and routes refer to them, so that an
// import of the export shares them again.
func shared(a *resource.API) map[string]bool {
	count := map[string]int{}
	for _, r := range a.Routes {
		if id, ok := strings.CutPrefix(r.Target, "integrations/"); ok && integration(a, id) != nil {
			count[id]++
		}
	}
	out := map[string]bool{}
	for id, n := range count {
		if n > 1 {
			out[id] = true
		}
	}
	return out
}

func integration(a *resource.API, id string) *resource.Integration {
	for i := range a.Integrations {
		if a.Integrations[i].IntegrationID == id {
			return &a.Integrations[i]
		}
	}
	return nil
}

// sigv4Scheme is the security scheme exports name AWS_IAM routes' requirement after.
const sigv4Scheme = "sigv4"

func authorizer(a *resource.API, id string) *resource.Authorizer {
	for i := range a.Authorizers {
		if a.Authorizers[i].AuthorizerID == id {
			return &a.Authorizers[i]
		}
	}
	return nil
}

// exportIntegration writes x-amazon-apigateway-integration in AWS's member order.
func exportIntegration(in *resource.Integration) *obj {
	o := &obj{}
	if in.PayloadFormatVersion != "" {
		o.set("payloadFormatVersion", in.PayloadFormatVersion)
	}
	o.set("type", strings.ToLower(in.IntegrationType))
	if in.IntegrationSubtype != "" {
		o.set("integrationSubtype", in.IntegrationSubtype)
	}
	if in.CredentialsARN != "" {
		o.set("credentials", in.CredentialsARN)
	}
	if in.IntegrationMethod != "" {
		o.set("httpMethod", in.IntegrationMethod)
	}
	if in.IntegrationURI != "" {
		o.set("uri", in.IntegrationURI)
	}
	if len(in.RequestParameters) > 0 {
		o.set("requestParameters", stringObj(in.RequestParameters))
	}
	if len(in.ResponseParameters) > 0 {
		rp := &obj{}
		for _, code := range sortedKeys(in.ResponseParameters) {
			rp.set(code, stringObj(in.ResponseParameters[code]))
		}
		o.set("responseParameters", rp)
	}
	if in.ConnectionType != "" {
		o.set("connectionType", in.ConnectionType)
	}
	if in.ConnectionID != "" {
		o.set("connectionId", in.ConnectionID)
	}
	if in.TLSConfig != nil && in.TLSConfig.ServerNameToVerify != "" {
		o.set("tlsConfig", (&obj{}).set("serverNameToVerify", in.TLSConfig.ServerNameToVerify))
	}
	if in.TimeoutInMillis != 0 && in.TimeoutInMillis != defaultTimeout {
		o.set("timeoutInMillis", in.TimeoutInMillis)
	}
	if in.Description != "" {
		o.set("description", in.Description)
	}
	return o
}

// exportComponents writes the security schemes (one per authorizer, and sigv4 when a route uses AWS_IAM)
// and the shared integrations.
func exportComponents(a *resource.API, opts ExportOptions) *obj {
	schemes := &obj{}
	for i := range a.Authorizers {
		au := &a.Authorizers[i]
		s := &obj{}
		ext := &obj{}
		ext.set("identitySource", strings.Join(au.IdentitySource, ", "))
		if au.AuthorizerType == "JWT" {
			s.set("type", "oauth2").set("flows", &obj{})
			if jc := au.JWTConfiguration; jc != nil {
				audience := []any{}
				for _, v := range jc.Audience {
					audience = append(audience, v)
				}
				ext.set("jwtConfiguration", (&obj{}).set("audience", audience).set("issuer", jc.Issuer))
			}
			ext.set("type", "jwt")
		} else {
			s.set("type", "apiKey").set("name", identityHeader(au.IdentitySource)).set("in", "header")
			if au.AuthorizerURI != "" {
				ext.set("authorizerUri", au.AuthorizerURI)
			}
			if au.AuthorizerCredentialsARN != "" {
				ext.set("authorizerCredentials", au.AuthorizerCredentialsARN)
			}
			if au.AuthorizerPayloadFormatVersion != "" {
				ext.set("authorizerPayloadFormatVersion", au.AuthorizerPayloadFormatVersion)
			}
			ext.set("authorizerResultTtlInSeconds", au.AuthorizerResultTTLInSeconds)
			ext.set("type", "request")
			if au.EnableSimpleResponses {
				ext.set("enableSimpleResponses", true)
			}
		}
		if opts.IncludeExtensions {
			s.set(extAuthorizer, ext)
		}
		schemes.set(au.Name, s)
	}
	for _, r := range a.Routes {
		if r.AuthorizationType == "AWS_IAM" {
			s := (&obj{}).set("type", "apiKey").set("name", "Authorization").set("in", "header")
			if opts.IncludeExtensions {
				s.set(extAuthType, "awsSigv4")
			}
			schemes.set(sigv4Scheme, s)
			break
		}
	}
	c := &obj{}
	if len(schemes.members) > 0 {
		c.set("securitySchemes", schemes)
	}
	if ids := shared(a); opts.IncludeExtensions && len(ids) > 0 {
		integrations := &obj{}
		for _, id := range sortedKeys(ids) {
			integrations.set(id, exportIntegration(integration(a, id)))
		}
		c.set(extIntegrations, integrations)
	}
	if len(c.members) == 0 {
		return nil
	}
	return c
}

// identityHeader is the header an apiKey scheme names: the first header identity source, else
// "Unused" (AWS's placeholder for authorizers without one).
func identityHeader(sources []string) string {
	for _, s := range sources {
		if h, ok := strings.CutPrefix(s, "$request.header."); ok {
			return h
		}
	}
	return "Unused"
}

// exportCORS writes x-amazon-apigateway-cors in AWS's member order.
func exportCORS(c *resource.Cors) *obj {
	o := &obj{}
	if c.AllowMethods != nil {
		o.set("allowMethods", anyList(c.AllowMethods))
	}
	if c.AllowHeaders != nil {
		o.set("allowHeaders", anyList(c.AllowHeaders))
	}
	if c.ExposeHeaders != nil {
		o.set("exposeHeaders", anyList(c.ExposeHeaders))
	}
	if c.MaxAge != nil {
		o.set("maxAge", *c.MaxAge)
	}
	if c.AllowCredentials != nil {
		o.set("allowCredentials", *c.AllowCredentials)
	}
	if c.AllowOrigins != nil {
		o.set("allowOrigins", anyList(c.AllowOrigins))
	}
	return o
}

func anyList(s []string) []any {
	out := make([]any, 0, len(s))
	for _, v := range s {
		out = append(out, v)
	}
	return out
}

func stringObj(m map[string]string) *obj {
	o := &obj{}
	for _, k := range sortedKeys(m) {
		o.set(k, m[k])
	}
	return o
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
