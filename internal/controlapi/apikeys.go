package controlapi

import (
	"crypto/rand"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/awserr"
	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// API keys: CreateApiKey, GetApiKeys, GetApiKey, UpdateApiKey and DeleteApiKey of API Gateway's v1 API
// (apigateway, restJson1, API version 2015-07-09), which WebSocket APIs use for their keys: the paths
// have no /v2 prefix, dates are epoch seconds, lists are {"item":[…],"position":…}, updates are JSON
// Patch-like lists of patchOperations, and deletes answer 202.
// https://docs.aws.amazon.com/apigateway/latest/api/API_CreateApiKey.html
// https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-usage-plans.html
//
// Keys declared in the configuration file are listed and may be changed here like the others; the file
// declares them again, as it says, whenever it is loaded.
//
// Not reproduced: stageKeys (REST API stages; WebSocket APIs take keys through usage plans), ImportApiKeys
// and the v1 tagging operations. generateDistinctId is accepted and ignored, as AWS ignores it today.

// apiKeyValueChars are the characters of generated key values, like AWS's.
const apiKeyValueChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// Key value lengths AWS accepts; generated values are 40 characters.
const (
	minAPIKeyValue      = 20
	maxAPIKeyValue      = 128
	generatedValueChars = 40
)

// v1 list limits: GetApiKeys, GetUsagePlans and GetUsagePlanKeys return 25 items unless limit says
// otherwise, and at most 500.
const (
	v1DefaultLimit = 25
	v1MaxLimit     = 500
)

// stageKeyIn is the StageKey input shape.
type stageKeyIn struct {
	RestAPIID string `json:"restApiId"`
	StageName string `json:"stageName"`
}

// createAPIKeyIn is the CreateApiKey input shape.
type createAPIKeyIn struct {
	CustomerID         string            `json:"customerId"`
	Description        string            `json:"description"`
	Enabled            bool              `json:"enabled"`
	GenerateDistinctID bool              `json:"generateDistinctId"`
	Name               string            `json:"name"`
	StageKeys          []stageKeyIn      `json:"stageKeys"`
	Tags               map[string]string `json:"tags"`
	Value              string            `json:"value"`
}

// apiKeyOut is the ApiKey output shape. value is there only when asked for (includeValue(s)) and on
// create; stageKeys is always an empty list, since WebSocket APIs take keys through usage plans.
type apiKeyOut struct {
	ID              string            `json:"id"`
	Value           string            `json:"value,omitempty"`
	Name            string            `json:"name,omitempty"`
	CustomerID      string            `json:"customerId,omitempty"`
	Description     string            `json:"description,omitempty"`
	Enabled         bool              `json:"enabled"`
	CreatedDate     *int64            `json:"createdDate,omitempty"`
	LastUpdatedDate *int64            `json:"lastUpdatedDate,omitempty"`
	StageKeys       []string          `json:"stageKeys"`
	Tags            map[string]string `json:"tags,omitempty"`
}

// v1ListOut is the output shape of the v1 List operations (GetApiKeys, GetUsagePlans, GetUsagePlanKeys).
type v1ListOut[T any] struct {
	Item     []T    `json:"item"`
	Position string `json:"position,omitempty"`
}

// epochSeconds renders t as the v1 API's dates: seconds since the epoch, a JSON number. The zero time
// (a key the configuration file declared before dates were kept) has no date.
func epochSeconds(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	s := t.Unix()
	return &s
}

// apiKeyView renders k as AWS does, with its value when withValue.
func apiKeyView(k *catalog.APIKey, withValue bool) apiKeyOut {
	out := apiKeyOut{
		ID:              k.ID,
		Name:            k.Name,
		CustomerID:      k.CustomerID,
		Description:     k.Description,
		Enabled:         k.Enabled,
		CreatedDate:     epochSeconds(k.CreatedDate),
		LastUpdatedDate: epochSeconds(k.LastUpdatedDate),
		StageKeys:       []string{},
		Tags:            k.Tags,
	}
	if withValue {
		out.Value = k.Value
	}
	return out
}

// v1NotFound is the v1 API's NotFoundException, which has no resourceType member.
func v1NotFound(message string) error {
	return awserr.New(http.StatusNotFound, awserr.TypeNotFound, message)
}

// apiKeyNotFound is the NotFoundException AWS answers for an API key id that names no key.
func apiKeyNotFound() error { return v1NotFound("Invalid API Key identifier specified") }

// apiKeyFor returns the API key with id, or the NotFoundException AWS answers.
func apiKeyFor(state *catalog.State, id string) (*catalog.APIKey, error) {
	if k := state.APIKey(id); k != nil {
		return k, nil
	}
	return nil, apiKeyNotFound()
}

// checkAPIKeyValue applies AWS's rules to a key value: 20 to 128 printable ASCII characters other than
// space (a value travels in the x-api-key header).
func checkAPIKeyValue(v string) error {
	switch n := len(v); {
	case n < minAPIKeyValue:
		return badRequest("API Key value should be at least %d characters", minAPIKeyValue)
	case n > maxAPIKeyValue:
		return badRequest("API Key value should be at most %d characters", maxAPIKeyValue)
	}
	for i := range len(v) {
		if c := v[i]; c <= ' ' || c > '~' {
			return badRequest("value: API Key value may contain printable ASCII characters only, without spaces")
		}
	}
	return nil
}

// valueInUse returns the ConflictException AWS answers when another key (not except) has value.
func valueInUse(state *catalog.State, value, except string) error {
	for _, k := range state.APIKeys {
		if k.Value == value && k.ID != except {
			return conflict("API Key already exists")
		}
	}
	return nil
}

// newAPIKeyValue returns a random key value of 40 letters and digits.
func newAPIKeyValue() string {
	b := make([]byte, generatedValueChars)
	max := big.NewInt(int64(len(apiKeyValueChars)))
	for i := range b {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic("controlapi: crypto/rand: " + err.Error()) // crypto/rand does not fail
		}
		b[i] = apiKeyValueChars[n.Int64()]
	}
	return string(b)
}

