package snapshot

import (
	"encoding/json"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"sort"
)

// Dump renders s as indented JSON with sorted keys, for golden tests and debugging.
func (s *Set) Dump() ([]byte, error) {
	type route struct {
		ID                string      `json:"id"`
		Integration       string      `json:"integration,omitempty"`
		TwoWay            bool        `json:"twoWay,omitempty"`
		AuthorizationType string      `json:"authorizationType,omitempty"`
		Authorizer        *Authorizer `json:"authorizer,omitempty"`
		APIKeyRequired    bool        `json:"apiKeyRequired,omitempty"`
	}
	type integration struct {
		Type              string            `json:"type"`
		URI               string            `json:"uri,omitempty"`
		Method            string            `json:"method,omitempty"`
		TimeoutMillis     int64             `json:"timeoutMillis"`
		Passthrough       string            `json:"passthroughBehavior,omitempty"`
		Parameters        []Parameter       `json:"requestParameters,omitempty"`
		Templates         map[string]string `json:"requestTemplates,omitempty"`
		TemplateSelection string            `json:"templateSelection,omitempty"`
		Responses         []map[string]any  `json:"responses,omitempty"`
	}
	type stage struct {
		// RouteSelection and APIKeySelection appear when the stage's deployment differs from the API's.
		RouteSelection  string                            `json:"routeSelection,omitempty"`
		APIKeySelection string                            `json:"apiKeySelection,omitempty"`
		NeedsAPIKey     bool                              `json:"needsApiKey,omitempty"`
		Defaults        *resource.RouteSettings           `json:"defaultRouteSettings,omitempty"`
		PerRoute        map[string]resource.RouteSettings `json:"routeSettings,omitempty"`
		Variables       map[string]string                 `json:"variables,omitempty"`
		Routes          map[string]route                  `json:"routes"`
		Integrations    map[string]integration            `json:"integrations"`
	}
	type api struct {
		Name                      string           `json:"name"`
		RouteSelection            string           `json:"routeSelection"`
		DisableExecuteAPIEndpoint bool             `json:"disableExecuteApiEndpoint,omitempty"`
		Stages                    map[string]stage `json:"stages"`
	}
	out := map[string]api{}
	for id, a := range s.APIs {
		da := api{Name: a.Name, RouteSelection: a.RouteSelection.String(), DisableExecuteAPIEndpoint: a.DisableExecuteAPIEndpoint, Stages: map[string]stage{}}
		for name, st := range a.Stages {
			ds := stage{Variables: st.Variables, Routes: map[string]route{}, Integrations: map[string]integration{}, Defaults: st.DefaultRouteSettings, PerRoute: st.RouteSettings,
				NeedsAPIKey: st.NeedsAPIKey}
			if sel := st.RouteSelection.String(); sel != da.RouteSelection {
				ds.RouteSelection = sel
			}
			if st.APIKeySelection != a.APIKeySelection {
				ds.APIKeySelection = st.APIKeySelection
			}
			for key, r := range st.Routes {
				dr := route{ID: r.ID, TwoWay: r.TwoWay, Authorizer: r.Authorizer, APIKeyRequired: r.APIKeyRequired}
				if r.AuthorizationType != "NONE" {
					dr.AuthorizationType = r.AuthorizationType
				}
				if in := r.Integration; in != nil {
					dr.Integration = in.ID
					di := integration{Type: in.Type, URI: in.URI, Method: in.Method, TimeoutMillis: in.Timeout.Milliseconds(),
						Passthrough: in.PassthroughBehavior, Parameters: in.RequestParameters, Templates: in.RequestTemplates}
					if in.TemplateSelection != nil {
						di.TemplateSelection = in.TemplateSelection.String()
					}
					for _, ir := range in.Responses {
						m := map[string]any{"key": ir.Key, "templates": ir.Templates}
						if ir.TemplateSelection != nil {
							m["templateSelection"] = ir.TemplateSelection.String()
						}
						di.Responses = append(di.Responses, m)
					}
					ds.Integrations[in.ID] = di
				}
				ds.Routes[key] = dr
			}
			da.Stages[name] = ds
		}
		out[id] = da
	}
	return json.MarshalIndent(out, "", "  ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
