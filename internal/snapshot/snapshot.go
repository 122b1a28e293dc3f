// Package snapshot is where the control plane and the data plane meet. Compile turns a resource.Bundle into
// an immutable Set — every API's stages with their routes, integrations and parsed expressions resolved —
// and a Holder swaps Sets atomically. The data plane loads the current Set once per event and never sees a
// half-applied change; a Bundle that does not compile is rejected whole and the old Set keeps serving.
package snapshot

import (
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/switchboard-gw/switchboard/internal/parammap"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/schema"
	"github.com/switchboard-gw/switchboard/internal/selexpr"
	"github.com/switchboard-gw/switchboard/internal/vtl"
)

// Set is every served API at one version.
type Set struct {
	Version uint64
	APIs    map[string]*API // by API ID
	// stagesByName lists the stages with a given name across APIs, for endpoints that name only the stage.
	stagesByName map[string][]*Stage
	// domains indexes custom domains by lower-case name ("*.example.com" for wildcards).
	domains map[string]*Domain
}

// Domain is a custom domain: its API mappings by key ("" is the root mapping).
type Domain struct {
	Name     string
	Mappings map[string]*Stage
	// MutualTLS is set when the domain has mutualTlsAuthentication: the data plane then serves it only
	// to requests that arrived over TLS for this domain with a verified client certificate.
	MutualTLS bool
	// HTTP is set when the domain maps HTTP APIs (a domain maps WebSocket or HTTP APIs, not both); their
	// mapping keys may have several levels ("v1/orders").
	HTTP bool
}

// Domain returns the custom domain serving host (lower-case, without port): an exact name first, then a
// wildcard one label up. nil when host is no custom domain.
func (s *Set) Domain(host string) *Domain {
	if s == nil || len(s.domains) == 0 {
		return nil
	}
	if d := s.domains[host]; d != nil {
		return d
	}
	if i := strings.IndexByte(host, '.'); i > 0 {
		return s.domains["*"+host[i:]]
	}
	return nil
}

// API is one compiled API, WebSocket or HTTP.
type API struct {
	ID   string
	Name string
	// HTTP is set for HTTP APIs: their stages route by method and path (Stage.HTTPRoutes).
	HTTP bool
	// CORS is an HTTP API's corsConfiguration, nil without one.
	CORS *CORS
	// RouteSelection and APIKeySelection are the working copy's; each Stage has those of what it serves.
	RouteSelection            *selexpr.Expr
	APIKeySelection           string
	DisableExecuteAPIEndpoint bool
	Stages                    map[string]*Stage // by stage name
}

// Stage is an API as one stage serves it: the routes of its deployment, with stage variables already
// substituted into integration URIs.
type Stage struct {
	API       *API
	Name      string
	Variables map[string]string
	// RouteSelection is the route selection expression of the stage's deployment; APIKeySelection its
	// API key selection expression ($request.header.x-api-key or $context.authorizer.usageIdentifierKey).
	RouteSelection  *selexpr.Expr
	APIKeySelection string
	// NeedsAPIKey is set when some route of the stage's deployment has apiKeyRequired: $connect then
	// reads the key by APIKeySelection and keeps it for the connection's life, so that messages to those
	// routes can be checked against the usage plans. Computed once, at compile time.
	NeedsAPIKey bool
	Routes      map[string]*Route // by route key, including $connect, $disconnect and $default
	// DefaultRouteSettings and RouteSettings are the stage's route settings, for throttling.
	DefaultRouteSettings *resource.RouteSettings
	RouteSettings        map[string]resource.RouteSettings
	// HTTPRoutes routes an HTTP API's requests by method and path; nil for WebSocket APIs.
	HTTPRoutes *HTTPRoutes
	// AuthorizerCacheEpoch is the stage's resource.Stage.AuthorizerCacheEpoch: ResetAuthorizersCache
	// raises it, and HTTP API Lambda authorizers drop the results they cached under another epoch.
	AuthorizerCacheEpoch uint64
}

// Authorizer is a compiled Lambda REQUEST authorizer as one stage sees it.
type Authorizer struct {
	ID             string
	Name           string
	URI            string // stage variables substituted
	IdentitySource []string
	// Type is REQUEST or JWT (HTTP APIs). The members below are an HTTP API authorizer's.
	Type string `json:",omitempty"`
	// Issuer and Audience are a JWT authorizer's jwtConfiguration.
	Issuer   string   `json:",omitempty"`
	Audience []string `json:",omitempty"`
	// PayloadFormatVersion, SimpleResponses and ResultTTL are a Lambda authorizer's.
	PayloadFormatVersion string        `json:",omitempty"`
	SimpleResponses      bool          `json:",omitempty"`
	ResultTTL            time.Duration `json:",omitempty"`
}

// Route is one compiled route.
type Route struct {
	ID  string
	Key string
	// AuthorizationType is NONE, AWS_IAM or CUSTOM ($connect only); Authorizer is set for CUSTOM.
	AuthorizationType string
	Authorizer        *Authorizer
	// APIKeyRequired makes the route need an API key of a usage plan covering the stage.
	APIKeyRequired bool
	Integration    *Integration // nil when the route has no target
	// TwoWay is set when the route has a $default route response: the integration's answer is then sent
	// back to the caller.
	TwoWay bool
	// ModelSelection and Models are the route's request validation: the expression picks a key of
	// Models (else $default). Validation is on when ModelSelection is set; a key whose model does not
	// compile (possible with disableSchemaValidation) maps to nil and fails validation.
	ModelSelection *selexpr.Expr
	Models         map[string]*schema.Schema
	// RequiredParameters are the route's requestParameters with required: true.
	RequiredParameters []RouteParameter
	// Method and Segments are an HTTP API route key parsed (Method is "" for $default); Scopes are its
	// authorizationScopes, checked by a JWT authorizer.
	Method   string
	Segments []resource.PathSegment
	Scopes   []string
}

