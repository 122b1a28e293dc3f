package controlapi

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/selexpr"
)

// apiInput is UpdateApi's input shape; CreateApi's adds protocolType and tags. The quick-create members
// (target, routeKey, credentialsArn) and corsConfiguration belong to HTTP APIs; a WebSocket API refuses
// them naming the member.
// https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis-apiid.html
type apiInput struct {
	APIKeySelectionExpression string         `json:"apiKeySelectionExpression"`
	CorsConfiguration         *resource.Cors `json:"corsConfiguration"`
	CredentialsARN            string         `json:"credentialsArn"`
	Description               string         `json:"description"`
	DisableExecuteAPIEndpoint bool           `json:"disableExecuteApiEndpoint"`
	DisableSchemaValidation   bool           `json:"disableSchemaValidation"`
	IPAddressType             string         `json:"ipAddressType"`
	Name                      string         `json:"name"`
	RouteKey                  string         `json:"routeKey"`
	RouteSelectionExpression  string         `json:"routeSelectionExpression"`
	Target                    string         `json:"target"`
	Version                   string         `json:"version"`
}

// createAPIInput is CreateApi's input shape.
type createAPIInput struct {
	apiInput
	ProtocolType string            `json:"protocolType"`
	Tags         map[string]string `json:"tags"`
}

// apiOutput is the output shape of CreateApi, GetApi and UpdateApi, and an item of GetApis, with the
// members AWS returns (the `aws apigatewayv2` CLI examples create-api, get-api, get-apis and update-api):
// apiGatewayManaged is left out (AWS reports it on the route, integration and stage quick create makes,
// not on the API), disableSchemaValidation only appears once set, tags appear as {} on every answer but
// CreateApi's, which shows them only when the request gave some. disableExecuteApiEndpoint and
// ipAddressType are always present, as AWS reports them since they exist. corsConfiguration appears for
// HTTP APIs that have one; warnings for ImportApi and ReimportApi.
type apiOutput struct {
	APIEndpoint               string            `json:"apiEndpoint"`
	APIID                     string            `json:"apiId"`
	APIKeySelectionExpression string            `json:"apiKeySelectionExpression,omitempty"`
	CorsConfiguration         *resource.Cors    `json:"corsConfiguration,omitempty"`
	CreatedDate               string            `json:"createdDate,omitempty"`
	Description               string            `json:"description,omitempty"`
	DisableExecuteAPIEndpoint bool              `json:"disableExecuteApiEndpoint"`
	DisableSchemaValidation   bool              `json:"disableSchemaValidation,omitempty"`
	IPAddressType             string            `json:"ipAddressType"`
	Name                      string            `json:"name"`
	ProtocolType              string            `json:"protocolType"`
	RouteSelectionExpression  string            `json:"routeSelectionExpression,omitempty"`
	Tags                      map[string]string `json:"tags,omitzero"`
	Version                   string            `json:"version,omitempty"`
	Warnings                  []string          `json:"warnings,omitempty"`
}

// IP address types of an API's endpoint.
const (
	ipAddressTypeIPv4      = "ipv4"
	ipAddressTypeDualstack = "dualstack"
)

// apiOutputOf is what the control plane reports for a.
func (s *server) apiOutputOf(a *catalog.API) apiOutput {
	ipType := a.IPAddressType
	if ipType == "" {
		ipType = ipAddressTypeIPv4
	}
	return apiOutput{
		APIEndpoint:               s.apiEndpointFor(&a.API),
		APIID:                     a.APIID,
		APIKeySelectionExpression: a.APIKeySelectionExpression,
		CorsConfiguration:         a.CorsConfiguration,
		CreatedDate:               timestamp(a.CreatedDate),
		Description:               a.Description,
		DisableExecuteAPIEndpoint: a.DisableExecuteAPIEndpoint,
		DisableSchemaValidation:   a.DisableSchemaValidation,
		IPAddressType:             ipType,
		Name:                      a.Name,
		ProtocolType:              a.ProtocolType,
		RouteSelectionExpression:  a.RouteSelectionExpression,
		Tags:                      nonNilMap(a.Tags),
		Version:                   a.Version,
	}
}

// check checks the members for an API of protocolType: what the kind cannot have is refused, naming the
// member, as are the members resource.Validate leaves to the compile step.
func (in *apiInput) check(protocolType string) error {
	if protocolType == resource.ProtocolHTTP {
		return in.checkHTTP()
	}
	if in.CorsConfiguration != nil {
		return badRequest("corsConfiguration is supported only for HTTP APIs; this is a WebSocket API")
	}
	for _, m := range []struct{ name, value string }{{"target", in.Target}, {"routeKey", in.RouteKey}, {"credentialsArn", in.CredentialsARN}} {
		if m.value != "" {
			return badRequest("%s is a quick create member, supported only for HTTP APIs; create the integration and routes of a WebSocket API separately", m.name)
		}
	}
	if in.RouteSelectionExpression == "" {
		return badRequest("routeSelectionExpression is required for WEBSOCKET APIs, for example $request.body.action")
	}
	if err := checkExpression("routeSelectionExpression", in.RouteSelectionExpression); err != nil {
		return err
	}
	switch in.IPAddressType {
	case "", ipAddressTypeIPv4, ipAddressTypeDualstack:
	default:
		return badRequest("ipAddressType %q is not valid; allowed values are ipv4 and dualstack", in.IPAddressType)
	}
	return nil
}

