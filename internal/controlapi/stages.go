package controlapi

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/openapi"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// Stages: CreateStage, GetStages, GetStage, UpdateStage, DeleteStage, DeleteAccessLogSettings,
// DeleteRouteSettings and ResetAuthorizersCache.
// https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis-apiid-stages.html
//
// A stage serves the deployment its deploymentId names; a stage with autoDeploy gets a new deployment from
// the catalog after every change to its API (and at once when autoDeploy is switched on). A stage with no
// deployment yet exists in the control plane but is not served: a handshake for it is refused as one for
// an unknown stage is.

// maxDescription is the longest description AWS accepts on a stage, deployment or API.
const maxDescription = 1024

// lastDeploymentStatus is what AWS reports in lastDeploymentStatusMessage for an autoDeploy stage.
const lastDeploymentStatus = "Successfully deployed stage with deployment ID '%s'"

// stageIn is the CreateStage and UpdateStage input shape (UpdateStage has neither stageName nor tags).
type stageIn struct {
	StageName            string                            `json:"stageName,omitempty"`
	AccessLogSettings    *resource.AccessLogSettings       `json:"accessLogSettings"`
	AutoDeploy           bool                              `json:"autoDeploy"`
	ClientCertificateID  string                            `json:"clientCertificateId"`
	DefaultRouteSettings *resource.RouteSettings           `json:"defaultRouteSettings"`
	DeploymentID         string                            `json:"deploymentId"`
	Description          string                            `json:"description"`
	RouteSettings        map[string]resource.RouteSettings `json:"routeSettings"`
	StageVariables       map[string]string                 `json:"stageVariables"`
	Tags                 map[string]string                 `json:"tags,omitempty"`
}

// updateStageIn is UpdateStage's input shape: stageIn without stageName and tags, which UpdateStage does
// not take (an unknown member is a BadRequestException).
type updateStageIn struct {
	AccessLogSettings    *resource.AccessLogSettings       `json:"accessLogSettings"`
	AutoDeploy           bool                              `json:"autoDeploy"`
	ClientCertificateID  string                            `json:"clientCertificateId"`
	DefaultRouteSettings *resource.RouteSettings           `json:"defaultRouteSettings"`
	DeploymentID         string                            `json:"deploymentId"`
	Description          string                            `json:"description"`
	RouteSettings        map[string]resource.RouteSettings `json:"routeSettings"`
	StageVariables       map[string]string                 `json:"stageVariables"`
}

// stageOut is the Stage output shape (CreateStage, GetStage, UpdateStage and GetStages' items), with the
// members AWS returns (CLI examples create-stage, get-stage, get-stages): apiGatewayManaged only for the
// $default stage quick create made, autoDeploy only when true.
type stageOut struct {
	APIGatewayManaged           bool                        `json:"apiGatewayManaged,omitempty"`
	AccessLogSettings           *resource.AccessLogSettings `json:"accessLogSettings,omitempty"`
	AutoDeploy                  bool                        `json:"autoDeploy,omitempty"`
	ClientCertificateID         string                      `json:"clientCertificateId,omitempty"`
	CreatedDate                 string                      `json:"createdDate,omitempty"`
	DefaultRouteSettings        routeSettingsOut            `json:"defaultRouteSettings"`
	DeploymentID                string                      `json:"deploymentId,omitempty"`
	Description                 string                      `json:"description,omitempty"`
	LastDeploymentStatusMessage string                      `json:"lastDeploymentStatusMessage,omitempty"`
	LastUpdatedDate             string                      `json:"lastUpdatedDate,omitempty"`
	RouteSettings               map[string]routeSettingsOut `json:"routeSettings"`
	StageName                   string                      `json:"stageName"`
	StageVariables              map[string]string           `json:"stageVariables"`
	Tags                        map[string]string           `json:"tags"`
}

// routeSettingsOut is the RouteSettings output shape. The booleans are always present, as in AWS's
// answers (dataTraceEnabled only for WebSocket APIs: HTTP APIs have no execution logs, and AWS shows
// only detailedMetricsEnabled for them); throttling limits only when set, because an unset limit means
// no limit here (AWS's account-level limits are not emulated, see package throttle), and showing AWS's
// 5000/10000 defaults would promise a throttle that does not exist.
type routeSettingsOut struct {
	DataTraceEnabled       *bool   `json:"dataTraceEnabled,omitempty"`
	DetailedMetricsEnabled bool    `json:"detailedMetricsEnabled"`
	LoggingLevel           string  `json:"loggingLevel,omitempty"`
	ThrottlingBurstLimit   int     `json:"throttlingBurstLimit,omitempty"`
	ThrottlingRateLimit    float64 `json:"throttlingRateLimit,omitempty"`
}

