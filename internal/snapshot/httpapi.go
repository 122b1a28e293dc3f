package snapshot

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/parammap"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// CORS is an HTTP API's corsConfiguration, ready to write as headers
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-cors.html).
type CORS struct {
	// AllowOrigins are the allowed origins, lower-cased; AnyOrigin is set when they include *.
	AllowOrigins []string
	AnyOrigin    bool
	// AllowMethods, AllowHeaders and ExposeHeaders are the configured lists joined with commas; MaxAge
	// is the configured number as text ("" when unset).
	AllowMethods, AllowHeaders, ExposeHeaders, MaxAge string
	AllowCredentials                                  bool
}

// Origin returns the Access-Control-Allow-Origin value for a request from origin, and false when the
// origin is not allowed (the gateway then adds no CORS headers). Origins compare without case; an
// allowed https://* or http://* takes every origin of that scheme.
func (c *CORS) Origin(origin string) (string, bool) {
	if origin == "" {
		return "", false
	}
	if c.AnyOrigin {
		return "*", true
	}
	lower := strings.ToLower(origin)
	for _, o := range c.AllowOrigins {
		// https://* and http://* allow every origin of that scheme, as AWS documents.
		if o == lower || strings.HasSuffix(o, "://*") && strings.HasPrefix(lower, o[:len(o)-1]) && len(lower) > len(o)-1 {
			return origin, true
		}
	}
	return "", false
}

func compileCORS(c *resource.Cors) *CORS {
	if c == nil {
		return nil
	}
	out := &CORS{
		AllowMethods:  strings.Join(c.AllowMethods, ","),
		AllowHeaders:  strings.Join(c.AllowHeaders, ","),
		ExposeHeaders: strings.Join(c.ExposeHeaders, ","),
	}
	for _, o := range c.AllowOrigins {
		if o == "*" {
			out.AnyOrigin = true
		}
		out.AllowOrigins = append(out.AllowOrigins, strings.ToLower(o))
	}
	if c.MaxAge != nil {
		out.MaxAge = strconv.Itoa(*c.MaxAge)
	}
	if c.AllowCredentials != nil {
		out.AllowCredentials = *c.AllowCredentials
	}
	return out
}

// HTTPRoutes is an HTTP API stage's route table.
type HTTPRoutes struct {
	routes []*Route // every route but $default
	def    *Route   // the $default route, nil without one
}

// Match picks the route for a request by AWS's precedence
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html#http-api-develop-routes.evaluation):
// among the routes whose path matches rawPath (the path after the stage, percent-encoding kept) and whose
// method is the request's or ANY, the most specific wins — segment by segment, literal text before a
// {variable} before a greedy {variable+} — and on the same path the request's method before ANY. Failing
// every route, $default; failing that, nil. Path variables are returned decoded, greedy ones with their
// slashes; a greedy variable takes at least one segment.
func (t *HTTPRoutes) Match(method, rawPath string) (*Route, map[string]string) {
	if t == nil {
		return nil, nil
	}
	segs := splitPath(rawPath)
	var best *Route
	for _, r := range t.routes {
		if r.Method != method && r.Method != resource.MethodAny {
			continue
		}
		if !matchSegments(r.Segments, segs) {
			continue
		}
		if best == nil || moreSpecific(r, best) {
			best = r
		}
	}
	if best == nil {
		if t.def == nil {
			return nil, nil
		}
		return t.def, nil
	}
	return best, pathParameters(best.Segments, segs)
}

// splitPath splits a raw path into decoded segments: "/" has none, "/a/b%2Fc" has "a" and "b/c".
func splitPath(rawPath string) []string {
	if rawPath == "" || rawPath == "/" {
		return nil
	}
	segs := strings.Split(strings.TrimPrefix(rawPath, "/"), "/")
	for i, s := range segs {
		if strings.IndexByte(s, '%') >= 0 {
			if d, err := url.PathUnescape(s); err == nil {
				segs[i] = d
			}
		}
	}
	return segs
}

