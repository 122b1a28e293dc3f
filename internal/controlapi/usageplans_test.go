package controlapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/apigateway/types"

	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// TestV1UsagePlansGolden runs the usage plan and usage plan key operations through plain HTTP: creation
// and its checks (name, quota, throttle, API stages), adding keys and the conflicts, listing, patching and
// deleting.
func TestV1UsagePlansGolden(t *testing.T) {
	runV1Golden(t, newV1Fixture(t, nil), "v1_usageplans")
}

// TestV1UsagePlansSDK drives usage plans with the real aws-sdk-go-v2 apigateway client, the way the
// README's CLI workflow does, and checks what the data plane is given at each step.
func TestV1UsagePlansSDK(t *testing.T) {
	f := newV1Fixture(t, nil)
	c := f.client()
	ctx := context.Background()

	key, err := c.CreateApiKey(ctx, &apigateway.CreateApiKeyInput{Name: aws.String("alice"), Value: aws.String("alice-key-0123456789abcdef"), Enabled: true})
	if err != nil {
		t.Fatalf("CreateApiKey: %v", err)
	}
	plan, err := c.CreateUsagePlan(ctx, &apigateway.CreateUsagePlanInput{
		Name:      aws.String("gold"),
		Throttle:  &types.ThrottleSettings{BurstLimit: 10, RateLimit: 5},
		Quota:     &types.QuotaSettings{Limit: 100, Period: types.QuotaPeriodTypeDay},
		ApiStages: []types.ApiStage{{ApiId: aws.String(v1API), Stage: aws.String("dev")}},
	})
	if err != nil {
		t.Fatalf("CreateUsagePlan: %v", err)
	}
	if plan.Throttle == nil || plan.Throttle.BurstLimit != 10 || plan.Quota == nil || plan.Quota.Period != types.QuotaPeriodTypeDay ||
		len(plan.ApiStages) != 1 || aws.ToString(plan.ApiStages[0].Stage) != "dev" {
		t.Fatalf("CreateUsagePlan output = %+v", plan)
	}
	pk, err := c.CreateUsagePlanKey(ctx, &apigateway.CreateUsagePlanKeyInput{UsagePlanId: plan.Id, KeyId: key.Id, KeyType: aws.String("API_KEY")})
	if err != nil {
		t.Fatalf("CreateUsagePlanKey: %v", err)
	}
	if aws.ToString(pk.Id) != aws.ToString(key.Id) || aws.ToString(pk.Type) != "API_KEY" || aws.ToString(pk.Value) != "alice-key-0123456789abcdef" {
		t.Fatalf("CreateUsagePlanKey output = %+v", pk)
	}
	served := f.servedBundle()
	if len(served.UsagePlans) != 1 || !slices.Equal(served.UsagePlans[0].KeyIDs, []string{aws.ToString(key.Id)}) ||
		served.UsagePlans[0].Quota == nil || served.UsagePlans[0].Quota.Limit != 100 {
		t.Fatalf("the data plane was given the plans %+v", served.UsagePlans)
	}

	t.Run("a stage without a deployment is kept but not served", func(t *testing.T) {
		got, err := c.UpdateUsagePlan(ctx, &apigateway.UpdateUsagePlanInput{UsagePlanId: plan.Id, PatchOperations: []types.PatchOperation{
			{Op: types.OpAdd, Path: aws.String("/apiStages"), Value: aws.String(v1API + ":draft")},
		}})
		if err != nil || len(got.ApiStages) != 2 {
			t.Fatalf("UpdateUsagePlan = %+v, %v", got, err)
		}
		if stages := f.servedBundle().UsagePlans[0].APIStages; len(stages) != 1 || stages[0].Stage != "dev" {
			t.Fatalf("served stages %+v, want dev only", stages)
		}
	})
	t.Run("lists", func(t *testing.T) {
		plans, err := c.GetUsagePlans(ctx, &apigateway.GetUsagePlansInput{KeyId: key.Id})
		if err != nil || len(plans.Items) != 1 || aws.ToString(plans.Items[0].Id) != aws.ToString(plan.Id) {
			t.Fatalf("GetUsagePlans keyId = %+v, %v", plans, err)
		}
		keys, err := c.GetUsagePlanKeys(ctx, &apigateway.GetUsagePlanKeysInput{UsagePlanId: plan.Id})
		if err != nil || len(keys.Items) != 1 || aws.ToString(keys.Items[0].Name) != "alice" {
			t.Fatalf("GetUsagePlanKeys = %+v, %v", keys, err)
		}
	})

	other, err := c.CreateUsagePlan(ctx, &apigateway.CreateUsagePlanInput{Name: aws.String("other"),
		ApiStages: []types.ApiStage{{ApiId: aws.String(v1API), Stage: aws.String("dev")}}})
	if err != nil {
		t.Fatalf("CreateUsagePlan: %v", err)
	}
	errorCases := []struct {
		name string
		call func() error
		want any
	}{
		{"key in two plans sharing a stage", func() error {
			_, err := c.CreateUsagePlanKey(ctx, &apigateway.CreateUsagePlanKeyInput{UsagePlanId: other.Id, KeyId: key.Id, KeyType: aws.String("API_KEY")})
			return err
		}, new(*types.ConflictException)},
		{"key twice in a plan", func() error {
			_, err := c.CreateUsagePlanKey(ctx, &apigateway.CreateUsagePlanKeyInput{UsagePlanId: plan.Id, KeyId: key.Id, KeyType: aws.String("API_KEY")})
			return err
		}, new(*types.ConflictException)},
		{"unknown key", func() error {
			_, err := c.CreateUsagePlanKey(ctx, &apigateway.CreateUsagePlanKeyInput{UsagePlanId: plan.Id, KeyId: aws.String("nokey00000"), KeyType: aws.String("API_KEY")})
			return err
		}, new(*types.NotFoundException)},
		{"unknown plan", func() error {
			_, err := c.GetUsagePlan(ctx, &apigateway.GetUsagePlanInput{UsagePlanId: aws.String("noplan0000")})
			return err
		}, new(*types.NotFoundException)},
		{"stage of no API", func() error {
			_, err := c.CreateUsagePlan(ctx, &apigateway.CreateUsagePlanInput{Name: aws.String("x"),
				ApiStages: []types.ApiStage{{ApiId: aws.String("nosuchapi0"), Stage: aws.String("dev")}}})
			return err
		}, new(*types.BadRequestException)},
		{"quota without a period", func() error {
			_, err := c.UpdateUsagePlan(ctx, &apigateway.UpdateUsagePlanInput{UsagePlanId: other.Id, PatchOperations: []types.PatchOperation{
				{Op: types.OpReplace, Path: aws.String("/quota/limit"), Value: aws.String("5")}}})
			return err
		}, new(*types.BadRequestException)},
		{"key not in the plan", func() error {
			_, err := c.DeleteUsagePlanKey(ctx, &apigateway.DeleteUsagePlanKeyInput{UsagePlanId: other.Id, KeyId: key.Id})
			return err
		}, new(*types.NotFoundException)},
	}
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.As(err, tc.want) {
				t.Fatalf("got %v, want %T", err, tc.want)
			}
		})
	}

	t.Run("delete the plan key", func(t *testing.T) {
		if _, err := c.DeleteUsagePlanKey(ctx, &apigateway.DeleteUsagePlanKeyInput{UsagePlanId: plan.Id, KeyId: key.Id}); err != nil {
			t.Fatalf("DeleteUsagePlanKey: %v", err)
		}
		if ids := f.servedBundle().UsagePlans[0].KeyIDs; len(ids) != 0 {
			t.Fatalf("the data plane still has the plan's keys %v", ids)
		}
		// Out of the first plan, the key may join the other one.
		if _, err := c.CreateUsagePlanKey(ctx, &apigateway.CreateUsagePlanKeyInput{UsagePlanId: other.Id, KeyId: key.Id, KeyType: aws.String("API_KEY")}); err != nil {
			t.Fatalf("CreateUsagePlanKey: %v", err)
		}
	})
	t.Run("delete the plans", func(t *testing.T) {
		for _, id := range []*string{plan.Id, other.Id} {
			if _, err := c.DeleteUsagePlan(ctx, &apigateway.DeleteUsagePlanInput{UsagePlanId: id}); err != nil {
				t.Fatalf("DeleteUsagePlan: %v", err)
			}
		}
		if plans := f.servedBundle().UsagePlans; len(plans) != 0 {
			t.Fatalf("the data plane still has plans %+v", plans)
		}
	})
}

