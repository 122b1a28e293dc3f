package openapi

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/switchboard-gw/switchboard/internal/resource"
)

// ImportOptions are ImportApi's and ReimportApi's parameters.
type ImportOptions struct {
	// Basepath is how the servers' base path applies to the routes: ignore (the default), prepend or
	// split.
	Basepath string
	// NewID returns a new id for a route, integration or authorizer; the caller keeps them unique.
	NewID func() string
}

// Imported is what a definition describes, ready to become an API.
type Imported struct {
	// API holds the name, description, version, CORS configuration, tags, disableExecuteApiEndpoint,
	// routes, integrations and authorizers; protocolType is HTTP.
	API resource.API
	// DisableExecuteAPIEndpointSet says the definition set disableExecuteApiEndpoint (a reimport keeps
	// the API's value otherwise).
	DisableExecuteAPIEndpointSet bool
	// Warnings are the problems AWS reports as warnings: the import goes on without what they name
	// (ImportApi's failOnWarnings turns them into a failure).
	Warnings []string
}

// RouteSelectionExpression is the only route selection expression HTTP APIs have.
const RouteSelectionExpression = "$request.method $request.path"

// Import reads an OpenAPI 3.0 definition in JSON or YAML. A definition that cannot be imported is an
// *Error; anything Import leaves out is a warning.
func Import(data []byte, opts ImportOptions) (out *Imported, err error) {
	if err := checkBasepath(opts.Basepath); err != nil {
		return nil, err
	}
	if opts.NewID == nil {
		n := 0
		opts.NewID = func() string { n++; return fmt.Sprintf("id%05d", n) }
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &Error{Message: "the definition is neither JSON nor YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, &Error{Message: "the definition is empty"}
	}
	r := &reader{}
	defer func() {
		if p := recover(); p != nil {
			f, ok := p.(fail)
			if !ok {
				panic(p)
			}
			out, err = nil, f.err
		}
	}()
	imp := &importer{r: r, opts: opts, root: doc.Content[0], used: map[string]bool{}}
	imp.run()
	imp.out.Warnings = r.warnings
	return &imp.out, nil
}

// importer holds one import's state.
type importer struct {
	r    *reader
	opts ImportOptions
	root *yaml.Node
	out  Imported
	// schemes are the security schemes by name: an authorizer's id, or iamScheme / docScheme.
	schemes map[string]string
	// shared are the integrations of components.x-amazon-apigateway-integrations by name, made when a
	// route first refers to one.
	shared map[string]string
	// used are the ids given out, the shared integrations' names that will be ids, and "route KEY" for
	// each route key made.
	used map[string]bool
}

// newID returns an id no resource of the import has.
func (im *importer) newID() string {
	for {
		id := im.opts.NewID()
		if !im.used[id] {
			im.used[id] = true
			return id
		}
	}
}

// validID says whether name can be an integration id (what resource.Validate accepts).
func validID(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Scheme kinds that are not authorizers.
const (
	iamScheme = "\x00iam"
	docScheme = "\x00doc"
)

func (im *importer) run() {
	r, root := im.r, im.root
	if root.Kind != yaml.MappingNode {
		r.failf(root, "the definition must be an object")
	}
	version := r.str(r.get(root, "openapi"), "openapi")
	switch {
	case version == "" && r.get(root, "swagger") != nil:
		r.failf(r.get(root, "swagger"), "OpenAPI 2.0 (swagger) definitions are not imported into HTTP APIs; convert the definition to OpenAPI 3.0")
	case version == "":
		r.failf(root, "openapi is required: the OpenAPI version, such as 3.0.1")
	case !strings.HasPrefix(version, "3.0"):
		r.failf(r.get(root, "openapi"), "openapi %q is not supported; HTTP APIs import OpenAPI 3.0 definitions", version)
	}
	if v := r.get(root, extImportExport); v != nil {
		if got := r.str(v, extImportExport); got != importExportVersion {
			r.failf(v, "%s %q is not supported; the only version is %s", extImportExport, got, importExportVersion)
		}
	}
	a := &im.out.API
	a.ProtocolType = resource.ProtocolHTTP
	a.RouteSelectionExpression = RouteSelectionExpression
	info := r.get(root, "info")
	if info == nil {
		r.failf(root, "info is required: info.title becomes the API's name")
	}
	for _, m := range r.members(info, "info") {
		switch m.key {
		case "title":
			a.Name = r.str(m.value, "info.title")
		case "description":
			a.Description = r.str(m.value, "info.description")
		case "version":
			a.Version = r.str(m.value, "info.version")
		}
	}
	if a.Name == "" {
		r.failf(info, "info.title is required: it becomes the API's name")
	}
	basePath := im.basePath()
	for _, m := range r.members(root, "the definition") {
		switch m.key {
		case "openapi", "info", "servers", "paths", "components", "security", "externalDocs", extImportExport:
		case "tags":
			im.tags(m.value)
		case extCORS:
			a.CorsConfiguration = im.cors(m.value)
		case extEndpointConfig:
			im.endpointConfiguration(m.value, extEndpointConfig)
		default:
			if strings.HasPrefix(m.key, "x-amazon-apigateway-") {
				r.warnf("%s is not supported for HTTP APIs and was ignored", m.key)
			} else if !strings.HasPrefix(m.key, "x-") {
				r.warnf("Parse issue: attribute %s is unexpected and was ignored", m.key)
			}
		}
	}
	// A shared integration keeps its name as its id when it can be one, so that an export (which names
	// shared integrations by id) imports back to the same ids.
	for _, m := range r.members(r.get(r.get(root, "components"), extIntegrations), "components."+extIntegrations) {
		if validID(m.key) {
			im.used[m.key] = true
		}
	}
	im.securitySchemes()
	im.paths(basePath)
}

// basePath returns the first server's base path (the basePath variable's default, or the URL's path),
// adjusted for the basepath mode: "" when it is ignored or empty.
func (im *importer) basePath() string {
	r := im.r
	servers := r.sequence(r.get(im.root, "servers"), "servers")
	for i, s := range servers {
		if ec := r.get(s, extEndpointConfig); ec != nil {
			im.endpointConfiguration(ec, fmt.Sprintf("servers[%d].%s", i, extEndpointConfig))
		}
	}
	if len(servers) == 0 || im.opts.Basepath == "" || im.opts.Basepath == BasepathIgnore {
		return ""
	}
	raw := r.str(r.get(servers[0], "url"), "servers[0].url")
	var path string
	if strings.Contains(raw, "{basePath}") {
		path = r.str(r.get(r.get(r.get(servers[0], "variables"), "basePath"), "default"), "servers[0].variables.basePath.default")
	} else if u, err := url.Parse(raw); err == nil {
		path = u.Path
	}
	path = "/" + strings.Trim(path, "/")
	if im.opts.Basepath == BasepathSplit {
		// split drops the first segment (the part AWS reads as a stage name) and keeps the rest.
		rest := strings.TrimPrefix(path, "/")
		_, after, _ := strings.Cut(rest, "/")
		path = "/" + after
	}
	if path == "/" {
		return ""
	}
	return path
}

// tags reads the root tags that carry x-amazon-apigateway-tag-value: those are the API's tags; the
// others are documentation.
func (im *importer) tags(n *yaml.Node) {
	r := im.r
	for i, t := range r.sequence(n, "tags") {
		v := r.get(t, extTagValue)
		if v == nil {
			continue
		}
		name := r.str(r.get(t, "name"), fmt.Sprintf("tags[%d].name", i))
		if name == "" {
			r.failf(t, "tags[%d] has %s but no name", i, extTagValue)
		}
		if im.out.API.Tags == nil {
			im.out.API.Tags = map[string]string{}
		}
		im.out.API.Tags[name] = r.str(v, fmt.Sprintf("tags[%d].%s", i, extTagValue))
	}
}

// cors reads x-amazon-apigateway-cors.
func (im *importer) cors(n *yaml.Node) *resource.Cors {
	r := im.r
	c := &resource.Cors{}
	for _, m := range r.members(n, extCORS) {
		what := extCORS + "." + m.key
		switch m.key {
		case "allowOrigins":
			c.AllowOrigins = r.strings(m.value, what)
		case "allowCredentials":
			v := r.boolean(m.value, what)
			c.AllowCredentials = &v
		case "exposeHeaders":
			c.ExposeHeaders = r.strings(m.value, what)
		case "maxAge":
			v := r.integer(m.value, what)
			c.MaxAge = &v
		case "allowMethods":
			c.AllowMethods = r.strings(m.value, what)
		case "allowHeaders":
			c.AllowHeaders = r.strings(m.value, what)
		default:
			r.warnf("%s is not a member of %s and was ignored", m.key, extCORS)
		}
	}
	return c
}

// endpointConfiguration reads disableExecuteApiEndpoint.
func (im *importer) endpointConfiguration(n *yaml.Node, what string) {
	r := im.r
	for _, m := range r.members(n, what) {
		switch m.key {
		case "disableExecuteApiEndpoint":
			im.out.API.DisableExecuteAPIEndpoint = r.boolean(m.value, what+"."+m.key)
			im.out.DisableExecuteAPIEndpointSet = true
		default:
			r.warnf("%s.%s is not supported for HTTP APIs and was ignored", what, m.key)
		}
	}
}

// securitySchemes makes an authorizer of every security scheme with x-amazon-apigateway-authorizer and
// notes the SigV4 schemes (AWS_IAM routes).
func (im *importer) securitySchemes() {
	r := im.r
	im.schemes = map[string]string{}
	schemes := r.get(r.get(im.root, "components"), "securitySchemes")
	for _, m := range r.members(schemes, "components.securitySchemes") {
		what := "components.securitySchemes." + m.key
		ext := r.get(m.value, extAuthorizer)
		if ext == nil {
			if strings.EqualFold(r.str(r.get(m.value, extAuthType), what+"."+extAuthType), "awsSigv4") {
				im.schemes[m.key] = iamScheme
			} else {
				im.schemes[m.key] = docScheme
			}
			continue
		}
		au := resource.Authorizer{AuthorizerID: im.newID(), Name: m.key}
		for _, f := range r.members(ext, what+"."+extAuthorizer) {
			fw := what + "." + extAuthorizer + "." + f.key
			switch f.key {
			case "type":
				switch t := r.str(f.value, fw); strings.ToLower(t) {
				case "jwt":
					au.AuthorizerType = "JWT"
				case "request":
					au.AuthorizerType = "REQUEST"
				default:
					r.failf(f.value, "%s %q is not supported; HTTP API authorizers are jwt or request", fw, t)
				}
			case "identitySource":
				au.IdentitySource = im.identitySource(f.value, fw)
			case "jwtConfiguration":
				jc := &resource.JWTConfiguration{}
				for _, j := range r.members(f.value, fw) {
					switch j.key {
					case "issuer":
						jc.Issuer = r.str(j.value, fw+".issuer")
					case "audience":
						jc.Audience = r.strings(j.value, fw+".audience")
					default:
						r.warnf("%s.%s is not a member of jwtConfiguration and was ignored", fw, j.key)
					}
				}
				au.JWTConfiguration = jc
			case "authorizerUri":
				au.AuthorizerURI = r.str(f.value, fw)
			case "authorizerCredentials":
				au.AuthorizerCredentialsARN = r.str(f.value, fw)
			case "authorizerPayloadFormatVersion":
				au.AuthorizerPayloadFormatVersion = r.str(f.value, fw)
			case "authorizerResultTtlInSeconds":
				au.AuthorizerResultTTLInSeconds = r.integer(f.value, fw)
			case "enableSimpleResponses":
				au.EnableSimpleResponses = r.boolean(f.value, fw)
			default:
				r.warnf("%s is not supported for HTTP API authorizers and was ignored", fw)
			}
		}
		if au.AuthorizerType == "" {
			r.failf(ext, "%s.%s.type is required: jwt or request", what, extAuthorizer)
		}
		im.out.API.Authorizers = append(im.out.API.Authorizers, au)
		im.schemes[m.key] = au.AuthorizerID
	}
}

// identitySource reads an identity source: a comma-separated string in OpenAPI, or a list.
func (im *importer) identitySource(n *yaml.Node, what string) []string {
	r := im.r
	if rn := r.resolveQuiet(n); rn != nil && rn.Kind == yaml.SequenceNode {
		return r.strings(n, what)
	}
	var out []string
	for _, s := range strings.Split(r.str(n, what), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// paths makes a route for every operation, with its integration.
func (im *importer) paths(basePath string) {
	r := im.r
	rootSecurity := r.get(im.root, "security")
	for _, p := range r.members(r.get(im.root, "paths"), "paths") {
		path := p.key
		if path != resource.RouteKeyDefault {
			if !strings.HasPrefix(path, "/") {
				r.failf(p.keyN, "paths.%s: a path must start with / (or be $default)", path)
			}
			path = strings.TrimSuffix(basePath+path, "/")
			if path == "" {
				path = "/"
			}
		}
		for _, op := range r.members(p.value, "paths."+p.key) {
			what := "paths." + p.key + "." + op.key
			method := routeMethod(op.key)
			switch {
			case method != "":
			case op.key == "parameters" || op.key == "summary" || op.key == "description" || op.key == "servers" || op.key == "$ref":
				continue
			case op.key == "trace":
				r.warnf("%s: HTTP APIs have no TRACE routes; the operation was ignored", what)
				continue
			case strings.HasPrefix(op.key, "x-amazon-apigateway-"):
				r.warnf("%s is not supported for HTTP APIs and was ignored", what)
				continue
			default:
				continue
			}
			key := method + " " + path
			if path == resource.RouteKeyDefault {
				if method != "ANY" {
					r.failf(op.keyN, "%s: the $default route is written with %s only", what, extAnyMethod)
				}
				key = resource.RouteKeyDefault
			}
			im.route(key, op.value, what, rootSecurity)
		}
	}
}

// route makes the route of one operation.
func (im *importer) route(key string, op *yaml.Node, what string, rootSecurity *yaml.Node) {
	r := im.r
	if im.used["route "+key] {
		r.failf(op, "%s: route %s is defined twice", what, key)
	}
	im.used["route "+key] = true
	route := resource.Route{RouteID: im.newID(), RouteKey: key, AuthorizationType: resource.DefaultAuthorizationType}
	security := rootSecurity
	for _, m := range r.members(op, what) {
		switch m.key {
		case "operationId":
			route.OperationName = r.str(m.value, what+".operationId")
		case "security":
			security = m.value
		case extIntegration:
			route.Target = "integrations/" + im.integration(m.value, what+"."+extIntegration, "")
		default:
			if strings.HasPrefix(m.key, "x-amazon-apigateway-") {
				r.warnf("%s.%s is not supported for HTTP API routes and was ignored", what, m.key)
			}
		}
	}
	if security != nil {
		im.security(&route, security, what+".security")
	}
	im.out.API.Routes = append(im.out.API.Routes, route)
}

// security sets a route's authorization from its first security requirement.
func (im *importer) security(route *resource.Route, n *yaml.Node, what string) {
	r := im.r
	reqs := r.sequence(n, what)
	if len(reqs) == 0 {
		return
	}
	if len(reqs) > 1 {
		r.warnf("%s: HTTP API routes have one authorizer; only the first security requirement was used", what)
	}
	ms := r.members(reqs[0], what+"[0]")
	if len(ms) == 0 {
		return
	}
	if len(ms) > 1 {
		r.warnf("%s[0]: HTTP API routes have one authorizer; only %s was used", what, ms[0].key)
	}
	name := ms[0].key
	scopes := r.strings(ms[0].value, what+"[0]."+name)
	kind, ok := im.schemes[name]
	switch {
	case !ok:
		r.warnf("%s: security scheme %s is not defined in components.securitySchemes; the route was imported without authorization", what, name)
	case kind == iamScheme:
		route.AuthorizationType = "AWS_IAM"
	case kind == docScheme:
		r.warnf("%s: security scheme %s has no %s; the route was imported without authorization", what, name, extAuthorizer)
	default:
		route.AuthorizerID = kind
		route.AuthorizationType = "CUSTOM"
		for _, au := range im.out.API.Authorizers {
			if au.AuthorizerID == kind && au.AuthorizerType == "JWT" {
				route.AuthorizationType = "JWT"
				route.AuthorizationScopes = scopes
			}
		}
		if route.AuthorizationType == "CUSTOM" && len(scopes) > 0 {
			r.warnf("%s: authorization scopes apply to JWT authorizers only; the scopes for %s were ignored", what, name)
		}
	}
}

// integrationRef is the prefix of a reference to a shared integration.
const integrationRef = "#/components/" + extIntegrations + "/"

// integration makes the integration an operation's extension describes (or refers to) and returns its id:
// name when it is a shared integration's valid name, else a new one.
func (im *importer) integration(n *yaml.Node, what, name string) string {
	r := im.r
	if ref := r.get(n, "$ref"); ref != nil {
		target := r.str(ref, what+".$ref")
		name, ok := strings.CutPrefix(target, integrationRef)
		if !ok {
			r.failf(ref, "%s.$ref %q must refer to %s…", what, target, integrationRef)
		}
		if id, ok := im.shared[name]; ok {
			return id
		}
		def := r.get(r.get(r.get(im.root, "components"), extIntegrations), name)
		if def == nil {
			r.failf(ref, "%s.$ref %q names no integration in components.%s", what, target, extIntegrations)
		}
		id := im.integration(def, "components."+extIntegrations+"."+name, name)
		if im.shared == nil {
			im.shared = map[string]string{}
		}
		im.shared[name] = id
		return id
	}
	in := resource.Integration{IntegrationID: name}
	if !validID(name) {
		in.IntegrationID = im.newID()
	}
	for _, m := range r.members(n, what) {
		fw := what + "." + m.key
		switch m.key {
		case "type":
			switch t := r.str(m.value, fw); strings.ToUpper(t) {
			case resource.IntegrationAWSProxy, resource.IntegrationHTTPProxy:
				in.IntegrationType = strings.ToUpper(t)
			default:
				r.failf(m.value, "%s %q: currently, an API with a protocol type of HTTP may only be associated with proxy integrations (AWS_PROXY, HTTP_PROXY)", fw, t)
			}
		case "uri":
			in.IntegrationURI = r.str(m.value, fw)
		case "httpMethod":
			in.IntegrationMethod = strings.ToUpper(r.str(m.value, fw))
		case "payloadFormatVersion":
			in.PayloadFormatVersion = r.str(m.value, fw)
		case "connectionType":
			in.ConnectionType = r.str(m.value, fw)
		case "connectionId":
			in.ConnectionID = r.str(m.value, fw)
		case "credentials":
			in.CredentialsARN = r.str(m.value, fw)
		case "description":
			in.Description = r.str(m.value, fw)
		case "integrationSubtype":
			in.IntegrationSubtype = r.str(m.value, fw)
		case "timeoutInMillis":
			in.TimeoutInMillis = r.integer(m.value, fw)
		case "requestParameters":
			in.RequestParameters = r.stringMap(m.value, fw)
		case "responseParameters":
			for _, code := range r.members(m.value, fw) {
				if in.ResponseParameters == nil {
					in.ResponseParameters = map[string]map[string]string{}
				}
				in.ResponseParameters[code.key] = r.stringMap(code.value, fw+"."+code.key)
			}
		case "tlsConfig":
			for _, t := range r.members(m.value, fw) {
				if t.key != "serverNameToVerify" {
					r.warnf("%s.%s is not a member of tlsConfig and was ignored", fw, t.key)
					continue
				}
				in.TLSConfig = &resource.TLSConfig{ServerNameToVerify: r.str(t.value, fw+"."+t.key)}
			}
		default:
			r.warnf("%s is not supported for HTTP API integrations and was ignored", fw)
		}
	}
	if in.IntegrationType == "" {
		r.failf(n, "%s.type is required: aws_proxy or http_proxy", what)
	}
	im.out.API.Integrations = append(im.out.API.Integrations, in)
	return in.IntegrationID
}

// AsError returns err as an *Error when it is one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