func routeSettingsView(rs resource.RouteSettings, http bool) routeSettingsOut {
	var trace *bool
	if !http {
		trace = &rs.DataTraceEnabled
	}
	return routeSettingsOut{
		DataTraceEnabled:       trace,
		DetailedMetricsEnabled: rs.DetailedMetricsEnabled,
		LoggingLevel:           rs.LoggingLevel,
		ThrottlingBurstLimit:   rs.ThrottlingBurstLimit,
		ThrottlingRateLimit:    rs.ThrottlingRateLimit,
	}
}

// stageView renders a stage of a as AWS does. defaultRouteSettings always appears, with loggingLevel
// OFF when unset (AWS's WebSocket default; HTTP APIs have no logging level); routeSettings,
// stageVariables and tags appear as {} when empty.
func stageView(a *catalog.API, st *resource.Stage) stageOut {
	dates := a.StageDates[st.StageName]
	http := isHTTP(&a.API)
	out := stageOut{
		APIGatewayManaged:   managed(a, managedStage, st.StageName),
		AccessLogSettings:   st.AccessLogSettings,
		AutoDeploy:          st.AutoDeploy,
		ClientCertificateID: st.ClientCertificateID,
		CreatedDate:         timestamp(dates.CreatedDate),
		DeploymentID:        st.DeploymentID,
		Description:         st.Description,
		LastUpdatedDate:     timestamp(dates.LastUpdatedDate),
		RouteSettings:       make(map[string]routeSettingsOut, len(st.RouteSettings)),
		StageName:           st.StageName,
		StageVariables:      nonNilMap(st.StageVariables),
		Tags:                nonNilMap(st.Tags),
	}
	var drs resource.RouteSettings
	if st.DefaultRouteSettings != nil {
		drs = *st.DefaultRouteSettings
	}
	out.DefaultRouteSettings = routeSettingsView(drs, http)
	if out.DefaultRouteSettings.LoggingLevel == "" && !http {
		out.DefaultRouteSettings.LoggingLevel = "OFF"
	}
	for k, rs := range st.RouteSettings {
		out.RouteSettings[k] = routeSettingsView(rs, http)
	}
	if st.AutoDeploy && st.DeploymentID != "" {
		out.LastDeploymentStatusMessage = fmt.Sprintf(lastDeploymentStatus, st.DeploymentID)
	}
	return out
}