// TestV1ConfigFileKeysAndPlans checks that the keys and plans the configuration file declares are listed
// and may be changed through the control plane.
func TestV1ConfigFileKeysAndPlans(t *testing.T) {
	config := &resource.Bundle{
		APIKeys:    []resource.APIKey{{ID: "filekey", Name: "from the file", Value: "file-key-0123456789abcdef", Enabled: true}},
		UsagePlans: []resource.UsagePlan{{ID: "fileplan", Name: "file plan", KeyIDs: []string{"filekey"}}},
	}
	f := newV1Fixture(t, config)
	c := f.client()
	ctx := context.Background()

	keys, err := c.GetApiKeys(ctx, &apigateway.GetApiKeysInput{IncludeValues: aws.Bool(true)})
	if err != nil || len(keys.Items) != 1 || aws.ToString(keys.Items[0].Value) != "file-key-0123456789abcdef" {
		t.Fatalf("GetApiKeys = %+v, %v", keys, err)
	}
	// The file replaces them at every start, so the control plane may read them but not change them.
	plan, err := c.GetUsagePlan(ctx, &apigateway.GetUsagePlanInput{UsagePlanId: aws.String("fileplan")})
	if err != nil || aws.ToString(plan.Name) != "file plan" {
		t.Fatalf("GetUsagePlan = %+v, %v", plan, err)
	}
	refused := []struct {
		name string
		call func() error
	}{
		{"UpdateApiKey", func() error {
			_, err := c.UpdateApiKey(ctx, &apigateway.UpdateApiKeyInput{ApiKey: aws.String("filekey"), PatchOperations: []types.PatchOperation{
				{Op: types.OpReplace, Path: aws.String("/enabled"), Value: aws.String("false")}}})
			return err
		}},
		{"DeleteApiKey", func() error {
			_, err := c.DeleteApiKey(ctx, &apigateway.DeleteApiKeyInput{ApiKey: aws.String("filekey")})
			return err
		}},
		{"UpdateUsagePlan", func() error {
			_, err := c.UpdateUsagePlan(ctx, &apigateway.UpdateUsagePlanInput{UsagePlanId: aws.String("fileplan"), PatchOperations: []types.PatchOperation{
				{Op: types.OpAdd, Path: aws.String("/apiStages"), Value: aws.String(v1API + ":dev")}}})
			return err
		}},
		{"DeleteUsagePlanKey", func() error {
			_, err := c.DeleteUsagePlanKey(ctx, &apigateway.DeleteUsagePlanKeyInput{UsagePlanId: aws.String("fileplan"), KeyId: aws.String("filekey")})
			return err
		}},
		{"DeleteUsagePlan", func() error {
			_, err := c.DeleteUsagePlan(ctx, &apigateway.DeleteUsagePlanInput{UsagePlanId: aws.String("fileplan")})
			return err
		}},
	}
	for _, tc := range refused {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			var bad *types.BadRequestException
			if err := tc.call(); !errors.As(err, &bad) || !strings.Contains(bad.ErrorMessage(), "configuration file") {
				t.Fatalf("got %v, want a BadRequestException about the configuration file", err)
			}
		})
	}
	served := f.servedBundle()
	if len(served.APIKeys) != 1 || !served.APIKeys[0].Enabled || len(served.UsagePlans) != 1 || len(served.UsagePlans[0].KeyIDs) != 1 {
		t.Fatalf("after refused changes the data plane has keys %+v and plans %+v", served.APIKeys, served.UsagePlans)
	}
}