// newAPIKeyID returns a new API key id, 10 characters of [a-z0-9] like AWS's, unused in state.
func newAPIKeyID(state *catalog.State) string {
	for {
		if id := catalog.NewID(10); state.APIKey(id) == nil {
			return id
		}
	}
}

// createAPIKey is CreateApiKey: POST /apikeys → 201, the new key with its value, e.g.
// aws apigateway create-api-key --name alice --value … --enabled.
func (s *server) createAPIKey(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Query().Get("mode") == "import" {
		return badRequest("ImportApiKeys is not supported by Switchboard; create each key with CreateApiKey")
	}
	var in createAPIKeyIn
	if err := decode(r, &in); err != nil {
		return err
	}
	if len(in.StageKeys) > 0 {
		return badRequest("stageKeys is not supported: WebSocket APIs take API keys through usage plans (CreateUsagePlanKey)")
	}
	if err := checkAPITags(in.Tags); err != nil {
		return err
	}
	if in.Value == "" {
		in.Value = newAPIKeyValue()
	} else if err := checkAPIKeyValue(in.Value); err != nil {
		return err
	}
	now := s.cfg.Now()
	var out apiKeyOut
	err := s.cfg.Catalog.Write(r.Context(), func(state *catalog.State) error {
		if err := valueInUse(state, in.Value, ""); err != nil {
			return err
		}
		k := &catalog.APIKey{
			APIKey: resource.APIKey{
				ID: newAPIKeyID(state), Name: in.Name, Value: in.Value, Enabled: in.Enabled, Description: in.Description,
			},
			Source:     catalog.SourceAPI,
			CustomerID: in.CustomerID,
			Tags:       in.Tags,
			Dates:      catalog.Dates{CreatedDate: now, LastUpdatedDate: now},
		}
		state.APIKeys = append(state.APIKeys, k)
		out = apiKeyView(k, true)
		return nil
	})
	return respond(w, http.StatusCreated, out, err)
}

// v1QueryBool reads a boolean query parameter as the SDKs write it ("true"/"false"); absent is false.
func v1QueryBool(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest("%s must be true or false, got %q", name, v)
	}
	return b, nil
}

// v1Page cuts one page out of items for a v1 List operation's limit and position query parameters. The
// position is the index of the next item, as text; clients treat it as opaque.
func v1Page[T any](r *http.Request, items []T) (v1ListOut[T], error) {
	q := r.URL.Query()
	start := 0
	if pos := q.Get("position"); pos != "" {
		n, err := strconv.Atoi(pos)
		if err != nil || n < 0 || n > len(items) {
			return v1ListOut[T]{}, badRequest("Invalid position %q", pos)
		}
		start = n
	}
	limit := v1DefaultLimit
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > v1MaxLimit {
			return v1ListOut[T]{}, badRequest("limit must be an integer from 1 to %d, got %q", v1MaxLimit, l)
		}
		limit = n
	}
	end := min(start+limit, len(items))
	out := v1ListOut[T]{Item: items[start:end]}
	if out.Item == nil {
		out.Item = []T{}
	}
	if end < len(items) {
		out.Position = strconv.Itoa(end)
	}
	return out, nil
}

// getAPIKeys is GetApiKeys: GET /apikeys, filtered by name (a prefix) and customerId, with the values
// when includeValues=true.
func (s *server) getAPIKeys(w http.ResponseWriter, r *http.Request) error {
	withValues, err := v1QueryBool(r, "includeValues")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	name, customer := q.Get("name"), q.Get("customerId")
	var items []apiKeyOut
	s.cfg.Catalog.Read(func(state *catalog.State) {
		for _, k := range state.APIKeys {
			if strings.HasPrefix(k.Name, name) && (customer == "" || k.CustomerID == customer) {
				items = append(items, apiKeyView(k, withValues))
			}
		}
	})
	out, err := v1Page(r, items)
	return respond(w, http.StatusOK, out, err)
}