func matchSegments(pattern []resource.PathSegment, segs []string) bool {
	for i, p := range pattern {
		if p.Greedy {
			return len(segs) > i+1 || len(segs) == i+1 && segs[i] != ""
		}
		if i >= len(segs) {
			return false
		}
		if p.Param == "" {
			if segs[i] != p.Literal {
				return false
			}
		} else if segs[i] == "" {
			return false // a path variable is never empty
		}
	}
	return len(segs) == len(pattern)
}

// rank orders segment kinds from most to least specific.
func rank(p resource.PathSegment) int {
	switch {
	case p.Greedy:
		return 2
	case p.Param != "":
		return 1
	}
	return 0
}

// moreSpecific reports whether a beats b; both matched the same path.
func moreSpecific(a, b *Route) bool {
	for i := 0; i < len(a.Segments) && i < len(b.Segments); i++ {
		if ra, rb := rank(a.Segments[i]), rank(b.Segments[i]); ra != rb {
			return ra < rb
		}
	}
	if len(a.Segments) != len(b.Segments) {
		return len(a.Segments) > len(b.Segments)
	}
	return a.Method != resource.MethodAny && b.Method == resource.MethodAny
}

func pathParameters(pattern []resource.PathSegment, segs []string) map[string]string {
	var out map[string]string
	for i, p := range pattern {
		if p.Param == "" {
			continue
		}
		if out == nil {
			out = make(map[string]string, 2)
		}
		if p.Greedy {
			out[p.Param] = strings.Join(segs[i:], "/")
			break
		}
		out[p.Param] = segs[i]
	}
	return out
}

// MatchHTTP picks the API mapping of an HTTP domain for the path segments segs: the longest mapping key
// that is a whole-segment prefix of the path wins, else the empty key. It returns the stage and how many
// segments the key took.
func (d *Domain) MatchHTTP(segs []string) (*Stage, int) {
	for n := len(segs); n >= 1; n-- {
		if st := d.Mappings[strings.Join(segs[:n], "/")]; st != nil {
			return st, n
		}
	}
	return d.Mappings[""], 0
}