// TestV1PatchUsagePlan checks UpdateUsagePlan's patch operations one by one, on a plan with the stage
// dev, a throttle and a quota.
func TestV1PatchUsagePlan(t *testing.T) {
	f := newV1Fixture(t, nil)
	s := &server{cfg: Config{Catalog: f.cat}}
	cases := []struct {
		name    string
		ops     string
		want    func(p *catalog.UsagePlan) bool
		wantErr string // a part of the BadRequestException's message
	}{
		{"rename", `[{"op":"replace","path":"/name","value":"silver"}]`, func(p *catalog.UsagePlan) bool { return p.Name == "silver" }, ""},
		{"throttle", `[{"op":"replace","path":"/throttle/rateLimit","value":"0.5"},{"op":"replace","path":"/throttle/burstLimit","value":"3"}]`,
			func(p *catalog.UsagePlan) bool {
				return *p.Throttle == resource.UsagePlanThrottle{RateLimit: 0.5, BurstLimit: 3}
			}, ""},
		{"quota", `[{"op":"replace","path":"/quota/period","value":"MONTH"},{"op":"replace","path":"/quota/offset","value":"27"}]`,
			func(p *catalog.UsagePlan) bool {
				return *p.Quota == resource.UsagePlanQuota{Limit: 100, Period: "MONTH", Offset: 27}
			}, ""},
		{"remove the throttle and the quota", `[{"op":"remove","path":"/throttle"},{"op":"remove","path":"/quota"}]`,
			func(p *catalog.UsagePlan) bool { return p.Throttle == nil && p.Quota == nil }, ""},
		{"a new quota needs a period", `[{"op":"remove","path":"/quota"},{"op":"replace","path":"/quota/limit","value":"5"}]`, nil, "quota.period must be one of DAY, WEEK, MONTH"},
		{"a new quota needs a limit", `[{"op":"remove","path":"/quota"},{"op":"replace","path":"/quota/period","value":"DAY"}]`, nil, "quota.limit must be a positive number"},
		{"add a stage", `[{"op":"add","path":"/apiStages","value":"wsapi00001:draft"}]`,
			func(p *catalog.UsagePlan) bool { return len(p.APIStages) == 2 && p.APIStages[1].Stage == "draft" }, ""},
		{"remove a stage", `[{"op":"remove","path":"/apiStages","value":"wsapi00001:dev"}]`,
			func(p *catalog.UsagePlan) bool { return len(p.APIStages) == 0 }, ""},
		{"stage of no API", `[{"op":"add","path":"/apiStages","value":"nosuchapi0:dev"}]`, nil, "there is no API nosuchapi0"},
		{"stage that does not exist", `[{"op":"add","path":"/apiStages","value":"wsapi00001:prod"}]`, nil, "API wsapi00001 has no stage prod"},
		{"stage value without a colon", `[{"op":"add","path":"/apiStages","value":"wsapi00001"}]`, nil, "use apiId:stage"},
		{"remove a stage the plan lacks", `[{"op":"remove","path":"/apiStages","value":"wsapi00001:draft"}]`, nil, "has no API Stage"},
		{"replace the stages", `[{"op":"replace","path":"/apiStages","value":"wsapi00001:draft"}]`, nil, "Invalid patch path '/apiStages' specified for op 'replace'"},
		{"per-method throttle", `[{"op":"replace","path":"/apiStages/wsapi00001:dev/throttle","value":"1"}]`, nil, "per-method throttles"},
		{"burst is an integer", `[{"op":"replace","path":"/throttle/burstLimit","value":"1.5"}]`, nil, "is not an integer"},
		{"rate is a number", `[{"op":"replace","path":"/throttle/rateLimit","value":"fast"}]`, nil, "is not a number"},
		{"rate is finite", `[{"op":"replace","path":"/throttle/rateLimit","value":"Inf"}]`, nil, "throttle.rateLimit must be"},
		{"rate is not negative", `[{"op":"replace","path":"/throttle/rateLimit","value":"-1"}]`, nil, "throttle.rateLimit must be"},
		{"offset in range", `[{"op":"replace","path":"/quota/offset","value":"1"}]`, nil, "quota.offset must be 0 for the period DAY"},
		{"name is required", `[{"op":"replace","path":"/name","value":""}]`, nil, "name is required"},
		{"move is not supported", `[{"op":"move","path":"/name","from":"/description"}]`, nil, "Invalid patch path '/name' specified for op 'move'"},
		{"no such path", `[{"op":"replace","path":"/productCode","value":"x"}]`, nil, "Invalid patch path '/productCode'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := f.cat.Write(context.Background(), func(st *catalog.State) error {
				p := &catalog.UsagePlan{UsagePlan: resource.UsagePlan{ID: "plan", Name: "gold",
					APIStages: []resource.UsagePlanStage{{APIID: v1API, Stage: "dev"}},
					Throttle:  &resource.UsagePlanThrottle{RateLimit: 1, BurstLimit: 1},
					Quota:     &resource.UsagePlanQuota{Limit: 100, Period: "DAY"}}}
				ops, err := decodePatchOps([]byte(`{"patchOperations":` + tc.ops + `}`))
				if err == nil {
					err = s.patchUsagePlan(st, p, ops)
				}
				v1CheckBadRequest(t, err, tc.wantErr)
				if tc.wantErr == "" && !tc.want(p) {
					t.Fatalf("plan after the patch: %+v", p)
				}
				return errors.New("roll back")
			})
			if err == nil || err.Error() != "roll back" {
				t.Fatal(err)
			}
		})
	}
}