// apply copies the input's members onto a.
func (in *apiInput) apply(a *resource.API) {
	a.APIKeySelectionExpression = in.APIKeySelectionExpression
	a.CorsConfiguration = in.CorsConfiguration
	a.Description = in.Description
	a.DisableExecuteAPIEndpoint = in.DisableExecuteAPIEndpoint
	a.DisableSchemaValidation = in.DisableSchemaValidation
	a.IPAddressType = in.IPAddressType
	a.Name = in.Name
	a.RouteSelectionExpression = in.RouteSelectionExpression
	a.Version = in.Version
}

// apiInputOf is the UpdateApi input that leaves a as it is.
func apiInputOf(a *resource.API) apiInput {
	return apiInput{
		APIKeySelectionExpression: a.APIKeySelectionExpression,
		CorsConfiguration:         a.CorsConfiguration,
		Description:               a.Description,
		DisableExecuteAPIEndpoint: a.DisableExecuteAPIEndpoint,
		DisableSchemaValidation:   a.DisableSchemaValidation,
		IPAddressType:             a.IPAddressType,
		Name:                      a.Name,
		RouteSelectionExpression:  a.RouteSelectionExpression,
		Version:                   a.Version,
	}
}

// Tag limits AWS applies to every taggable resource.
const (
	maxTags           = 50
	maxTagKeyLength   = 128
	maxTagValueLength = 256
)

// checkAPITags applies AWS's tag limits to the tags of an API or of any other taggable resource: at most
// 50, keys of 1 to 128 characters outside the reserved aws: prefix, values of at most 256 characters.
func checkAPITags(tags map[string]string) error {
	if len(tags) > maxTags {
		return badRequest("tags: a resource has at most %d tags; got %d", maxTags, len(tags))
	}
	for k, v := range tags {
		if n := utf8.RuneCountInString(k); n == 0 || n > maxTagKeyLength {
			return badRequest("tags: tag key %q is not valid; use 1 to %d characters", k, maxTagKeyLength)
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return badRequest("tags: tag key %q is not valid; the prefix aws: is reserved", k)
		}
		if utf8.RuneCountInString(v) > maxTagValueLength {
			return badRequest("tags: the value of tag %q is longer than %d characters", k, maxTagValueLength)
		}
	}
	return nil
}

// createAPI is CreateApi: a new WEBSOCKET or HTTP API with a random apiId, created now. An HTTP API with
// target is quick created: an integration, a route and an autoDeploy $default stage come with it.
func (s *server) createAPI(w http.ResponseWriter, r *http.Request) error {
	var in createAPIInput
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Name == "" {
		return badRequest("name is required")
	}
	switch in.ProtocolType {
	case resource.ProtocolWebSocket, resource.ProtocolHTTP:
	case "":
		return badRequest("protocolType is required: HTTP or WEBSOCKET")
	default:
		return badRequest("Invalid protocolType %q specified. Must be one of [HTTP, WEBSOCKET]", in.ProtocolType)
	}
	if err := in.check(in.ProtocolType); err != nil {
		return err
	}
	if err := in.checkQuickCreate(); err != nil {
		return err
	}
	if err := checkAPITags(in.Tags); err != nil {
		return err
	}
	var out apiOutput
	err := s.cfg.Catalog.Write(r.Context(), func(st *catalog.State) error {
		a := &catalog.API{Source: catalog.SourceAPI, CreatedDate: s.cfg.Now().UTC()}
		a.ProtocolType = in.ProtocolType
		a.Tags = in.Tags
		in.apply(&a.API)
		a.APIID = st.NewAPIID()
		if in.Target != "" {
			if err := quickCreate(a, &in.apiInput, s.cfg.Now()); err != nil {
				return err
			}
		}
		if err := checkAPI(&a.API); err != nil {
			return err
		}
		st.APIs = append(st.APIs, a)
		out = s.apiOutputOf(a)
		out.Tags = tagsIfAny(a.Tags) // CreateApi shows tags only when it was given some
		return nil
	})
	return respond(w, http.StatusCreated, out, err)
}

// getAPIs is GetApis: every API, in creation order (configuration-file APIs first).
func (s *server) getAPIs(w http.ResponseWriter, r *http.Request) error {
	var items []apiOutput
	s.cfg.Catalog.Read(func(st *catalog.State) {
		for _, a := range st.APIs {
			items = append(items, s.apiOutputOf(a))
		}
	})
	writeList(s, w, r, items)
	return nil
}

// getAPI is GetApi.
func (s *server) getAPI(w http.ResponseWriter, r *http.Request) error {
	var out apiOutput
	err := s.readAPI(r, func(a *catalog.API) error {
		out = s.apiOutputOf(a)
		return nil
	})
	return respond(w, http.StatusOK, out, err)
}