// httpAPI compiles an HTTP API: each stage's route table, integrations with their parameter mappings and
// authorizers. Deployed stages serve their deployment, as for WebSocket APIs.
func (c *compiler) httpAPI(path string, a *resource.API) *API {
	api := &API{ID: a.APIID, Name: a.Name, HTTP: true, CORS: compileCORS(a.CorsConfiguration),
		DisableExecuteAPIEndpoint: a.DisableExecuteAPIEndpoint, APIKeySelection: a.APIKeySelectionExpression,
		Stages: make(map[string]*Stage, len(a.Stages))}
	for i := range a.Integrations {
		c.httpIntegration(resource.IndexPath(resource.FieldPath(path, "integrations"), i), &a.Integrations[i], nil, true)
	}
	reported := map[int]bool{}
	for si := range a.Stages {
		st := &a.Stages[si]
		routes, integrations, authorizers := a.Routes, a.Integrations, a.Authorizers
		if st.DeploymentID != "" {
			for di := range a.Deployments {
				d := &a.Deployments[di]
				if d.DeploymentID != st.DeploymentID {
					continue
				}
				routes, integrations, authorizers = d.Routes, d.Integrations, d.Authorizers
				if !reported[di] {
					reported[di] = true
					dp := resource.IndexPath(resource.FieldPath(path, "deployments"), di)
					for i := range d.Integrations {
						c.httpIntegration(resource.IndexPath(resource.FieldPath(dp, "integrations"), i), &d.Integrations[i], nil, true)
					}
				}
				break
			}
		}
		stage := &Stage{API: api, Name: st.StageName, Variables: st.StageVariables, Routes: make(map[string]*Route, len(routes)),
			APIKeySelection: api.APIKeySelection, DefaultRouteSettings: st.DefaultRouteSettings, RouteSettings: st.RouteSettings,
			HTTPRoutes: &HTTPRoutes{}, AuthorizerCacheEpoch: st.AuthorizerCacheEpoch}
		byID := make(map[string]*Authorizer, len(authorizers))
		for _, au := range authorizers {
			out := &Authorizer{ID: au.AuthorizerID, Name: au.Name, Type: au.AuthorizerType,
				URI: substituteStageVariables(au.AuthorizerURI, st.StageVariables), IdentitySource: au.IdentitySource,
				PayloadFormatVersion: au.AuthorizerPayloadFormatVersion, SimpleResponses: au.EnableSimpleResponses,
				ResultTTL: time.Duration(au.AuthorizerResultTTLInSeconds) * time.Second}
			if jc := au.JWTConfiguration; jc != nil {
				out.Issuer, out.Audience = jc.Issuer, jc.Audience
			}
			byID[au.AuthorizerID] = out
		}
		compiled := make(map[string]*Integration, len(integrations))
		for i := range integrations {
			compiled[integrations[i].IntegrationID] = c.httpIntegration("", &integrations[i], st.StageVariables, false)
		}
		for _, r := range routes {
			key, err := resource.ParseHTTPRouteKey(r.RouteKey)
			if err != nil {
				continue // reported by resource.Validate
			}
			route := &Route{ID: r.RouteID, Key: r.RouteKey, AuthorizationType: r.AuthorizationType,
				Method: key.Method, Segments: key.Segments, Scopes: r.AuthorizationScopes}
			if r.AuthorizationType == "CUSTOM" || r.AuthorizationType == resource.AuthorizationJWT {
				route.Authorizer = byID[r.AuthorizerID]
			}
			if id, ok := strings.CutPrefix(r.Target, "integrations/"); ok {
				route.Integration = compiled[id]
			}
			stage.Routes[r.RouteKey] = route
			if key.Default {
				stage.HTTPRoutes.def = route
			} else {
				stage.HTTPRoutes.routes = append(stage.HTTPRoutes.routes, route)
			}
		}
		api.Stages[st.StageName] = stage
	}
	return api
}

// httpIntegration compiles an HTTP API integration for one stage's variables; report is set on the pass
// that reports errors (parameter mappings that do not parse).
func (c *compiler) httpIntegration(path string, in *resource.Integration, vars map[string]string, report bool) *Integration {
	out := &Integration{
		ID:                   in.IntegrationID,
		Type:                 in.IntegrationType,
		URI:                  substituteStageVariables(in.IntegrationURI, vars),
		Method:               in.IntegrationMethod,
		Timeout:              time.Duration(in.TimeoutInMillis) * time.Millisecond,
		CredentialsARN:       in.CredentialsARN,
		PayloadFormatVersion: in.PayloadFormatVersion,
		Subtype:              in.IntegrationSubtype,
	}
	if in.TLSConfig != nil {
		out.ServerName = in.TLSConfig.ServerNameToVerify
	}
	if in.IntegrationSubtype != "" {
		out.ServiceParameters = in.RequestParameters
		for _, k := range sortedKeys(in.RequestParameters) {
			v := in.RequestParameters[k]
			if v == "$request.body" || v == "${request.body}" {
				continue // the whole body: a service integration's value that parameter mapping lacks
			}
			if _, err := parammap.ParseValue(v, false); err != nil && report {
				c.fail(resource.FieldPath(resource.FieldPath(path, "requestParameters"), k), err)
			}
		}
	} else if m, err := parammap.ParseRequest(in.RequestParameters); err != nil {
		if report {
			c.fail(resource.FieldPath(path, "requestParameters"), err)
		}
	} else {
		out.Mapping = m
	}
	if m, err := parammap.ParseResponse(in.ResponseParameters); err != nil {
		if report {
			c.fail(resource.FieldPath(path, "responseParameters"), err)
		}
	} else {
		out.ResponseMapping = m
	}
	return out
}
