package controlapi

import (
	"net/http"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/awserr"
)

// routes lists every endpoint of the control plane (spec §10.2). Operations for features Switchboard does
// not have answer BadRequestException saying so; any other path or method is a NotFoundException.
func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	h := func(pattern string, fn func(http.ResponseWriter, *http.Request) error) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := fn(w, r); err != nil {
				s.writeError(w, r, err)
			}
		})
	}

	h("POST /v2/apis", s.createAPI)
	h("GET /v2/apis", s.getAPIs)
	h("GET /v2/apis/{apiId}", s.getAPI)
	h("PATCH /v2/apis/{apiId}", s.updateAPI)
	h("DELETE /v2/apis/{apiId}", s.deleteAPI)
	h("PUT /v2/apis", s.importAPI)
	h("PUT /v2/apis/{apiId}", s.reimportAPI)
	h("DELETE /v2/apis/{apiId}/cors", s.deleteCORS)
	h("GET /v2/apis/{apiId}/exports/{specification}", s.exportAPI)

	h("POST /v2/apis/{apiId}/routes", s.createRoute)
	h("GET /v2/apis/{apiId}/routes", s.getRoutes)
	h("GET /v2/apis/{apiId}/routes/{routeId}", s.getRoute)
	h("PATCH /v2/apis/{apiId}/routes/{routeId}", s.updateRoute)
	h("DELETE /v2/apis/{apiId}/routes/{routeId}", s.deleteRoute)
	h("DELETE /v2/apis/{apiId}/routes/{routeId}/requestparameters/{requestParameterKey}", s.deleteRouteRequestParameter)

	h("POST /v2/apis/{apiId}/routes/{routeId}/routeresponses", s.createRouteResponse)
	h("GET /v2/apis/{apiId}/routes/{routeId}/routeresponses", s.getRouteResponses)
	h("GET /v2/apis/{apiId}/routes/{routeId}/routeresponses/{routeResponseId}", s.getRouteResponse)
	h("PATCH /v2/apis/{apiId}/routes/{routeId}/routeresponses/{routeResponseId}", s.updateRouteResponse)
	h("DELETE /v2/apis/{apiId}/routes/{routeId}/routeresponses/{routeResponseId}", s.deleteRouteResponse)

	h("POST /v2/apis/{apiId}/integrations", s.createIntegration)
	h("GET /v2/apis/{apiId}/integrations", s.getIntegrations)
	h("GET /v2/apis/{apiId}/integrations/{integrationId}", s.getIntegration)
	h("PATCH /v2/apis/{apiId}/integrations/{integrationId}", s.updateIntegration)
	h("DELETE /v2/apis/{apiId}/integrations/{integrationId}", s.deleteIntegration)

	h("POST /v2/apis/{apiId}/integrations/{integrationId}/integrationresponses", s.createIntegrationResponse)
	h("GET /v2/apis/{apiId}/integrations/{integrationId}/integrationresponses", s.getIntegrationResponses)
	h("GET /v2/apis/{apiId}/integrations/{integrationId}/integrationresponses/{integrationResponseId}", s.getIntegrationResponse)
	h("PATCH /v2/apis/{apiId}/integrations/{integrationId}/integrationresponses/{integrationResponseId}", s.updateIntegrationResponse)
	h("DELETE /v2/apis/{apiId}/integrations/{integrationId}/integrationresponses/{integrationResponseId}", s.deleteIntegrationResponse)

	h("POST /v2/apis/{apiId}/authorizers", s.createAuthorizer)
	h("GET /v2/apis/{apiId}/authorizers", s.getAuthorizers)
	h("GET /v2/apis/{apiId}/authorizers/{authorizerId}", s.getAuthorizer)
	h("PATCH /v2/apis/{apiId}/authorizers/{authorizerId}", s.updateAuthorizer)
	h("DELETE /v2/apis/{apiId}/authorizers/{authorizerId}", s.deleteAuthorizer)

	h("POST /v2/apis/{apiId}/models", s.createModel)
	h("GET /v2/apis/{apiId}/models", s.getModels)
	h("GET /v2/apis/{apiId}/models/{modelId}", s.getModel)
	h("PATCH /v2/apis/{apiId}/models/{modelId}", s.updateModel)
	h("DELETE /v2/apis/{apiId}/models/{modelId}", s.deleteModel)
	h("GET /v2/apis/{apiId}/models/{modelId}/template", s.getModelTemplate)

	h("POST /v2/apis/{apiId}/deployments", s.createDeployment)
	h("GET /v2/apis/{apiId}/deployments", s.getDeployments)
	h("GET /v2/apis/{apiId}/deployments/{deploymentId}", s.getDeployment)
	h("PATCH /v2/apis/{apiId}/deployments/{deploymentId}", s.updateDeployment)
	h("DELETE /v2/apis/{apiId}/deployments/{deploymentId}", s.deleteDeployment)

	h("POST /v2/apis/{apiId}/stages", s.createStage)
	h("GET /v2/apis/{apiId}/stages", s.getStages)
	h("GET /v2/apis/{apiId}/stages/{stageName}", s.getStage)
	h("PATCH /v2/apis/{apiId}/stages/{stageName}", s.updateStage)
	h("DELETE /v2/apis/{apiId}/stages/{stageName}", s.deleteStage)
	h("DELETE /v2/apis/{apiId}/stages/{stageName}/accesslogsettings", s.deleteAccessLogSettings)
	h("DELETE /v2/apis/{apiId}/stages/{stageName}/routesettings/{routeKey}", s.deleteRouteSettings)
	h("DELETE /v2/apis/{apiId}/stages/{stageName}/cache/authorizers", s.resetAuthorizersCache)

	h("POST /v2/domainnames", s.createDomainName)
	h("GET /v2/domainnames", s.getDomainNames)
	h("GET /v2/domainnames/{domainName}", s.getDomainName)
	h("PATCH /v2/domainnames/{domainName}", s.updateDomainName)
	h("DELETE /v2/domainnames/{domainName}", s.deleteDomainName)

	h("POST /v2/domainnames/{domainName}/apimappings", s.createAPIMapping)
	h("GET /v2/domainnames/{domainName}/apimappings", s.getAPIMappings)
	h("GET /v2/domainnames/{domainName}/apimappings/{apiMappingId}", s.getAPIMapping)
	h("PATCH /v2/domainnames/{domainName}/apimappings/{apiMappingId}", s.updateAPIMapping)
	h("DELETE /v2/domainnames/{domainName}/apimappings/{apiMappingId}", s.deleteAPIMapping)

	h("POST /v2/tags/{resourceArn}", s.tagResource)
	h("GET /v2/tags/{resourceArn}", s.getTags)
	h("DELETE /v2/tags/{resourceArn}", s.untagResource)

	// API keys and usage plans are API Gateway v1 (apigateway) resources, which WebSocket APIs use.
	h("POST /apikeys", s.createAPIKey)
	h("GET /apikeys", s.getAPIKeys)
	h("GET /apikeys/{apiKey}", s.getAPIKey)
	h("PATCH /apikeys/{apiKey}", s.updateAPIKey)
	h("DELETE /apikeys/{apiKey}", s.deleteAPIKey)

	h("POST /usageplans", s.createUsagePlan)
	h("GET /usageplans", s.getUsagePlans)
	h("GET /usageplans/{usagePlanId}", s.getUsagePlan)
	h("PATCH /usageplans/{usagePlanId}", s.updateUsagePlan)
	h("DELETE /usageplans/{usagePlanId}", s.deleteUsagePlan)
	h("POST /usageplans/{usagePlanId}/keys", s.createUsagePlanKey)
	h("GET /usageplans/{usagePlanId}/keys", s.getUsagePlanKeys)
	h("GET /usageplans/{usagePlanId}/keys/{keyId}", s.getUsagePlanKey)
	h("DELETE /usageplans/{usagePlanId}/keys/{keyId}", s.deleteUsagePlanKey)
	h("/usageplans/{usagePlanId}/usage", func(http.ResponseWriter, *http.Request) error {
		return badRequest("GetUsage is not supported by Switchboard: usage is counted by the data plane")
	})
	h("/usageplans/{usagePlanId}/keys/{keyId}/usage", func(http.ResponseWriter, *http.Request) error {
		return badRequest("UpdateUsage is not supported by Switchboard: usage is counted by the data plane")
	})

	// AWS features a self-hosted gateway has no counterpart for.
	for pattern, op := range map[string]string{
		"/v2/vpclinks":                                                     "VpcLinks",
		"/v2/vpclinks/{vpcLinkId}":                                         "VpcLinks",
		"/v2/domainnames/{domainName}/routingrules":                        "RoutingRules",
		"/v2/domainnames/{domainName}/routingrules/{id}":                   "RoutingRules",
		"/v2/apis/{apiId}/integrations/{integrationId}/responseparameters": "ResponseParameters",
	} {
		h(pattern, func(http.ResponseWriter, *http.Request) error {
			return badRequest("%s is not supported by Switchboard: it has no VPC links, routing rules or integration response parameters of this form", op)
		})
	}

	h("/", func(_ http.ResponseWriter, r *http.Request) error {
		return &awserr.Error{Status: http.StatusNotFound, Type: awserr.TypeNotFound,
			Message: "No operation matches " + r.Method + " " + r.URL.EscapedPath()}
	})
	return trimTrailingSlash(mux)
}

// trimTrailingSlash serves a path ending in one slash as the path without it: AWS lists APIs for
// GET /v2/apis/ as for GET /v2/apis, and the same holds here for every endpoint (collections and
// resources alike), so a hand-written URL with a trailing slash is never a 404.
func trimTrailingSlash(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") {
			u := *r.URL
			u.Path = strings.TrimSuffix(p, "/")
			u.RawPath = strings.TrimSuffix(u.RawPath, "/")
			r = r.WithContext(r.Context())
			r.URL = &u
		}
		next.ServeHTTP(w, r)
	})
}