// updateAPI is UpdateApi: the members present replace the API's.
func (s *server) updateAPI(w http.ResponseWriter, r *http.Request) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	var out apiOutput
	err = s.changeAPI(r, func(_ *catalog.State, a *catalog.API) error {
		in := apiInputOf(&a.API)
		present, err := decodePatch(data, &in)
		if err != nil {
			return err
		}
		if in.Name == "" {
			return badRequest("name is required")
		}
		if err := in.check(a.ProtocolType); err != nil {
			return err
		}
		if err := quickUpdate(a, &in, present); err != nil {
			return err
		}
		in.apply(&a.API)
		if err := checkAPI(&a.API); err != nil {
			return err
		}
		out = s.apiOutputOf(a)
		return nil
	})
	return respond(w, http.StatusOK, out, err)
}

// deleteAPI is DeleteApi. As on AWS, an API that a custom domain name still maps cannot be deleted: the
// mappings must go first. An API declared in the configuration file is removed from the file instead.
func (s *server) deleteAPI(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("apiId")
	err := s.cfg.Catalog.Write(r.Context(), func(st *catalog.State) error {
		a := st.API(id)
		if a == nil {
			return s.apiNotFound(id)
		}
		if err := fromConfigFile(a.Source, "API "+id); err != nil {
			return err
		}
		var domains []string
		for _, d := range st.DomainNames {
			for _, m := range d.APIMappings {
				if m.APIID == id {
					domains = append(domains, d.DomainName.DomainName)
					break
				}
			}
		}
		if len(domains) > 0 {
			return badRequest("Deleting API %s failed. Please remove all API mappings for the API from your custom domain names (%s).", id, strings.Join(domains, ", "))
		}
		kept := st.APIs[:0]
		for _, a := range st.APIs {
			if a.APIID != id {
				kept = append(kept, a)
			}
		}
		st.APIs = kept
		return nil
	})
	return respondEmpty(w, http.StatusNoContent, err)
}

// readAPI calls fn with the API the request's {apiId} names, from the current state, which fn must not
// change; a missing API is a NotFoundException.
func (s *server) readAPI(r *http.Request, fn func(a *catalog.API) error) error {
	id := r.PathValue("apiId")
	var err error
	s.cfg.Catalog.Read(func(st *catalog.State) {
		a := st.API(id)
		if a == nil {
			err = s.apiNotFound(id)
			return
		}
		err = fn(a)
	})
	return err
}

// changeAPI runs fn in a catalog transaction with the API the request's {apiId} names; fn changes it in
// place. A missing API is a NotFoundException; an API the configuration file declares is changed in the
// file, not here (see fromConfigFile).
func (s *server) changeAPI(r *http.Request, fn func(st *catalog.State, a *catalog.API) error) error {
	id := r.PathValue("apiId")
	return s.cfg.Catalog.Write(r.Context(), func(st *catalog.State) error {
		a := st.API(id)
		if a == nil {
			return s.apiNotFound(id)
		}
		if err := fromConfigFile(a.Source, "API "+id); err != nil {
			return err
		}
		return fn(st, a)
	})
}

// checkAPI fills in AWS's defaults in a, in place, and checks it with resource.Validate: the rules AWS
// applies to every member of the API and its children. The problems come back as resource.FieldErrors
// (a BadRequestException) whose messages name the member without the list indexes of the path, which
// mean nothing to a control-plane client.
func checkAPI(a *resource.API) error {
	b := resource.Bundle{APIs: []resource.API{*a}}
	resource.ApplyDefaults(&b)
	*a = b.APIs[0]
	errs := resource.Validate(&b)
	if len(errs) == 0 {
		return nil
	}
	out := make(resource.FieldErrors, 0, len(errs))
	for _, e := range errs {
		out = append(out, &resource.FieldError{Message: memberMessage(e)})
	}
	return out
}

// listSteps matches the leading list elements of a field path ("apis[0].routes[2].").
var listSteps = regexp.MustCompile(`^(?:[A-Za-z]+\[\d+\](?:\.|$))+`)

// memberMessage is e's message, prefixed with the member it is about (without list indexes) unless the
// message already names it.
func memberMessage(e *resource.FieldError) string {
	member := listSteps.ReplaceAllString(e.Path, "")
	root, _, _ := strings.Cut(member, ".")
	if root == "" || strings.Contains(e.Message, root) {
		return e.Message
	}
	return member + ": " + e.Message
}

// checkExpression parses a selection expression member and answers a BadRequestException naming it.
func checkExpression(member, src string) error {
	if src == "" {
		return nil
	}
	if _, err := selexpr.Parse(src); err != nil {
		var se *selexpr.SyntaxError
		if errors.As(err, &se) {
			return badRequest("%s %q is not a valid selection expression: %s at offset %d", member, src, se.Msg, se.Offset)
		}
		return badRequest("%s %q is not a valid selection expression: %v", member, src, err)
	}
	return nil
}
