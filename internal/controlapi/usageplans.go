package controlapi

import (
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// Usage plans and their keys: CreateUsagePlan, GetUsagePlans, GetUsagePlan, UpdateUsagePlan,
// DeleteUsagePlan, CreateUsagePlanKey, GetUsagePlanKeys, GetUsagePlanKey and DeleteUsagePlanKey of API
// Gateway's v1 API, on the same wire conventions as the API keys (apikeys.go).
// https://docs.aws.amazon.com/apigateway/latest/api/API_CreateUsagePlan.html
// https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-usage-plans.html
//
// A plan's API stages must exist when they are added; a stage that is deleted afterwards stays listed in
// the plan but is not served. As on AWS, an API key may not be in two plans that share an API stage
// (ConflictException), so that one plan decides each request's throttle and quota.
//
// Quota offsets follow AWS's ranges (0 for DAY, 0–6 for WEEK, 0–27 for MONTH). Not reproduced: per-method
// throttles of an API stage (apiStages[].throttle, for REST API methods), productCode (AWS Marketplace),
// GetUsage and UpdateUsage (usage is counted by the data plane, which the control plane cannot see).

// planThrottleIn is the ThrottleSettings input shape.
type planThrottleIn struct {
	BurstLimit int     `json:"burstLimit"`
	RateLimit  float64 `json:"rateLimit"`
}

// planQuotaIn is the QuotaSettings input shape.
type planQuotaIn struct {
	Limit  int    `json:"limit"`
	Offset int    `json:"offset"`
	Period string `json:"period"`
}

// apiStageIn is the ApiStage input shape.
type apiStageIn struct {
	APIID    string                    `json:"apiId"`
	Stage    string                    `json:"stage"`
	Throttle map[string]planThrottleIn `json:"throttle"`
}

// createUsagePlanIn is the CreateUsagePlan input shape.
type createUsagePlanIn struct {
	APIStages   []apiStageIn      `json:"apiStages"`
	Description string            `json:"description"`
	Name        string            `json:"name"`
	Quota       *planQuotaIn      `json:"quota"`
	Tags        map[string]string `json:"tags"`
	Throttle    *planThrottleIn   `json:"throttle"`
}

// apiStageOut is the ApiStage output shape.
type apiStageOut struct {
	APIID string `json:"apiId"`
	Stage string `json:"stage"`
}

// planThrottleOut is the ThrottleSettings output shape.
type planThrottleOut struct {
	BurstLimit int     `json:"burstLimit"`
	RateLimit  float64 `json:"rateLimit"`
}

// planQuotaOut is the QuotaSettings output shape.
type planQuotaOut struct {
	Limit  int    `json:"limit"`
	Offset int    `json:"offset"`
	Period string `json:"period"`
}

// usagePlanOut is the UsagePlan output shape.
type usagePlanOut struct {
	ID          string            `json:"id"`
	Name        string            `json:"name,omitempty"`
	Description string            `json:"description,omitempty"`
	APIStages   []apiStageOut     `json:"apiStages"`
	Throttle    *planThrottleOut  `json:"throttle,omitempty"`
	Quota       *planQuotaOut     `json:"quota,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
}

// usagePlanKeyIn is the CreateUsagePlanKey input shape.
type usagePlanKeyIn struct {
	KeyID   string `json:"keyId"`
	KeyType string `json:"keyType"`
}

// usagePlanKeyOut is the UsagePlanKey output shape: the key's id, type, value and name.
type usagePlanKeyOut struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Value string `json:"value"`
	Name  string `json:"name,omitempty"`
}

// keyTypeAPIKey is the only usage plan key type.
const keyTypeAPIKey = "API_KEY"

// usagePlanView renders p as AWS does.
func usagePlanView(p *catalog.UsagePlan) usagePlanOut {
	out := usagePlanOut{ID: p.ID, Name: p.Name, Description: p.Description, APIStages: []apiStageOut{}, Tags: p.Tags}
	for _, s := range p.APIStages {
		out.APIStages = append(out.APIStages, apiStageOut{APIID: s.APIID, Stage: s.Stage})
	}
	if t := p.Throttle; t != nil {
		out.Throttle = &planThrottleOut{BurstLimit: t.BurstLimit, RateLimit: t.RateLimit}
	}
	if q := p.Quota; q != nil {
		out.Quota = &planQuotaOut{Limit: q.Limit, Offset: q.Offset, Period: q.Period}
	}
	return out
}

// usagePlanKeyView renders k as a key of a usage plan.
func usagePlanKeyView(k *catalog.APIKey) usagePlanKeyOut {
	return usagePlanKeyOut{ID: k.ID, Type: keyTypeAPIKey, Value: k.Value, Name: k.Name}
}

// usagePlanFor returns the usage plan with id, or the NotFoundException AWS answers.
func usagePlanFor(state *catalog.State, id string) (*catalog.UsagePlan, error) {
	if p := state.UsagePlan(id); p != nil {
		return p, nil
	}
	return nil, v1NotFound("Invalid Usage Plan ID specified")
}

// usagePlanKeyNotFound is the NotFoundException for a key that is not in the plan.
func usagePlanKeyNotFound() error { return v1NotFound("Invalid Usage Plan Key identifier specified") }

// newUsagePlanID returns a new usage plan id, 10 characters of [a-z0-9], unused in state.
func newUsagePlanID(state *catalog.State) string {
	for {
		if id := catalog.NewID(10); state.UsagePlan(id) == nil {
			return id
		}
	}
}

// checkUsagePlanLimits applies AWS's rules to a plan's name, throttle and quota.
func checkUsagePlanLimits(p *resource.UsagePlan) error {
	if p.Name == "" {
		return badRequest("name is required: a usage plan needs a name")
	}
	if t := p.Throttle; t != nil {
		if t.RateLimit < 0 || math.IsNaN(t.RateLimit) || math.IsInf(t.RateLimit, 0) {
			return badRequest("throttle.rateLimit must be a number of requests per second, 0 or more")
		}
		if t.BurstLimit < 0 {
			return badRequest("throttle.burstLimit must be 0 or more")
		}
	}
	if q := p.Quota; q != nil {
		maxOffset := 0
		switch q.Period {
		case "DAY":
		case "WEEK":
			maxOffset = 6
		case "MONTH":
			maxOffset = 27
		default:
			return badRequest("quota.period must be one of DAY, WEEK, MONTH; got %q", q.Period)
		}
		if q.Limit <= 0 {
			return badRequest("quota.limit must be a positive number of requests per period")
		}
		if q.Offset < 0 || q.Offset > maxOffset {
			if maxOffset == 0 {
				return badRequest("quota.offset must be 0 for the period DAY")
			}
			return badRequest("quota.offset must be from 0 to %d for the period %s", maxOffset, q.Period)
		}
	}
	return nil
}

// checkAPIStage checks that stage s can be added to plan p: the API and its stage exist, the plan does not
// list it already, and none of the plan's keys is in another plan with that stage.
func (s *server) checkAPIStage(state *catalog.State, p *catalog.UsagePlan, st resource.UsagePlanStage) error {
	if st.APIID == "" || st.Stage == "" {
		return badRequest("apiStages: an API stage needs both apiId and stage")
	}
	a := state.API(st.APIID)
	if a == nil {
		return badRequest("apiStages: Invalid API Stage {api: %s, stage: %s} specified: there is no API %s", st.APIID, st.Stage, st.APIID)
	}
	if a.Stage(st.Stage) == nil {
		return badRequest("apiStages: Invalid API Stage {api: %s, stage: %s} specified: API %s has no stage %s", st.APIID, st.Stage, st.APIID, st.Stage)
	}
	if slices.Contains(p.APIStages, st) {
		return conflict("API Stage {api: %s, stage: %s} is already in usage plan %s", st.APIID, st.Stage, p.ID)
	}
	for _, keyID := range p.KeyIDs {
		if err := keyStageConflict(state, p, keyID, []resource.UsagePlanStage{st}); err != nil {
			return err
		}
	}
	return nil
}

// keyStageConflict returns the ConflictException AWS answers when key keyID, in plan p with stages, would
// share one of them with another plan of the key.
func keyStageConflict(state *catalog.State, p *catalog.UsagePlan, keyID string, stages []resource.UsagePlanStage) error {
	for _, other := range state.UsagePlans {
		if other.ID == p.ID || !slices.Contains(other.KeyIDs, keyID) {
			continue
		}
		for _, st := range stages {
			if slices.Contains(other.APIStages, st) {
				return conflict("Usage Plan %s cannot be added because API Key %s cannot reference multiple Usage Plans with the same API Stage: %s:%s",
					p.ID, keyID, st.APIID, st.Stage)
			}
		}
	}
	return nil
}

// createUsagePlan is CreateUsagePlan: POST /usageplans → 201, e.g. aws apigateway create-usage-plan
// --name gold --throttle burstLimit=10,rateLimit=5 --quota limit=1000,period=DAY --api-stages apiId=X,stage=dev.
func (s *server) createUsagePlan(w http.ResponseWriter, r *http.Request) error {
	var in createUsagePlanIn
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := checkAPITags(in.Tags); err != nil {
		return err
	}
	plan := resource.UsagePlan{Name: in.Name, Description: in.Description}
	if t := in.Throttle; t != nil {
		plan.Throttle = &resource.UsagePlanThrottle{BurstLimit: t.BurstLimit, RateLimit: t.RateLimit}
	}
	if q := in.Quota; q != nil {
		plan.Quota = &resource.UsagePlanQuota{Limit: q.Limit, Offset: q.Offset, Period: q.Period}
	}
	if err := checkUsagePlanLimits(&plan); err != nil {
		return err
	}
	for i, st := range in.APIStages {
		if len(st.Throttle) > 0 {
			return badRequest("apiStages[].throttle is not supported: per-method throttles are for REST API methods; use the plan's throttle")
		}
		for _, prev := range in.APIStages[:i] {
			if prev.APIID == st.APIID && prev.Stage == st.Stage {
				return badRequest("apiStages: API Stage {api: %s, stage: %s} is listed twice", st.APIID, st.Stage)
			}
		}
	}
	var out usagePlanOut
	err := s.cfg.Catalog.Write(r.Context(), func(state *catalog.State) error {
		p := &catalog.UsagePlan{UsagePlan: plan, Source: catalog.SourceAPI, Tags: in.Tags}
		p.ID = newUsagePlanID(state)
		for _, st := range in.APIStages {
			stage := resource.UsagePlanStage{APIID: st.APIID, Stage: st.Stage}
			if err := s.checkAPIStage(state, p, stage); err != nil {
				return err
			}
			p.APIStages = append(p.APIStages, stage)
		}
		state.UsagePlans = append(state.UsagePlans, p)
		out = usagePlanView(p)
		return nil
	})
	return respond(w, http.StatusCreated, out, err)
}

// getUsagePlans is GetUsagePlans: GET /usageplans, only the plans of keyId when it is given.
func (s *server) getUsagePlans(w http.ResponseWriter, r *http.Request) error {
	keyID := r.URL.Query().Get("keyId")
	var items []usagePlanOut
	s.cfg.Catalog.Read(func(state *catalog.State) {
		for _, p := range state.UsagePlans {
			if keyID == "" || slices.Contains(p.KeyIDs, keyID) {
				items = append(items, usagePlanView(p))
			}
		}
	})
	out, err := v1Page(r, items)
	return respond(w, http.StatusOK, out, err)
}

// getUsagePlan is GetUsagePlan: GET /usageplans/{usagePlanId}.
func (s *server) getUsagePlan(w http.ResponseWriter, r *http.Request) error {
	var out usagePlanOut
	err := s.readState(func(state *catalog.State) error {
		p, err := usagePlanFor(state, r.PathValue("usagePlanId"))
		if err != nil {
			return err
		}
		out = usagePlanView(p)
		return nil
	})
	return respond(w, http.StatusOK, out, err)
}

// usagePlanPatchPaths are the paths UpdateUsagePlan takes with op replace.
var usagePlanPatchPaths = []string{"/name", "/description", "/throttle/rateLimit", "/throttle/burstLimit",
	"/quota/limit", "/quota/period", "/quota/offset"}

// parseAPIStage reads a patch value "apiId:stage".
func parseAPIStage(op patchOp) (resource.UsagePlanStage, error) {
	api, stage, ok := strings.Cut(op.value(), ":")
	if !ok || api == "" || stage == "" {
		return resource.UsagePlanStage{}, badRequest("Invalid value for %s: %q; use apiId:stage", op.Path, op.value())
	}
	return resource.UsagePlanStage{APIID: api, Stage: stage}, nil
}

// patchInt reads a patch operation's integer value.
func patchInt(op patchOp) (int, error) {
	n, err := strconv.Atoi(op.value())
	if err != nil || n < math.MinInt32 || n > math.MaxInt32 {
		return 0, badRequest("Invalid value for %s: %q is not an integer", op.Path, op.value())
	}
	return n, nil
}

// patchUsagePlan applies UpdateUsagePlan's operations to p, checking each API stage it adds against
// state.
func (s *server) patchUsagePlan(state *catalog.State, p *catalog.UsagePlan, ops []patchOp) error {
	throttle := func() *resource.UsagePlanThrottle {
		if p.Throttle == nil {
			p.Throttle = &resource.UsagePlanThrottle{}
		}
		return p.Throttle
	}
	quota := func() *resource.UsagePlanQuota {
		if p.Quota == nil {
			p.Quota = &resource.UsagePlanQuota{}
		}
		return p.Quota
	}
	for _, op := range ops {
		switch {
		case op.Path == "/apiStages" && op.Op == "add":
			st, err := parseAPIStage(op)
			if err != nil {
				return err
			}
			if err := s.checkAPIStage(state, p, st); err != nil {
				return err
			}
			p.APIStages = append(p.APIStages, st)
		case op.Path == "/apiStages" && op.Op == "remove":
			st, err := parseAPIStage(op)
			if err != nil {
				return err
			}
			if !slices.Contains(p.APIStages, st) {
				return badRequest("Invalid value for /apiStages: usage plan %s has no API Stage {api: %s, stage: %s}", p.ID, st.APIID, st.Stage)
			}
			p.APIStages = slices.DeleteFunc(p.APIStages, func(other resource.UsagePlanStage) bool { return other == st })
		case strings.HasPrefix(op.Path, "/apiStages/"):
			return badRequest("Invalid patch path '%s': per-method throttles of an API stage are for REST API methods and are not supported", op.Path)
		case op.Op == "remove" && op.Path == "/throttle":
			p.Throttle = nil
		case op.Op == "remove" && op.Path == "/quota":
			p.Quota = nil
		case op.Op != "replace" || !slices.Contains(usagePlanPatchPaths, op.Path):
			return unsupportedPatch(op, slices.Concat(usagePlanPatchPaths, []string{"/apiStages (add, remove)", "/throttle (remove)", "/quota (remove)"})...)
		case op.Path == "/name":
			p.Name = op.value()
		case op.Path == "/description":
			p.Description = op.value()
		case op.Path == "/throttle/rateLimit":
			v, err := strconv.ParseFloat(op.value(), 64)
			if err != nil {
				return badRequest("Invalid value for %s: %q is not a number", op.Path, op.value())
			}
			throttle().RateLimit = v
		case op.Path == "/throttle/burstLimit":
			n, err := patchInt(op)
			if err != nil {
				return err
			}
			throttle().BurstLimit = n
		case op.Path == "/quota/limit":
			n, err := patchInt(op)
			if err != nil {
				return err
			}
			quota().Limit = n
		case op.Path == "/quota/offset":
			n, err := patchInt(op)
			if err != nil {
				return err
			}
			quota().Offset = n
		case op.Path == "/quota/period":
			quota().Period = op.value()
		}
	}
	return checkUsagePlanLimits(&p.UsagePlan)
}

// updateUsagePlan is UpdateUsagePlan: PATCH /usageplans/{usagePlanId}, e.g.
// aws apigateway update-usage-plan --usage-plan-id P --patch-operations op=add,path=/apiStages,value=X:dev.
func (s *server) updateUsagePlan(w http.ResponseWriter, r *http.Request) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	var out usagePlanOut
	err = s.cfg.Catalog.Write(r.Context(), func(state *catalog.State) error {
		p, err := usagePlanFor(state, r.PathValue("usagePlanId"))
		if err != nil {
			return err
		}
		if err := fromConfigFile(p.Source, "usage plan "+p.ID); err != nil {
			return err
		}
		ops, err := decodePatchOps(data)
		if err != nil {
			return err
		}
		if err := s.patchUsagePlan(state, p, ops); err != nil {
			return err
		}
		out = usagePlanView(p)
		return nil
	})
	return respond(w, http.StatusOK, out, err)
}

// deleteUsagePlan is DeleteUsagePlan: DELETE /usageplans/{usagePlanId} → 202. Its keys stay, in no plan.
func (s *server) deleteUsagePlan(w http.ResponseWriter, r *http.Request) error {
	err := s.cfg.Catalog.Write(r.Context(), func(state *catalog.State) error {
		p, err := usagePlanFor(state, r.PathValue("usagePlanId"))
		if err != nil {
			return err
		}
		if err := fromConfigFile(p.Source, "usage plan "+p.ID); err != nil {
			return err
		}
		state.UsagePlans = slices.DeleteFunc(state.UsagePlans, func(other *catalog.UsagePlan) bool { return other == p })
		return nil
	})
	return respondEmpty(w, http.StatusAccepted, err)
}

// createUsagePlanKey is CreateUsagePlanKey: POST /usageplans/{usagePlanId}/keys → 201, e.g.
// aws apigateway create-usage-plan-key --usage-plan-id P --key-id K --key-type API_KEY.
func (s *server) createUsagePlanKey(w http.ResponseWriter, r *http.Request) error {
	var in usagePlanKeyIn
	if err := decode(r, &in); err != nil {
		return err
	}
	switch {
	case in.KeyID == "":
		return badRequest("keyId is required")
	case in.KeyType != keyTypeAPIKey:
		return badRequest("keyType %q is not valid; the only key type is API_KEY", in.KeyType)
	}
	var out usagePlanKeyOut
	err := s.cfg.Catalog.Write(r.Context(), func(state *catalog.State) error {
		p, err := usagePlanFor(state, r.PathValue("usagePlanId"))
		if err != nil {
			return err
		}
		if err := fromConfigFile(p.Source, "usage plan "+p.ID); err != nil {
			return err
		}
		k, err := apiKeyFor(state, in.KeyID)
		if err != nil {
			return err
		}
		if slices.Contains(p.KeyIDs, k.ID) {
			return conflict("API Key %s is already in usage plan %s", k.ID, p.ID)
		}
		if err := keyStageConflict(state, p, k.ID, p.APIStages); err != nil {
			return err
		}
		p.KeyIDs = append(p.KeyIDs, k.ID)
		out = usagePlanKeyView(k)
		return nil
	})
	return respond(w, http.StatusCreated, out, err)
}

// getUsagePlanKeys is GetUsagePlanKeys: GET /usageplans/{usagePlanId}/keys, filtered by name (a prefix of
// the keys' names).
func (s *server) getUsagePlanKeys(w http.ResponseWriter, r *http.Request) error {
	name := r.URL.Query().Get("name")
	var items []usagePlanKeyOut
	err := s.readState(func(state *catalog.State) error {
		p, err := usagePlanFor(state, r.PathValue("usagePlanId"))
		if err != nil {
			return err
		}
		for _, id := range p.KeyIDs {
			if k := state.APIKey(id); k != nil && strings.HasPrefix(k.Name, name) {
				items = append(items, usagePlanKeyView(k))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	out, err := v1Page(r, items)
	return respond(w, http.StatusOK, out, err)
}

// planKeyFor returns the key keyID of plan p, or the NotFoundException AWS answers.
func planKeyFor(state *catalog.State, p *catalog.UsagePlan, keyID string) (*catalog.APIKey, error) {
	k := state.APIKey(keyID)
	if k == nil || !slices.Contains(p.KeyIDs, keyID) {
		return nil, usagePlanKeyNotFound()
	}
	return k, nil
}

// getUsagePlanKey is GetUsagePlanKey: GET /usageplans/{usagePlanId}/keys/{keyId}.
func (s *server) getUsagePlanKey(w http.ResponseWriter, r *http.Request) error {
	var out usagePlanKeyOut
	err := s.readState(func(state *catalog.State) error {
		p, err := usagePlanFor(state, r.PathValue("usagePlanId"))
		if err != nil {
			return err
		}
		k, err := planKeyFor(state, p, r.PathValue("keyId"))
		if err != nil {
			return err
		}
		out = usagePlanKeyView(k)
		return nil
	})
	return respond(w, http.StatusOK, out, err)
}

// deleteUsagePlanKey is DeleteUsagePlanKey: DELETE /usageplans/{usagePlanId}/keys/{keyId} → 202. The key
// stays; it is no longer accepted on the plan's stages.
func (s *server) deleteUsagePlanKey(w http.ResponseWriter, r *http.Request) error {
	err := s.cfg.Catalog.Write(r.Context(), func(state *catalog.State) error {
		p, err := usagePlanFor(state, r.PathValue("usagePlanId"))
		if err != nil {
			return err
		}
		if err := fromConfigFile(p.Source, "usage plan "+p.ID); err != nil {
			return err
		}
		keyID := r.PathValue("keyId")
		if !slices.Contains(p.KeyIDs, keyID) {
			return usagePlanKeyNotFound()
		}
		p.KeyIDs = slices.DeleteFunc(p.KeyIDs, func(id string) bool { return id == keyID })
		return nil
	})
	return respondEmpty(w, http.StatusAccepted, err)
}