// getAPIKey is GetApiKey: GET /apikeys/{apiKey}, with the value when includeValue=true.
func (s *server) getAPIKey(w http.ResponseWriter, r *http.Request) error {
	withValue, err := v1QueryBool(r, "includeValue")
	if err != nil {
		return err
	}
	var out apiKeyOut
	err = s.readState(func(state *catalog.State) error {
		k, err := apiKeyFor(state, r.PathValue("apiKey"))
		if err != nil {
			return err
		}
		out = apiKeyView(k, withValue)
		return nil
	})
	return respond(w, http.StatusOK, out, err)
}

// patchOp is one PatchOperation of a v1 Update operation.
type patchOp struct {
	Op    string  `json:"op"`
	Path  string  `json:"path"`
	Value *string `json:"value"`
	From  *string `json:"from"`
}

// patchIn is the input shape of the v1 Update operations.
type patchIn struct {
	PatchOperations []patchOp `json:"patchOperations"`
}

// value is the operation's value, "" when it has none.
func (p patchOp) value() string {
	if p.Value == nil {
		return ""
	}
	return *p.Value
}

// decodePatchOps reads an Update body: {"patchOperations":[{"op","path","value","from"}…]}. Every
// operation must have an op AWS knows and a path starting with "/"; which ones a resource accepts is the
// resource's to say.
func decodePatchOps(data []byte) ([]patchOp, error) {
	var in patchIn
	if err := decodeBytes(data, &in); err != nil {
		return nil, err
	}
	for i, op := range in.PatchOperations {
		switch op.Op {
		case "add", "remove", "replace", "move", "copy", "test":
		case "":
			return nil, badRequest("patchOperations[%d].op is required; use one of add, remove, replace", i)
		default:
			return nil, badRequest("patchOperations[%d].op %q is not valid; use one of add, remove, replace", i, op.Op)
		}
		if !strings.HasPrefix(op.Path, "/") {
			return nil, badRequest("patchOperations[%d].path %q is not valid: a path starts with /", i, op.Path)
		}
	}
	return in.PatchOperations, nil
}

// unsupportedPatch is the BadRequestException for an operation the resource does not take at its path.
func unsupportedPatch(op patchOp, paths ...string) error {
	return badRequest("Invalid patch path '%s' specified for op '%s'. Must be one of: [%s]", op.Path, op.Op, strings.Join(paths, ", "))
}

// patchBool reads a patch operation's boolean value.
func patchBool(op patchOp) (bool, error) {
	b, err := strconv.ParseBool(op.value())
	if err != nil {
		return false, badRequest("Invalid value for %s: %q is not a boolean (true or false)", op.Path, op.value())
	}
	return b, nil
}

// apiKeyPatchPaths are the paths UpdateApiKey takes, all with op replace.
var apiKeyPatchPaths = []string{"/name", "/description", "/enabled", "/customerId"}

// patchAPIKey applies UpdateApiKey's operations to k.
func patchAPIKey(k *catalog.APIKey, ops []patchOp) error {
	for _, op := range ops {
		if op.Op != "replace" || !slices.Contains(apiKeyPatchPaths, op.Path) {
			return unsupportedPatch(op, apiKeyPatchPaths...)
		}
		switch op.Path {
		case "/name":
			k.Name = op.value()
		case "/description":
			k.Description = op.value()
		case "/customerId":
			k.CustomerID = op.value()
		case "/enabled":
			b, err := patchBool(op)
			if err != nil {
				return err
			}
			k.Enabled = b
		}
	}
	return nil
}

// updateAPIKey is UpdateApiKey: PATCH /apikeys/{apiKey} with patchOperations replacing /name,
// /description, /enabled or /customerId, e.g.
// aws apigateway update-api-key --api-key ID --patch-operations op=replace,path=/enabled,value=false.
func (s *server) updateAPIKey(w http.ResponseWriter, r *http.Request) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	var out apiKeyOut
	err = s.cfg.Catalog.Write(r.Context(), func(state *catalog.State) error {
		k, err := apiKeyFor(state, r.PathValue("apiKey"))
		if err != nil {
			return err
		}
		if err := fromConfigFile(k.Source, "API key "+k.ID); err != nil {
			return err
		}
		ops, err := decodePatchOps(data)
		if err != nil {
			return err
		}
		if err := patchAPIKey(k, ops); err != nil {
			return err
		}
		k.LastUpdatedDate = now
		out = apiKeyView(k, false)
		return nil
	})
	return respond(w, http.StatusOK, out, err)
}

// deleteAPIKey is DeleteApiKey: DELETE /apikeys/{apiKey} → 202. The key leaves every usage plan too.
func (s *server) deleteAPIKey(w http.ResponseWriter, r *http.Request) error {
	err := s.cfg.Catalog.Write(r.Context(), func(state *catalog.State) error {
		k, err := apiKeyFor(state, r.PathValue("apiKey"))
		if err != nil {
			return err
		}
		if err := fromConfigFile(k.Source, "API key "+k.ID); err != nil {
			return err
		}
		state.APIKeys = slices.DeleteFunc(state.APIKeys, func(other *catalog.APIKey) bool { return other == k })
		for _, p := range state.UsagePlans {
			p.KeyIDs = slices.DeleteFunc(p.KeyIDs, func(id string) bool { return id == k.ID })
		}
		return nil
	})
	return respondEmpty(w, http.StatusAccepted, err)
}