// FuzzV1PatchOperations sends arbitrary bodies to UpdateApiKey and UpdateUsagePlan: the answer is never
// a 500, and whatever the handlers accept compiles, so that their own checks cover everything the data
// plane requires (a change the compiler refuses would reach the client as a less helpful message).
func FuzzV1PatchOperations(f *testing.F) {
	for _, seed := range []string{
		`{"patchOperations":[{"op":"replace","path":"/name","value":"x"}]}`,
		`{"patchOperations":[{"op":"replace","path":"/enabled","value":"false"}]}`,
		`{"patchOperations":[{"op":"add","path":"/apiStages","value":"wsapi00001:draft"}]}`,
		`{"patchOperations":[{"op":"remove","path":"/apiStages","value":"wsapi00001:dev"}]}`,
		`{"patchOperations":[{"op":"replace","path":"/quota/period","value":"WEEK"},{"op":"replace","path":"/quota/offset","value":"6"}]}`,
		`{"patchOperations":[{"op":"replace","path":"/throttle/rateLimit","value":"1e308"}]}`,
		`{"patchOperations":[{"op":"remove","path":"/quota"},{"op":"replace","path":"/quota/limit","value":"-1"}]}`,
		`{"patchOperations":null}`,
		`{"patchOperations":[{}]}`,
		`[]`,
		``,
	} {
		f.Add([]byte(seed))
	}
	fx := newV1Fixture(f, nil)
	status, body := fx.do(http.MethodPost, "/apikeys", `{"name":"k","value":"fuzz-key-0123456789abcdef","enabled":true}`)
	if status != http.StatusCreated {
		f.Fatalf("CreateApiKey: %d %s", status, body)
	}
	keyID := v1JSONMember(f, body, "id")
	status, body = fx.do(http.MethodPost, "/usageplans", `{"name":"p","quota":{"limit":5,"period":"DAY"},"throttle":{"rateLimit":1,"burstLimit":1},"apiStages":[{"apiId":"wsapi00001","stage":"dev"}]}`)
	if status != http.StatusCreated {
		f.Fatalf("CreateUsagePlan: %d %s", status, body)
	}
	planID := v1JSONMember(f, body, "id")
	if status, body := fx.do(http.MethodPost, "/usageplans/"+planID+"/keys", `{"keyId":"`+keyID+`","keyType":"API_KEY"}`); status != http.StatusCreated {
		f.Fatalf("CreateUsagePlanKey: %d %s", status, body)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, path := range []string{"/apikeys/" + keyID, "/usageplans/" + planID} {
			status, errType, body := fx.doTyped(http.MethodPatch, path, string(data))
			switch status {
			case http.StatusOK, http.StatusBadRequest, http.StatusNotFound, http.StatusConflict:
			default:
				t.Fatalf("PATCH %s %q: %d %s", path, data, status, body)
			}
			fx.mu.Lock()
			applyErr := fx.applyError
			fx.mu.Unlock()
			if applyErr != nil {
				t.Fatalf("PATCH %s %q passed the handler's checks but did not compile: %v", path, data, applyErr)
			}
			if status == http.StatusBadRequest && errType != "BadRequestException" {
				t.Fatalf("PATCH %s %q: 400 without a BadRequestException: %s", path, data, body)
			}
		}
	})
}

// v1JSONMember returns the string member name of the JSON object body.
func v1JSONMember(t testing.TB, body []byte, name string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	s, _ := m[name].(string)
	return s
}
