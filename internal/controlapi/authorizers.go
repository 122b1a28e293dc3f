package controlapi

import (
	"net/http"
	"slices"

	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// authorizerInput is the input shape of CreateAuthorizer and UpdateAuthorizer. WebSocket APIs have Lambda
// REQUEST authorizers only, and refuse the members AWS documents as HTTP-only
// (authorizerPayloadFormatVersion, authorizerResultTtlInSeconds, enableSimpleResponses,
// jwtConfiguration); HTTP APIs have JWT and REQUEST authorizers (checkAuthorizerKind).
// https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis-apiid-authorizers.html
type authorizerInput struct {
	AuthorizerCredentialsARN       string                     `json:"authorizerCredentialsArn"`
	AuthorizerPayloadFormatVersion string                     `json:"authorizerPayloadFormatVersion"`
	AuthorizerResultTTLInSeconds   *int                       `json:"authorizerResultTtlInSeconds"`
	AuthorizerType                 string                     `json:"authorizerType"`
	AuthorizerURI                  string                     `json:"authorizerUri"`
	EnableSimpleResponses          bool                       `json:"enableSimpleResponses"`
	IdentitySource                 []string                   `json:"identitySource"`
	IdentityValidationExpression   string                     `json:"identityValidationExpression"`
	JWTConfiguration               *resource.JWTConfiguration `json:"jwtConfiguration"`
	Name                           string                     `json:"name"`
}

// authorizerOutput is the output shape of CreateAuthorizer, GetAuthorizer and UpdateAuthorizer, and an
// item of GetAuthorizers. The HTTP API members appear when set (CLI example create-authorizer for a JWT
// authorizer).
type authorizerOutput struct {
	AuthorizerCredentialsARN       string                     `json:"authorizerCredentialsArn,omitempty"`
	AuthorizerID                   string                     `json:"authorizerId"`
	AuthorizerPayloadFormatVersion string                     `json:"authorizerPayloadFormatVersion,omitempty"`
	AuthorizerResultTTLInSeconds   *int                       `json:"authorizerResultTtlInSeconds,omitempty"`
	AuthorizerType                 string                     `json:"authorizerType"`
	AuthorizerURI                  string                     `json:"authorizerUri,omitempty"`
	EnableSimpleResponses          bool                       `json:"enableSimpleResponses,omitempty"`
	IdentitySource                 []string                   `json:"identitySource"`
	IdentityValidationExpression   string                     `json:"identityValidationExpression,omitempty"`
	JWTConfiguration               *resource.JWTConfiguration `json:"jwtConfiguration,omitempty"`
	Name                           string                     `json:"name"`
}

// resultTTL is an HTTP API Lambda authorizer's authorizerResultTtlInSeconds (0 included, as AWS shows it),
// or nil for the authorizers that have none (JWT, and WebSocket APIs').
func resultTTL(au *resource.Authorizer) *int {
	if au.AuthorizerPayloadFormatVersion == "" {
		return nil
	}
	ttl := au.AuthorizerResultTTLInSeconds
	return &ttl
}

// authorizerOutputOf is what the control plane reports for au; identitySource is always a list.
func authorizerOutputOf(au *resource.Authorizer) authorizerOutput {
	sources := au.IdentitySource
	if sources == nil {
		sources = []string{}
	}
	return authorizerOutput{
		AuthorizerCredentialsARN:       au.AuthorizerCredentialsARN,
		AuthorizerID:                   au.AuthorizerID,
		AuthorizerPayloadFormatVersion: au.AuthorizerPayloadFormatVersion,
		AuthorizerResultTTLInSeconds:   resultTTL(au),
		AuthorizerType:                 au.AuthorizerType,
		AuthorizerURI:                  au.AuthorizerURI,
		EnableSimpleResponses:          au.EnableSimpleResponses,
		IdentitySource:                 sources,
		IdentityValidationExpression:   au.IdentityValidationExpression,
		JWTConfiguration:               au.JWTConfiguration,
		Name:                           au.Name,
	}
}

// authorizerInputOf is the UpdateAuthorizer input that leaves au as it is.
func authorizerInputOf(au *resource.Authorizer) authorizerInput {
	return authorizerInput{
		AuthorizerCredentialsARN:       au.AuthorizerCredentialsARN,
		AuthorizerPayloadFormatVersion: au.AuthorizerPayloadFormatVersion,
		AuthorizerResultTTLInSeconds:   resultTTL(au),
		AuthorizerType:                 au.AuthorizerType,
		AuthorizerURI:                  au.AuthorizerURI,
		EnableSimpleResponses:          au.EnableSimpleResponses,
		IdentitySource:                 au.IdentitySource,
		IdentityValidationExpression:   au.IdentityValidationExpression,
		JWTConfiguration:               au.JWTConfiguration,
		Name:                           au.Name,
	}
}

// apply copies the input's members onto au.
func (in *authorizerInput) apply(au *resource.Authorizer) {
	au.AuthorizerCredentialsARN = in.AuthorizerCredentialsARN
	au.AuthorizerPayloadFormatVersion = in.AuthorizerPayloadFormatVersion
	au.AuthorizerResultTTLInSeconds = 0
	if in.AuthorizerResultTTLInSeconds != nil {
		au.AuthorizerResultTTLInSeconds = *in.AuthorizerResultTTLInSeconds
	}
	au.EnableSimpleResponses = in.EnableSimpleResponses
	au.JWTConfiguration = in.JWTConfiguration
	au.AuthorizerType = in.AuthorizerType
	au.AuthorizerURI = in.AuthorizerURI
	au.IdentitySource = in.IdentitySource
	au.IdentityValidationExpression = in.IdentityValidationExpression
	au.Name = in.Name
}

// check refuses what WebSocket authorizers cannot have, naming the member; resource.Validate (through
// checkAPI) checks the rest (authorizerUri, identity sources).
func (in *authorizerInput) check() error {
	if in.Name == "" {
		return badRequest("name is required")
	}
	switch in.AuthorizerType {
	case "":
		return badRequest("authorizerType is required; WebSocket APIs have REQUEST (Lambda) authorizers")
	case "JWT":
		return badRequest("authorizerType JWT is supported only for HTTP APIs; WebSocket APIs have REQUEST (Lambda) authorizers")
	}
	switch {
	case in.JWTConfiguration != nil:
		return badRequest("jwtConfiguration is supported only for JWT authorizers of HTTP APIs")
	case in.AuthorizerPayloadFormatVersion != "":
		return badRequest("authorizerPayloadFormatVersion is supported only for HTTP APIs; WebSocket authorizers always receive the REQUEST authorizer event")
	case in.EnableSimpleResponses:
		return badRequest("enableSimpleResponses is supported only for HTTP APIs; a WebSocket authorizer returns an IAM policy")
	case in.AuthorizerResultTTLInSeconds != nil:
		return badRequest("authorizerResultTtlInSeconds is supported only for HTTP APIs")
	}
	return nil
}

// authorizerFor returns a's authorizer with id, or the NotFoundException AWS answers.
func authorizerFor(a *catalog.API, id string) (*resource.Authorizer, error) {
	for i := range a.Authorizers {
		if a.Authorizers[i].AuthorizerID == id {
			return &a.Authorizers[i], nil
		}
	}
	return nil, notFound("Authorizer", "Invalid Authorizer identifier specified %s", id)
}

// createAuthorizer is CreateAuthorizer. identitySource is required, as in the model (it may be empty).
func (s *server) createAuthorizer(w http.ResponseWriter, r *http.Request) error {
	var in authorizerInput
	if err := decode(r, &in); err != nil {
		return err
	}
	var out authorizerOutput
	err := s.changeAPI(r, func(_ *catalog.State, a *catalog.API) error {
		if err := checkAuthorizerKind(a, &in); err != nil {
			return err
		}
		if in.IdentitySource == nil && !isHTTP(&a.API) {
			return badRequest("identitySource is required, for example [\"route.request.header.Authorization\"]")
		}
		au := resource.Authorizer{AuthorizerID: a.NewChildID()}
		in.apply(&au)
		a.Authorizers = append(a.Authorizers, au)
		if err := checkAPI(&a.API); err != nil {
			return err
		}
		out = authorizerOutputOf(&a.Authorizers[len(a.Authorizers)-1])
		return nil
	})
	return respond(w, http.StatusCreated, out, err)
}

// getAuthorizers is GetAuthorizers.
func (s *server) getAuthorizers(w http.ResponseWriter, r *http.Request) error {
	var items []authorizerOutput
	err := s.readAPI(r, func(a *catalog.API) error {
		for i := range a.Authorizers {
			items = append(items, authorizerOutputOf(&a.Authorizers[i]))
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeList(s, w, r, items)
	return nil
}

// getAuthorizer is GetAuthorizer.
func (s *server) getAuthorizer(w http.ResponseWriter, r *http.Request) error {
	var out authorizerOutput
	err := s.readAPI(r, func(a *catalog.API) error {
		au, err := authorizerFor(a, r.PathValue("authorizerId"))
		if err != nil {
			return err
		}
		out = authorizerOutputOf(au)
		return nil
	})
	return respond(w, http.StatusOK, out, err)
}

// updateAuthorizer is UpdateAuthorizer.
func (s *server) updateAuthorizer(w http.ResponseWriter, r *http.Request) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	var out authorizerOutput
	err = s.changeAPI(r, func(_ *catalog.State, a *catalog.API) error {
		au, err := authorizerFor(a, r.PathValue("authorizerId"))
		if err != nil {
			return err
		}
		in := authorizerInputOf(au)
		if _, err := decodePatch(data, &in); err != nil {
			return err
		}
		if err := checkAuthorizerKind(a, &in); err != nil {
			return err
		}
		in.apply(au)
		if err := checkAPI(&a.API); err != nil {
			return err
		}
		out = authorizerOutputOf(au)
		return nil
	})
	return respond(w, http.StatusOK, out, err)
}

// deleteAuthorizer is DeleteAuthorizer. An authorizer a route uses cannot be deleted (409).
func (s *server) deleteAuthorizer(w http.ResponseWriter, r *http.Request) error {
	err := s.changeAPI(r, func(_ *catalog.State, a *catalog.API) error {
		au, err := authorizerFor(a, r.PathValue("authorizerId"))
		if err != nil {
			return err
		}
		id := au.AuthorizerID
		for _, route := range a.Routes {
			if route.AuthorizerID == id {
				return conflict("Authorizer %s is used by route %s (routeId %s); change the route's authorization or delete the route first", id, route.RouteKey, route.RouteID)
			}
		}
		a.Authorizers = slices.DeleteFunc(a.Authorizers, func(au resource.Authorizer) bool { return au.AuthorizerID == id })
		return nil
	})
	return respondEmpty(w, http.StatusNoContent, err)
}
