package controlapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/openapi"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// ImportApi, ReimportApi and ExportApi: HTTP APIs from and to OpenAPI 3.0 definitions (package openapi).
// https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis.html#ImportApi
// https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis-apiid-exports-specification.html

// importInput is ImportApi's and ReimportApi's body: the definition as a string.
type importInput struct {
	Body *string `json:"body"`
}

// importParams reads the body and the basepath and failOnWarnings query parameters.
func importParams(r *http.Request) (data []byte, basepath string, failOnWarnings bool, err error) {
	var in importInput
	if err := decode(r, &in); err != nil {
		return nil, "", false, err
	}
	if in.Body == nil || strings.TrimSpace(*in.Body) == "" {
		return nil, "", false, badRequest("body is required: the OpenAPI 3.0 definition, as JSON or YAML")
	}
	q := r.URL.Query()
	basepath = q.Get("basepath")
	if v := q.Get("failOnWarnings"); v != "" {
		b, perr := strconv.ParseBool(v)
		if perr != nil {
			return nil, "", false, badRequest("failOnWarnings %q is not valid; use true or false", v)
		}
		failOnWarnings = b
	}
	return []byte(*in.Body), basepath, failOnWarnings, nil
}

// importDefinition reads a definition for a (new or existing) API, giving its resources ids unique in a.
func importDefinition(a *catalog.API, data []byte, basepath string, failOnWarnings bool) (*openapi.Imported, error) {
	used := map[string]bool{}
	newID := func() string {
		for {
			id := a.NewChildID()
			if !used[id] {
				used[id] = true
				return id
			}
		}
	}
	imp, err := openapi.Import(data, openapi.ImportOptions{Basepath: basepath, NewID: newID})
	if err != nil {
		if e, ok := openapi.AsError(err); ok {
			return nil, badRequest("%s", e.Error())
		}
		return nil, err
	}
	if failOnWarnings && len(imp.Warnings) > 0 {
		return nil, badRequest("Warnings found during import:\n\t%s", strings.Join(imp.Warnings, "\n\t"))
	}
	return imp, nil
}

// importedOutput is the API's output with the import's warnings, which are also logged: what an import
// left out is worth the operator's notice even when the client does not look.
func (s *server) importedOutput(a *catalog.API, imp *openapi.Imported) apiOutput {
	out := s.apiOutputOf(a)
	out.Warnings = imp.Warnings
	if len(imp.Warnings) > 0 {
		s.log.Info("OpenAPI import left parts out", "api_id", a.APIID, "warnings", imp.Warnings)
	}
	return out
}

// importAPI is ImportApi: PUT /v2/apis → 201, a new HTTP API from an OpenAPI definition.
func (s *server) importAPI(w http.ResponseWriter, r *http.Request) error {
	data, basepath, failOnWarnings, err := importParams(r)
	if err != nil {
		return err
	}
	var out apiOutput
	err = s.cfg.Catalog.Write(r.Context(), func(st *catalog.State) error {
		a := &catalog.API{Source: catalog.SourceAPI, CreatedDate: s.cfg.Now().UTC()}
		a.APIID = st.NewAPIID()
		imp, err := importDefinition(a, data, basepath, failOnWarnings)
		if err != nil {
			return err
		}
		id := a.APIID
		a.API = imp.API
		a.APIID = id
		if err := checkAPITags(a.Tags); err != nil {
			return err
		}
		if err := checkAPI(&a.API); err != nil {
			return err
		}
		st.APIs = append(st.APIs, a)
		out = s.importedOutput(a, imp)
		return nil
	})
	return respond(w, http.StatusCreated, out, err)
}