// RouteParameter is a route request parameter: route.request.{header|querystring|...}.Name or a body path.
type RouteParameter struct {
	Key    string // as written, for logs
	Source ParameterSource
}

// Integration is one compiled integration as a particular stage sees it.
type Integration struct {
	ID                  string
	Type                string
	URI                 string // stage variables substituted
	Method              string
	Timeout             time.Duration
	PassthroughBehavior string
	RequestParameters   []Parameter
	RequestTemplates    map[string]string
	// Templates are RequestTemplates parsed, by the same keys.
	Templates         map[string]*vtl.Template
	TemplateSelection *selexpr.Expr // nil when unset
	// ResponseSelection is the integrationResponseSelectionExpression (nil for proxy integrations).
	ResponseSelection *selexpr.Expr
	// ContentHandling is contentHandlingStrategy: CONVERT_TO_TEXT, CONVERT_TO_BINARY or "".
	ContentHandling string
	// CredentialsARN is the role an AWS service integration acts as (kept for logs; requests are signed
	// with the gateway's own credentials).
	CredentialsARN string
	Responses      []*IntegrationResponse
	// The members below are an HTTP API integration's. PayloadFormatVersion is the Lambda event format
	// (1.0 or 2.0); Subtype an AWS service action, whose parameters are ServiceParameters; ServerName
	// is tlsConfig.serverNameToVerify; Mapping and ResponseMapping are requestParameters and
	// responseParameters parsed.
	PayloadFormatVersion string
	Subtype              string
	ServiceParameters    map[string]string
	ServerName           string
	Mapping              *parammap.Request
	ResponseMapping      *parammap.Response
}

// Parameter is one integration request parameter: where it goes and where its value comes from.
type Parameter struct {
	Location string          `json:"location"` // "header", "querystring" or "path"
	Name     string          `json:"name"`
	Source   ParameterSource `json:"source"`
}

// Parameter source kinds.
const (
	SourceStatic      = "static"      // Value holds the text
	SourceHeader      = "header"      // Name: handshake header ($connect only)
	SourceQuery       = "querystring" // Name: handshake query parameter ($connect only)
	SourceMultiHeader = "multivalueheader"
	SourceMultiQuery  = "multivaluequerystring"
	SourceBody        = "body"    // Path: JSON path into the message
	SourceContext     = "context" // Name: $context variable
)

// ParameterSource says where a request parameter's value comes from. Stage variables are resolved at
// compile time and become static values.
type ParameterSource struct {
	Kind  string         `json:"kind"`
	Name  string         `json:"name,omitempty"`
	Value string         `json:"value,omitempty"`
	Path  []selexpr.Step `json:"path,omitempty"`
}

// IntegrationResponse is one compiled integration response of a non-proxy integration.
type IntegrationResponse struct {
	Key               string
	Pattern           *selexpr.KeyPattern
	Templates         map[string]string
	TemplateSelection *selexpr.Expr
	// Compiled are Templates parsed, by the same keys.
	Compiled        map[string]*vtl.Template
	ContentHandling string
	// ResponseParameters set headers of the answer (method.response.header.NAME): on $connect they are
	// the handshake response's (Sec-WebSocket-Protocol picks the subprotocol).
	ResponseParameters []ResponseParameter
}

// ResponseParameter is one method.response.header.Header ← source mapping of an integration response.
// Source.Kind is SourceStatic, SourceResponseHeader (Name) or SourceResponseBody (Path).
type ResponseParameter struct {
	Header string
	Source ParameterSource
}

// Response parameter source kinds, besides SourceStatic.
const (
	SourceResponseHeader = "integration.response.header"
	SourceResponseBody   = "integration.response.body"
)

// Route returns the route for key, or nil.
func (s *Stage) Route(key string) *Route { return s.Routes[key] }

// API returns the API with id, or nil.
func (s *Set) API(id string) *API {
	if s == nil {
		return nil
	}
	return s.APIs[id]
}

// StagesNamed returns every stage called name, across APIs, ordered by API ID.
func (s *Set) StagesNamed(name string) []*Stage {
	if s == nil {
		return nil
	}
	return s.stagesByName[name]
}

func (s *Set) index() {
	s.stagesByName = make(map[string][]*Stage)
	ids := make([]string, 0, len(s.APIs))
	for id := range s.APIs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if s.APIs[id].HTTP {
			continue // the stage-only endpoint form is the WebSocket APIs' (edge/resolve.go)
		}
		for _, st := range s.APIs[id].Stages {
			s.stagesByName[st.Name] = append(s.stagesByName[st.Name], st)
		}
	}
}

// Holder holds the current Set. Loads are lock-free.
type Holder struct {
	p       atomic.Pointer[Set]
	version atomic.Uint64
}

// Load returns the current Set (nil before the first Store).
func (h *Holder) Load() *Set { return h.p.Load() }

// Store makes s current, giving it the next version number.
func (h *Holder) Store(s *Set) {
	s.Version = h.version.Add(1)
	h.p.Store(s)
}
