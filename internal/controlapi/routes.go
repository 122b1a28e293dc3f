package controlapi

import (
	"net/http"
	"slices"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// routeInput is the input shape of CreateRoute and UpdateRoute.
// https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis-apiid-routes.html
type routeInput struct {
	APIKeyRequired                   bool                                    `json:"apiKeyRequired"`
	AuthorizationScopes              []string                                `json:"authorizationScopes"`
	AuthorizationType                string                                  `json:"authorizationType"`
	AuthorizerID                     string                                  `json:"authorizerId"`
	ModelSelectionExpression         string                                  `json:"modelSelectionExpression"`
	OperationName                    string                                  `json:"operationName"`
	RequestModels                    map[string]string                       `json:"requestModels"`
	RequestParameters                map[string]resource.ParameterConstraint `json:"requestParameters"`
	RouteKey                         string                                  `json:"routeKey"`
	RouteResponseSelectionExpression string                                  `json:"routeResponseSelectionExpression"`
	Target                           string                                  `json:"target"`
}

// routeOutput is the output shape of CreateRoute, GetRoute and UpdateRoute, and an item of GetRoutes. AWS
// reports apiGatewayManaged only for the route quick create made (CLI examples create-route, get-route,
// get-routes).
type routeOutput struct {
	APIGatewayManaged                bool                                    `json:"apiGatewayManaged,omitempty"`
	APIKeyRequired                   bool                                    `json:"apiKeyRequired"`
	AuthorizationScopes              []string                                `json:"authorizationScopes,omitempty"`
	AuthorizationType                string                                  `json:"authorizationType,omitempty"`
	AuthorizerID                     string                                  `json:"authorizerId,omitempty"`
	ModelSelectionExpression         string                                  `json:"modelSelectionExpression,omitempty"`
	OperationName                    string                                  `json:"operationName,omitempty"`
	RequestModels                    map[string]string                       `json:"requestModels,omitempty"`
	RequestParameters                map[string]resource.ParameterConstraint `json:"requestParameters,omitempty"`
	RouteID                          string                                  `json:"routeId"`
	RouteKey                         string                                  `json:"routeKey"`
	RouteResponseSelectionExpression string                                  `json:"routeResponseSelectionExpression,omitempty"`
	Target                           string                                  `json:"target,omitempty"`
}

// routeOutputOf is what the control plane reports for r, a route of a.
func routeOutputOf(a *catalog.API, r *resource.Route) routeOutput {
	return routeOutput{
		APIGatewayManaged:                managed(a, managedRoute, r.RouteID),
		APIKeyRequired:                   r.APIKeyRequired,
		AuthorizationScopes:              r.AuthorizationScopes,
		AuthorizationType:                r.AuthorizationType,
		AuthorizerID:                     r.AuthorizerID,
		ModelSelectionExpression:         r.ModelSelectionExpression,
		OperationName:                    r.OperationName,
		RequestModels:                    r.RequestModels,
		RequestParameters:                r.RequestParameters,
		RouteID:                          r.RouteID,
		RouteKey:                         r.RouteKey,
		RouteResponseSelectionExpression: r.RouteResponseSelectionExpression,
		Target:                           r.Target,
	}
}

// routeInputOf is the UpdateRoute input that leaves r as it is.
func routeInputOf(r *resource.Route) routeInput {
	return routeInput{
		APIKeyRequired:                   r.APIKeyRequired,
		AuthorizationScopes:              r.AuthorizationScopes,
		AuthorizationType:                r.AuthorizationType,
		AuthorizerID:                     r.AuthorizerID,
		ModelSelectionExpression:         r.ModelSelectionExpression,
		OperationName:                    r.OperationName,
		RequestModels:                    r.RequestModels,
		RequestParameters:                r.RequestParameters,
		RouteKey:                         r.RouteKey,
		RouteResponseSelectionExpression: r.RouteResponseSelectionExpression,
		Target:                           r.Target,
	}
}

// apply copies the input's members onto r.
func (in *routeInput) apply(r *resource.Route) {
	r.APIKeyRequired = in.APIKeyRequired
	r.AuthorizationScopes = in.AuthorizationScopes
	r.AuthorizationType = in.AuthorizationType
	r.AuthorizerID = in.AuthorizerID
	r.ModelSelectionExpression = in.ModelSelectionExpression
	r.OperationName = in.OperationName
	r.RequestModels = in.RequestModels
	r.RequestParameters = in.RequestParameters
	r.RouteKey = in.RouteKey
	r.RouteResponseSelectionExpression = in.RouteResponseSelectionExpression
	r.Target = in.Target
}

// routeFor returns a's route with id, or the NotFoundException AWS answers.
func routeFor(a *catalog.API, id string) (*resource.Route, error) {
	for i := range a.Routes {
		if a.Routes[i].RouteID == id {
			return &a.Routes[i], nil
		}
	}
	return nil, notFound("Route", "Invalid Route identifier specified %s", id)
}

// modelNames is the set of a's model names, which requestModels and responseModels refer to.
func modelNames(a *catalog.API) map[string]bool {
	names := make(map[string]bool, len(a.Models))
	for _, m := range a.Models {
		names[m.Name] = true
	}
	return names
}

// checkRoute checks route r of a against the rest of a: a unique key, a target that names one of a's
// integrations, an authorizer and models that exist. resource.Validate (through checkAPI) checks the rest.
func checkRoute(a *catalog.API, r *resource.Route) error {
	if r.RouteKey == "" {
		return badRequest("routeKey is required: $connect, $disconnect, $default or a custom key matched against the routeSelectionExpression")
	}
	for _, other := range a.Routes {
		if other.RouteKey == r.RouteKey && other.RouteID != r.RouteID {
			return conflict("Route with key %s already exists for this API", r.RouteKey)
		}
	}
	if r.Target != "" {
		id, ok := strings.CutPrefix(r.Target, "integrations/")
		if !ok || id == "" {
			return badRequest("target %q is not valid; use integrations/{integrationId}", r.Target)
		}
		if _, err := integrationFor(a, id); err != nil {
			return badRequest("Invalid integration identifier specified in target %s", r.Target)
		}
	}
	if isHTTP(&a.API) {
		return nil // resource.Validate checks an HTTP route's authorization and members
	}
	switch r.AuthorizationType {
	case "JWT":
		return badRequest("authorizationType JWT is supported only for HTTP APIs; WebSocket APIs use NONE, AWS_IAM or CUSTOM")
	case "CUSTOM":
		if r.AuthorizerID == "" {
			return badRequest("authorizerId is required when authorizationType is CUSTOM")
		}
		if _, err := authorizerFor(a, r.AuthorizerID); err != nil {
			return badRequest("Invalid authorizer identifier specified %s in authorizerId", r.AuthorizerID)
		}
	}
	names := modelNames(a)
	for _, key := range sortedMapKeys(r.RequestModels) {
		if !names[r.RequestModels[key]] {
			return badRequest("requestModels: %s names model %q, which does not exist in this API", key, r.RequestModels[key])
		}
	}
	return checkModelSelection(r.ModelSelectionExpression)
}

// checkModelSelection checks a modelSelectionExpression: a selection expression, or the literal
// $default AWS accepts as the static choice of the $default model.
func checkModelSelection(src string) error {
	if src == resource.RouteKeyDefault {
		return nil
	}
	return checkExpression("modelSelectionExpression", src)
}

// routeKeyInUse refuses to take route key away from a while a stage's routeSettings refer to it.
func routeKeyInUse(a *catalog.API, key string) error {
	for _, st := range a.Stages {
		if _, ok := st.RouteSettings[key]; ok {
			return conflict("Route key %s has route settings in stage %s; delete them first (DeleteRouteSettings)", key, st.StageName)
		}
	}
	return nil
}

// sortedMapKeys returns m's keys in order, so that the first problem reported is always the same one.
func sortedMapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// createRoute is CreateRoute.
func (s *server) createRoute(w http.ResponseWriter, r *http.Request) error {
	var in routeInput
	if err := decode(r, &in); err != nil {
		return err
	}
	var out routeOutput
	err := s.changeAPI(r, func(_ *catalog.State, a *catalog.API) error {
		route := resource.Route{RouteID: a.NewChildID()}
		in.apply(&route)
		if err := checkRoute(a, &route); err != nil {
			return err
		}
		a.Routes = append(a.Routes, route)
		if err := checkAPI(&a.API); err != nil {
			return err
		}
		out = routeOutputOf(a, &a.Routes[len(a.Routes)-1])
		return nil
	})
	return respond(w, http.StatusCreated, out, err)
}

// getRoutes is GetRoutes.
func (s *server) getRoutes(w http.ResponseWriter, r *http.Request) error {
	var items []routeOutput
	err := s.readAPI(r, func(a *catalog.API) error {
		for i := range a.Routes {
			items = append(items, routeOutputOf(a, &a.Routes[i]))
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeList(s, w, r, items)
	return nil
}

// getRoute is GetRoute.
func (s *server) getRoute(w http.ResponseWriter, r *http.Request) error {
	var out routeOutput
	err := s.readAPI(r, func(a *catalog.API) error {
		route, err := routeFor(a, r.PathValue("routeId"))
		if err != nil {
			return err
		}
		out = routeOutputOf(a, route)
		return nil
	})
	return respond(w, http.StatusOK, out, err)
}

// updateRoute is UpdateRoute. Setting authorizationType to anything but CUSTOM without naming an
// authorizerId drops the route's authorizer, which only CUSTOM uses.
func (s *server) updateRoute(w http.ResponseWriter, r *http.Request) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	var out routeOutput
	err = s.changeAPI(r, func(_ *catalog.State, a *catalog.API) error {
		route, err := routeFor(a, r.PathValue("routeId"))
		if err != nil {
			return err
		}
		in := routeInputOf(route)
		present, err := decodePatch(data, &in)
		if err != nil {
			return err
		}
		if present["authorizationType"] && !present["authorizerId"] && in.AuthorizationType != "CUSTOM" && in.AuthorizationType != "JWT" {
			in.AuthorizerID = ""
		}
		if present["authorizationType"] && !present["authorizationScopes"] && in.AuthorizationType != "JWT" {
			in.AuthorizationScopes = nil
		}
		if in.RouteKey != route.RouteKey {
			if err := routeKeyInUse(a, route.RouteKey); err != nil {
				return err
			}
		}
		next := *route
		in.apply(&next)
		if err := checkRoute(a, &next); err != nil {
			return err
		}
		*route = next
		if err := checkAPI(&a.API); err != nil {
			return err
		}
		out = routeOutputOf(a, route)
		return nil
	})
	return respond(w, http.StatusOK, out, err)
}

// deleteRoute is DeleteRoute, with the route's responses.
func (s *server) deleteRoute(w http.ResponseWriter, r *http.Request) error {
	err := s.changeAPI(r, func(_ *catalog.State, a *catalog.API) error {
		route, err := routeFor(a, r.PathValue("routeId"))
		if err != nil {
			return err
		}
		if err := routeKeyInUse(a, route.RouteKey); err != nil {
			return err
		}
		id := route.RouteID
		a.Routes = slices.DeleteFunc(a.Routes, func(r resource.Route) bool { return r.RouteID == id })
		return nil
	})
	return respondEmpty(w, http.StatusNoContent, err)
}

// deleteRouteRequestParameter is DeleteRouteRequestParameter: it removes one key of the route's
// requestParameters. A key the route does not have is a NotFoundException.
func (s *server) deleteRouteRequestParameter(w http.ResponseWriter, r *http.Request) error {
	err := s.changeAPI(r, func(_ *catalog.State, a *catalog.API) error {
		route, err := routeFor(a, r.PathValue("routeId"))
		if err != nil {
			return err
		}
		key := r.PathValue("requestParameterKey")
		if _, ok := route.RequestParameters[key]; !ok {
			return notFound("RouteRequestParameter", "Invalid request parameter key specified %s", key)
		}
		delete(route.RequestParameters, key)
		if len(route.RequestParameters) == 0 {
			route.RequestParameters = nil
		}
		return nil
	})
	return respondEmpty(w, http.StatusNoContent, err)
}

// routeResponseInput is the input shape of CreateRouteResponse and UpdateRouteResponse.
// https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis-apiid-routes-routeid-routeresponses.html
type routeResponseInput struct {
	ModelSelectionExpression string                                  `json:"modelSelectionExpression"`
	ResponseModels           map[string]string                       `json:"responseModels"`
	ResponseParameters       map[string]resource.ParameterConstraint `json:"responseParameters"`
	RouteResponseKey         string                                  `json:"routeResponseKey"`
}

// routeResponseOutput is the output shape of CreateRouteResponse, GetRouteResponse and
// UpdateRouteResponse, and an item of GetRouteResponses.
type routeResponseOutput struct {
	ModelSelectionExpression string                                  `json:"modelSelectionExpression,omitempty"`
	ResponseModels           map[string]string                       `json:"responseModels,omitempty"`
	ResponseParameters       map[string]resource.ParameterConstraint `json:"responseParameters,omitempty"`
	RouteResponseID          string                                  `json:"routeResponseId"`
	RouteResponseKey         string                                  `json:"routeResponseKey"`
}

// routeResponseOutputOf is what the control plane reports for rr.
func routeResponseOutputOf(rr *resource.RouteResponse) routeResponseOutput {
	return routeResponseOutput{
		ModelSelectionExpression: rr.ModelSelectionExpression,
		ResponseModels:           rr.ResponseModels,
		ResponseParameters:       rr.ResponseParameters,
		RouteResponseID:          rr.RouteResponseID,
		RouteResponseKey:         rr.RouteResponseKey,
	}
}

// apply copies the input's members onto rr.
func (in *routeResponseInput) apply(rr *resource.RouteResponse) {
	rr.ModelSelectionExpression = in.ModelSelectionExpression
	rr.ResponseModels = in.ResponseModels
	rr.ResponseParameters = in.ResponseParameters
	rr.RouteResponseKey = in.RouteResponseKey
}

// routeResponseFor returns route's response with id, or the NotFoundException AWS answers.
func routeResponseFor(route *resource.Route, id string) (*resource.RouteResponse, error) {
	for i := range route.RouteResponses {
		if route.RouteResponses[i].RouteResponseID == id {
			return &route.RouteResponses[i], nil
		}
	}
	return nil, notFound("RouteResponse", "Invalid RouteResponse identifier specified %s", id)
}

// checkRouteResponse checks rr, a response of route in a: the key $default (the only one WebSocket APIs
// allow), once per route, and models that exist. resource.Validate (through checkAPI) checks the rest,
// such as $disconnect not answering.
func checkRouteResponse(a *catalog.API, route *resource.Route, rr *resource.RouteResponse) error {
	switch rr.RouteResponseKey {
	case resource.RouteResponseKeyDefault:
	case "":
		return badRequest("routeResponseKey is required; the only key WebSocket APIs support is $default")
	default:
		return badRequest("routeResponseKey %q is not supported; the only key WebSocket APIs support is $default", rr.RouteResponseKey)
	}
	for _, other := range route.RouteResponses {
		if other.RouteResponseKey == rr.RouteResponseKey && other.RouteResponseID != rr.RouteResponseID {
			return conflict("Route response with key %s already exists for this route", rr.RouteResponseKey)
		}
	}
	names := modelNames(a)
	for _, key := range sortedMapKeys(rr.ResponseModels) {
		if !names[rr.ResponseModels[key]] {
			return badRequest("responseModels: %s names model %q, which does not exist in this API", key, rr.ResponseModels[key])
		}
	}
	return checkModelSelection(rr.ModelSelectionExpression)
}

// createRouteResponse is CreateRouteResponse.
func (s *server) createRouteResponse(w http.ResponseWriter, r *http.Request) error {
	var in routeResponseInput
	if err := decode(r, &in); err != nil {
		return err
	}
	var out routeResponseOutput
	err := s.changeAPI(r, func(_ *catalog.State, a *catalog.API) error {
		if isHTTP(&a.API) {
			return wsOnlyResources("Route responses")
		}
		route, err := routeFor(a, r.PathValue("routeId"))
		if err != nil {
			return err
		}
		rr := resource.RouteResponse{RouteResponseID: a.NewChildID()}
		in.apply(&rr)
		if err := checkRouteResponse(a, route, &rr); err != nil {
			return err
		}
		route.RouteResponses = append(route.RouteResponses, rr)
		if err := checkAPI(&a.API); err != nil {
			return err
		}
		out = routeResponseOutputOf(&route.RouteResponses[len(route.RouteResponses)-1])
		return nil
	})
	return respond(w, http.StatusCreated, out, err)
}

// getRouteResponses is GetRouteResponses.
func (s *server) getRouteResponses(w http.ResponseWriter, r *http.Request) error {
	var items []routeResponseOutput
	err := s.readAPI(r, func(a *catalog.API) error {
		route, err := routeFor(a, r.PathValue("routeId"))
		if err != nil {
			return err
		}
		for i := range route.RouteResponses {
			items = append(items, routeResponseOutputOf(&route.RouteResponses[i]))
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeList(s, w, r, items)
	return nil
}

// getRouteResponse is GetRouteResponse.
func (s *server) getRouteResponse(w http.ResponseWriter, r *http.Request) error {
	var out routeResponseOutput
	err := s.readAPI(r, func(a *catalog.API) error {
		route, err := routeFor(a, r.PathValue("routeId"))
		if err != nil {
			return err
		}
		rr, err := routeResponseFor(route, r.PathValue("routeResponseId"))
		if err != nil {
			return err
		}
		out = routeResponseOutputOf(rr)
		return nil
	})
	return respond(w, http.StatusOK, out, err)
}

// updateRouteResponse is UpdateRouteResponse.
func (s *server) updateRouteResponse(w http.ResponseWriter, r *http.Request) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	var out routeResponseOutput
	err = s.changeAPI(r, func(_ *catalog.State, a *catalog.API) error {
		route, err := routeFor(a, r.PathValue("routeId"))
		if err != nil {
			return err
		}
		rr, err := routeResponseFor(route, r.PathValue("routeResponseId"))
		if err != nil {
			return err
		}
		in := routeResponseInput{
			ModelSelectionExpression: rr.ModelSelectionExpression,
			ResponseModels:           rr.ResponseModels,
			ResponseParameters:       rr.ResponseParameters,
			RouteResponseKey:         rr.RouteResponseKey,
		}
		if _, err := decodePatch(data, &in); err != nil {
			return err
		}
		next := *rr
		in.apply(&next)
		if err := checkRouteResponse(a, route, &next); err != nil {
			return err
		}
		*rr = next
		if err := checkAPI(&a.API); err != nil {
			return err
		}
		out = routeResponseOutputOf(rr)
		return nil
	})
	return respond(w, http.StatusOK, out, err)
}

// deleteRouteResponse is DeleteRouteResponse.
func (s *server) deleteRouteResponse(w http.ResponseWriter, r *http.Request) error {
	err := s.changeAPI(r, func(_ *catalog.State, a *catalog.API) error {
		route, err := routeFor(a, r.PathValue("routeId"))
		if err != nil {
			return err
		}
		rr, err := routeResponseFor(route, r.PathValue("routeResponseId"))
		if err != nil {
			return err
		}
		id := rr.RouteResponseID
		route.RouteResponses = slices.DeleteFunc(route.RouteResponses, func(rr resource.RouteResponse) bool { return rr.RouteResponseID == id })
		return nil
	})
	return respondEmpty(w, http.StatusNoContent, err)
}