// reimportAPI is ReimportApi: PUT /v2/apis/{apiId} → 201. The definition replaces the API's routes,
// integrations, authorizers and CORS configuration, its name, description and version, and adds its
// tags; stages stay (autoDeploy stages deploy the result at once).
func (s *server) reimportAPI(w http.ResponseWriter, r *http.Request) error {
	data, basepath, failOnWarnings, err := importParams(r)
	if err != nil {
		return err
	}
	var out apiOutput
	err = s.changeAPI(r, func(_ *catalog.State, a *catalog.API) error {
		if !isHTTP(&a.API) {
			return badRequest("ReimportApi is supported only for HTTP APIs; this is a WebSocket API")
		}
		imp, err := importDefinition(a, data, basepath, failOnWarnings)
		if err != nil {
			return err
		}
		for _, st := range a.Stages {
			for key := range st.RouteSettings {
				if !hasRouteKey(imp.API.Routes, key) {
					return conflict("Route key %s has route settings in stage %s and is not in the definition; delete the settings first (DeleteRouteSettings)", key, st.StageName)
				}
			}
		}
		next := imp.API
		a.Name, a.Description, a.Version = next.Name, next.Description, next.Version
		a.CorsConfiguration = next.CorsConfiguration
		if imp.DisableExecuteAPIEndpointSet {
			a.DisableExecuteAPIEndpoint = next.DisableExecuteAPIEndpoint
		}
		for k, v := range next.Tags {
			if a.Tags == nil {
				a.Tags = map[string]string{}
			}
			a.Tags[k] = v
		}
		a.Routes, a.Integrations, a.Authorizers = next.Routes, next.Integrations, next.Authorizers
		a.QuickCreate = nil
		if err := checkAPITags(a.Tags); err != nil {
			return err
		}
		if err := checkAPI(&a.API); err != nil {
			return err
		}
		out = s.importedOutput(a, imp)
		return nil
	})
	return respond(w, http.StatusCreated, out, err)
}

func hasRouteKey(routes []resource.Route, key string) bool {
	for _, r := range routes {
		if r.RouteKey == key {
			return true
		}
	}
	return false
}

// exportAPI is ExportApi: GET /v2/apis/{apiId}/exports/{specification} → 200 with the definition as the
// body. With stageName, what the stage serves (its deployment) is exported, with a servers entry; without,
// the API's latest configuration.
func (s *server) exportAPI(w http.ResponseWriter, r *http.Request) error {
	if spec := r.PathValue("specification"); spec != "OAS30" {
		return badRequest("specification %q is not supported; the only value is OAS30", spec)
	}
	q := r.URL.Query()
	opts := openapi.ExportOptions{IncludeExtensions: true, StageName: q.Get("stageName")}
	switch t := q.Get("outputType"); t {
	case "JSON":
	case "YAML":
		opts.YAML = true
	case "":
		return badRequest("outputType is required: JSON or YAML")
	default:
		return badRequest("outputType %q is not valid; use JSON or YAML", t)
	}
	if v := q.Get("exportVersion"); v != "" && v != "1.0" {
		return badRequest("exportVersion %q is not supported; the only version is 1.0", v)
	}
	if v := q.Get("includeExtensions"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return badRequest("includeExtensions %q is not valid; use true or false", v)
		}
		opts.IncludeExtensions = b
	}
	var body []byte
	err := s.readAPI(r, func(a *catalog.API) error {
		if !isHTTP(&a.API) {
			return badRequest("ExportApi is supported only for HTTP APIs; this is a WebSocket API")
		}
		api := a.API
		opts.Updated = a.CreatedDate
		if opts.StageName != "" {
			st, err := stageFor(a, opts.StageName)
			if err != nil {
				return err
			}
			d := a.Deployment(st.DeploymentID)
			if d == nil {
				return badRequest("Stage %s has no deployment to export; deploy the API to it first", st.StageName)
			}
			api.Routes, api.Integrations, api.Authorizers = d.Routes, d.Integrations, d.Authorizers
			if t, ok := a.DeploymentDates[d.DeploymentID]; ok {
				opts.Updated = t
			}
			opts.ServerURL = s.apiEndpointFor(&a.API)
		}
		body = openapi.Export(&api, opts)
		return nil
	})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return nil
}