// nonNilMap returns m, or an empty map for nil so that it renders as {}.
func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// tagsIfAny returns m, or nil when it is empty, for the answers where AWS shows tags only when there are
// some (a member with omitzero then disappears).
func tagsIfAny(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// readState runs fn on the current catalog state and returns its error.
func (s *server) readState(fn func(*catalog.State) error) error {
	var err error
	s.cfg.Catalog.Read(func(st *catalog.State) { err = fn(st) })
	return err
}

// apiFor returns the API with id, or the NotFoundException AWS answers for an unknown API.
func (s *server) apiFor(st *catalog.State, id string) (*catalog.API, error) {
	if a := st.API(id); a != nil {
		return a, nil
	}
	return nil, s.apiNotFound(id)
}

// stageFor returns a's stage called name, or the NotFoundException AWS answers for an unknown stage.
func stageFor(a *catalog.API, name string) (*resource.Stage, error) {
	if st := a.Stage(name); st != nil {
		return st, nil
	}
	return nil, notFound("Stage", "Invalid stage identifier specified %s", name)
}

// fromConfigFile refuses to change a resource the configuration file declares. The catalog replaces such
// resources from the file whenever it is loaded, so a change made here would silently disappear; the file
// is where they are changed.
func fromConfigFile(src catalog.Source, what string) error {
	if src == catalog.SourceConfig {
		return badRequest("%s is declared in the configuration file or a template, which replaces it whenever it is loaded; change it there", what)
	}
	return nil
}

// touchStage records that a's stage name changed at now.
func touchStage(a *catalog.API, name string, now time.Time) {
	if a.StageDates == nil {
		a.StageDates = make(map[string]catalog.Dates)
	}
	d := a.StageDates[name]
	if d.CreatedDate.IsZero() {
		d.CreatedDate = now
	}
	d.LastUpdatedDate = now
	a.StageDates[name] = d
}

// checkStage checks a stage of a with resource.Validate's rules (name, stage variables, route settings
// against a's route keys) and AWS's rules for what Validate does not know (descriptions, access log
// formats, tags), and returns a BadRequestException naming the member at fault.
func checkStage(a *catalog.API, st *resource.Stage) error {
	if len(st.Description) > maxDescription {
		return badRequest("description is %d characters long; the limit is %d", len(st.Description), maxDescription)
	}
	if al := st.AccessLogSettings; al != nil {
		if al.Format != "" && !strings.Contains(al.Format, "$context.requestId") {
			return badRequest("accessLogSettings.format must include $context.requestId")
		}
		if al.DestinationARN != "" && !strings.HasPrefix(al.DestinationARN, "arn:") {
			return badRequest("accessLogSettings.destinationArn %q is not valid; use the ARN of a CloudWatch Logs log group", al.DestinationARN)
		}
	}
	if err := checkAPITags(st.Tags); err != nil {
		return err
	}
	if err := checkStageKind(a, st); err != nil {
		return err
	}
	// A scratch API holding only what the stage rules look at keeps problems elsewhere in the API out of
	// the answer.
	scratch := resource.API{
		APIID: "scratch", Name: "scratch", ProtocolType: resource.ProtocolWebSocket,
		RouteSelectionExpression:  "$request.body.action",
		APIKeySelectionExpression: resource.DefaultAPIKeySelectionExpression,
		Stages:                    []resource.Stage{*st},
	}
	if isHTTP(&a.API) {
		scratch.ProtocolType, scratch.RouteSelectionExpression = resource.ProtocolHTTP, openapi.RouteSelectionExpression
	}
	for _, r := range a.Routes {
		scratch.Routes = append(scratch.Routes, resource.Route{RouteKey: r.RouteKey, AuthorizationType: resource.DefaultAuthorizationType})
	}
	for _, d := range a.Deployments {
		// A deployed stage's route settings may name its deployment's routes.
		dep := resource.Deployment{DeploymentID: d.DeploymentID}
		for _, r := range d.Routes {
			dep.Routes = append(dep.Routes, resource.Route{RouteKey: r.RouteKey})
		}
		scratch.Deployments = append(scratch.Deployments, dep)
	}
	return fieldProblems(resource.Validate(&resource.Bundle{APIs: []resource.API{scratch}}), "apis[0].stages[0]")
}

// fieldProblems turns the errors of errs at or below path into one BadRequestException, or nil when there
// are none.
func fieldProblems(errs resource.FieldErrors, path string) error {
	var msgs []string
	for _, e := range errs {
		if e.Path == path || strings.HasPrefix(e.Path, path+".") || strings.HasPrefix(e.Path, path+"[") {
			msgs = append(msgs, memberMessage(e))
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return badRequest("%s", strings.Join(msgs, "; "))
}

// deploymentExists checks that a stage's deploymentId names a deployment of a.
func deploymentExists(a *catalog.API, id string) error {
	if id != "" && a.Deployment(id) == nil {
		return notFound("Deployment", "Invalid Deployment identifier specified %s", id)
	}
	return nil
}

// createStage is CreateStage: POST /v2/apis/{apiId}/stages → 201.
func (s *server) createStage(w http.ResponseWriter, r *http.Request) error {
	var in stageIn
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.StageName == "" {
		return badRequest("stageName is required")
	}
	if in.AutoDeploy && in.DeploymentID != "" {
		return badRequest("deploymentId cannot be set while autoDeploy is enabled: the stage's deployments are made automatically")
	}
	st := resource.Stage{
		StageName:            in.StageName,
		DeploymentID:         in.DeploymentID,
		AutoDeploy:           in.AutoDeploy,
		Description:          in.Description,
		StageVariables:       in.StageVariables,
		AccessLogSettings:    accessLogSettings(in.AccessLogSettings),
		ClientCertificateID:  in.ClientCertificateID,
		DefaultRouteSettings: in.DefaultRouteSettings,
		RouteSettings:        in.RouteSettings,
		Tags:                 in.Tags,
	}
	var out stageOut
	err := s.cfg.Catalog.WriteThen(r.Context(), func(state *catalog.State) error {
		a, err := s.apiFor(state, r.PathValue("apiId"))
		if err != nil {
			return err
		}
		if err := fromConfigFile(a.Source, "API "+a.APIID); err != nil {
			return err
		}
		if a.Stage(st.StageName) != nil {
			return conflict("Stage %s already exists", st.StageName)
		}
		if err := deploymentExists(a, st.DeploymentID); err != nil {
			return err
		}
		if err := checkStage(a, &st); err != nil {
			return err
		}
		a.Stages = append(a.Stages, st)
		now := s.cfg.Now()
		touchStage(a, st.StageName, now)
		out = stageView(a, &a.Stages[len(a.Stages)-1])
		return nil
	}, refreshStage(&out, r.PathValue("apiId"))) // shows the deployment an autoDeploy stage got
	return respond(w, http.StatusCreated, out, err)
}

// refreshStage returns a catalog.WriteThen callback that replaces out with the stage as the change left
// it, including the deployment the catalog made for an autoDeploy stage after the Write function.
func refreshStage(out *stageOut, apiID string) func(*catalog.State) {
	return func(state *catalog.State) {
		if a := state.API(apiID); a != nil {
			if st := a.Stage(out.StageName); st != nil {
				*out = stageView(a, st)
			}
		}
	}
}

// accessLogSettings stores an empty accessLogSettings object as none.
func accessLogSettings(al *resource.AccessLogSettings) *resource.AccessLogSettings {
	if al == nil || *al == (resource.AccessLogSettings{}) {
		return nil
	}
	return al
}

// getStages is GetStages: GET /v2/apis/{apiId}/stages.
func (s *server) getStages(w http.ResponseWriter, r *http.Request) error {
	var items []stageOut
	err := s.readState(func(state *catalog.State) error {
		a, err := s.apiFor(state, r.PathValue("apiId"))
		if err != nil {
			return err
		}
		for i := range a.Stages {
			items = append(items, stageView(a, &a.Stages[i]))
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeList(s, w, r, items)
	return nil
}

// getStage is GetStage: GET /v2/apis/{apiId}/stages/{stageName}.
func (s *server) getStage(w http.ResponseWriter, r *http.Request) error {
	var out stageOut
	err := s.readState(func(state *catalog.State) error {
		a, err := s.apiFor(state, r.PathValue("apiId"))
		if err != nil {
			return err
		}
		st, err := stageFor(a, r.PathValue("stageName"))
		if err != nil {
			return err
		}
		out = stageView(a, st)
		return nil
	})
	return respond(w, http.StatusOK, out, err)
}

// updateStage is UpdateStage: PATCH /v2/apis/{apiId}/stages/{stageName}. Members present replace the
// stage's whole (maps too). deploymentId cannot be set while autoDeploy is on; switching autoDeploy on
// deploys the API's current state to the stage at once.
func (s *server) updateStage(w http.ResponseWriter, r *http.Request) error {
	apiID, name := r.PathValue("apiId"), r.PathValue("stageName")
	data, err := readBody(r)
	if err != nil {
		return err
	}
	var out stageOut
	err = s.cfg.Catalog.WriteThen(r.Context(), func(state *catalog.State) error {
		a, err := s.apiFor(state, apiID)
		if err != nil {
			return err
		}
		st, err := stageFor(a, name)
		if err != nil {
			return err
		}
		if err := fromConfigFile(a.Source, "API "+a.APIID); err != nil {
			return err
		}
		in := updateStageIn{
			AccessLogSettings:    st.AccessLogSettings,
			AutoDeploy:           st.AutoDeploy,
			ClientCertificateID:  st.ClientCertificateID,
			DefaultRouteSettings: st.DefaultRouteSettings,
			DeploymentID:         st.DeploymentID,
			Description:          st.Description,
			RouteSettings:        st.RouteSettings,
			StageVariables:       st.StageVariables,
		}
		present, err := decodePatch(data, &in)
		if err != nil {
			return err
		}
		if present["deploymentId"] && in.AutoDeploy {
			return badRequest("deploymentId cannot be set while autoDeploy is enabled: the stage's deployments are made automatically")
		}
		next := *st
		next.AccessLogSettings = accessLogSettings(in.AccessLogSettings)
		next.ClientCertificateID = in.ClientCertificateID
		next.DefaultRouteSettings = in.DefaultRouteSettings
		next.DeploymentID = in.DeploymentID
		next.Description = in.Description
		next.RouteSettings = in.RouteSettings
		next.StageVariables = in.StageVariables
		next.AutoDeploy = in.AutoDeploy
		if next.AutoDeploy && !st.AutoDeploy {
			// Switching autoDeploy on deploys what the API is now; the catalog deploys stages without one.
			next.DeploymentID = ""
		}
		if err := deploymentExists(a, next.DeploymentID); err != nil {
			return err
		}
		if err := checkStage(a, &next); err != nil {
			return err
		}
		*st = next
		touchStage(a, name, s.cfg.Now())
		out = stageView(a, st)
		return nil
	}, refreshStage(&out, apiID))
	return respond(w, http.StatusOK, out, err)
}

// deleteStage is DeleteStage: DELETE /v2/apis/{apiId}/stages/{stageName} → 204. As on AWS (and as
// DeleteApi), a stage that a custom domain name still maps cannot be deleted: the mappings go first.
func (s *server) deleteStage(w http.ResponseWriter, r *http.Request) error {
	apiID, name := r.PathValue("apiId"), r.PathValue("stageName")
	err := s.cfg.Catalog.Write(r.Context(), func(state *catalog.State) error {
		a, err := s.apiFor(state, apiID)
		if err != nil {
			return err
		}
		if _, err := stageFor(a, name); err != nil {
			return err
		}
		if err := fromConfigFile(a.Source, "API "+a.APIID); err != nil {
			return err
		}
		var domains []string
		for _, d := range state.DomainNames {
			for _, m := range d.APIMappings {
				if m.APIID == apiID && m.Stage == name {
					domains = append(domains, d.DomainName.DomainName)
					break
				}
			}
		}
		if len(domains) > 0 {
			return badRequest("Deleting stage %s failed. Please remove all API mappings related to the stage from your custom domain names (%s).", name, strings.Join(domains, ", "))
		}
		kept := a.Stages[:0]
		for _, st := range a.Stages {
			if st.StageName != name {
				kept = append(kept, st)
			}
		}
		a.Stages = kept
		delete(a.StageDates, name)
		return nil
	})
	return respondEmpty(w, http.StatusNoContent, err)
}

// changeStage runs change on the stage named by the request's path inside a catalog Write, after the
// lookups and the configuration-file check, and records the update time.
func (s *server) changeStage(r *http.Request, change func(a *catalog.API, st *resource.Stage) error) error {
	apiID, name := r.PathValue("apiId"), r.PathValue("stageName")
	return s.cfg.Catalog.Write(r.Context(), func(state *catalog.State) error {
		a, err := s.apiFor(state, apiID)
		if err != nil {
			return err
		}
		st, err := stageFor(a, name)
		if err != nil {
			return err
		}
		if err := fromConfigFile(a.Source, "API "+a.APIID); err != nil {
			return err
		}
		if err := change(a, st); err != nil {
			return err
		}
		touchStage(a, name, s.cfg.Now())
		return nil
	})
}

// deleteAccessLogSettings is DeleteAccessLogSettings: DELETE
// /v2/apis/{apiId}/stages/{stageName}/accesslogsettings → 204.
func (s *server) deleteAccessLogSettings(w http.ResponseWriter, r *http.Request) error {
	err := s.changeStage(r, func(_ *catalog.API, st *resource.Stage) error {
		st.AccessLogSettings = nil
		return nil
	})
	return respondEmpty(w, http.StatusNoContent, err)
}

// deleteRouteSettings is DeleteRouteSettings: DELETE
// /v2/apis/{apiId}/stages/{stageName}/routesettings/{routeKey} → 204. The route then follows the stage's
// defaultRouteSettings again.
func (s *server) deleteRouteSettings(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("routeKey")
	err := s.changeStage(r, func(_ *catalog.API, st *resource.Stage) error {
		if _, ok := st.RouteSettings[key]; !ok {
			return notFound("RouteSettings", "Stage %s has no route settings for route key %s", st.StageName, key)
		}
		settings := maps.Clone(st.RouteSettings)
		delete(settings, key)
		if len(settings) == 0 {
			settings = nil
		}
		st.RouteSettings = settings
		return nil
	})
	return respondEmpty(w, http.StatusNoContent, err)
}

// resetAuthorizersCache is ResetAuthorizersCache: DELETE
// /v2/apis/{apiId}/stages/{stageName}/cache/authorizers → 204. It raises the stage's cache epoch, which
// reaches the data plane with the next snapshot like any other change: the HTTP API Lambda authorizers
// of that stage then drop the results they cached (authorizer.HTTPSet). The control plane and the data
// plane meet only at the snapshot, so the flush travels there rather than through a side channel, and it
// reaches every node that serves the catalog. WebSocket REQUEST authorizers cache nothing (each $connect
// runs the authorizer), so for WebSocket APIs the call changes nothing the client can see. The stage's
// lastUpdatedDate is left alone: a flush changes no member of the stage.
func (s *server) resetAuthorizersCache(w http.ResponseWriter, r *http.Request) error {
	err := s.cfg.Catalog.Write(r.Context(), func(state *catalog.State) error {
		a, err := s.apiFor(state, r.PathValue("apiId"))
		if err != nil {
			return err
		}
		st, err := stageFor(a, r.PathValue("stageName"))
		if err != nil {
			return err
		}
		st.AuthorizerCacheEpoch++
		return nil
	})
	return respondEmpty(w, http.StatusNoContent, err)
}
