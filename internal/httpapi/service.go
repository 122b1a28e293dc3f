package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/parammap"
	"github.com/switchboard-gw/switchboard/internal/proxyevent"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// ServiceRequest is one AWS service call of an integration subtype.
type ServiceRequest struct {
	// Service is the endpoint prefix (sqs, events, kinesis, states, appconfig) and Action the API action,
	// or, for REST-style services, Method and Path (with Query).
	Service, Action, Method, Path string
	// Region is the service's region ("" means the gateway's).
	Region      string
	Query       url.Values
	ContentType string
	Body        []byte
}

// ServiceResponse is a service's answer, passed to the client as it is.
type ServiceResponse struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

// ServiceCaller signs and sends a service request to the endpoint the standard AWS_ENDPOINT_URL_<SERVICE>
// settings name (integration/awsservice, through the wiring).
type ServiceCaller interface {
	CallService(ctx context.Context, r *ServiceRequest) (*ServiceResponse, error)
}

// callService runs an AWS_PROXY integration with an integrationSubtype: its requestParameters are
// evaluated against the request, shaped into the action's request, and the service's answer is the
// client's (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-aws-services.html).
func (h *Handler) callService(q *request, in *snapshot.Integration, params map[string]string, ev *proxyevent.HTTPRequest) {
	st, ok := resource.Subtypes[in.Subtype]
	if !ok || h.services == nil {
		err := errors.New("integrationSubtype " + in.Subtype + " cannot be called: no AWS service caller is configured")
		h.integrationFailed(q, http.StatusInternalServerError, bodyInternalError, "integration_error", err)
		return
	}
	input := h.mappingInput(q, params, ev, nil)
	values := make(map[string]string, len(in.ServiceParameters))
	for name, expr := range in.ServiceParameters {
		if expr == "$request.body" || expr == "${request.body}" {
			// The whole body, which AWS's service integration examples pass (MessageBody, Detail, Input)
			// and parameter mapping values do not take.
			if ev != nil && len(ev.Body) > 0 {
				values[name] = string(ev.Body)
			}
			continue
		}
		v, err := parammap.ParseValue(expr, false)
		if err != nil {
			h.integrationFailed(q, http.StatusInternalServerError, bodyInternalError, "integration_error",
				fmt.Errorf("request parameter %s: %w", name, err))
			return
		}
		if s, ok := v.Eval(input); ok {
			values[name] = s
		}
	}
	for _, p := range st.Parameters {
		if p.Required && values[p.Name] == "" {
			h.refuse(q, http.StatusBadRequest, `{"message":"Bad Request"}`, "bad_request",
				"integrationSubtype "+in.Subtype+": the request gives no value for the required parameter "+p.Name)
			return
		}
	}
	if r := values["Region"]; r != "" && !resource.IsAWSRegion(r) {
		// The region makes the endpoint's host name: one taken from the request could otherwise point
		// the gateway's signed request at another host (us-east-1:{id}.execute-api:…).
		h.refuse(q, http.StatusBadRequest, `{"message":"Bad Request"}`, "bad_request",
			"integrationSubtype "+in.Subtype+": Region "+strconv.Quote(r)+" is not an AWS region's name")
		return
	}
	sr, err := serviceRequest(st, values)
	if err != nil {
		h.integrationFailed(q, http.StatusInternalServerError, bodyInternalError, "integration_error", err)
		return
	}
	ctx, cancel := context.WithTimeout(q.r.Context(), in.Timeout)
	defer cancel()
	started := h.now()
	resp, err := h.services.CallService(ctx, sr)
	q.out.Integrated, q.out.IntegrationLatency = true, h.now().Sub(started)
	if err != nil {
		h.callFailed(ctx, q, err, "the service did not answer within "+in.Timeout.String())
		return
	}
	q.out.IntegrationStatus = resp.StatusCode
	header := q.w.Header()
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		header.Set("Content-Type", ct)
	}
	status := h.mapResponse(q, in, resp.StatusCode, header, ev)
	h.cors(q, header)
	header.Set("Content-Length", strconv.Itoa(len(resp.Body)))
	q.w.WriteHeader(status)
	n, _ := q.w.Write(resp.Body)
	q.out.Status, q.out.ResponseLength = status, int64(n)
}

// serviceRequest shapes a subtype's parameter values into its action's request: the query protocol's
// form for SQS, the JSON protocol's document for EventBridge, Kinesis and Step Functions, AppConfig's
// REST path.
func serviceRequest(st resource.Subtype, values map[string]string) (*ServiceRequest, error) {
	sr := &ServiceRequest{Service: st.Service, Action: st.Action, Region: values["Region"], Method: http.MethodPost}
	switch st.Service {
	case "sqs":
		form := url.Values{"Version": {"2012-11-05"}}
		for _, p := range st.Parameters {
			v, ok := values[p.Name]
			if !ok {
				continue
			}
			switch p.Name {
			case "AttributeNames", "MessageAttributeNames":
				for i, name := range splitList(v) {
					form.Set(strings.TrimSuffix(p.Name, "s")+"."+strconv.Itoa(i+1), name)
				}
			case "MessageAttributes", "MessageSystemAttributes":
				if err := flattenAttributes(form, strings.TrimSuffix(p.Name, "s"), v); err != nil {
					return nil, fmt.Errorf("%s: %w", p.Name, err)
				}
			default:
				form.Set(p.Name, v)
			}
		}
		sr.ContentType, sr.Body = "application/x-www-form-urlencoded", []byte(form.Encode())
	case "events":
		entry := map[string]any{}
		for _, name := range []string{"Detail", "DetailType", "Source", "EventBusName", "TraceHeader", "Time"} {
			if v, ok := values[name]; ok {
				entry[name] = v
			}
		}
		if v, ok := values["Resources"]; ok {
			entry["Resources"] = splitList(v)
		}
		body, _ := json.Marshal(map[string]any{"Entries": []any{entry}})
		sr.ContentType, sr.Body = "application/x-amz-json-1.1", body
	case "kinesis", "states":
		doc := map[string]any{}
		for name, v := range values {
			if name == "Region" {
				continue
			}
			doc[name] = v
		}
		if v, ok := values["Data"]; ok && st.Service == "kinesis" {
			doc["Data"] = base64.StdEncoding.EncodeToString([]byte(v)) // a blob, base64 in the JSON protocol
		}
		body, _ := json.Marshal(doc)
		sr.ContentType, sr.Body = "application/x-amz-json-1.1", body
		if st.Service == "states" {
			sr.ContentType = "application/x-amz-json-1.0"
		}
	case "appconfig":
		sr.Action, sr.Method = "", http.MethodGet
		sr.Path = "/applications/" + url.PathEscape(values["Application"]) + "/environments/" + url.PathEscape(values["Environment"]) +
			"/configurations/" + url.PathEscape(values["Configuration"])
		sr.Query = url.Values{"client_id": {values["ClientId"]}}
		if v, ok := values["ClientConfigurationVersion"]; ok {
			sr.Query.Set("client_configuration_version", v)
		}
	default:
		return nil, fmt.Errorf("service %s has no request shape", st.Service)
	}
	return sr, nil
}

// splitList reads a list parameter: a JSON array of strings, or comma-separated values.
func splitList(v string) []string {
	var list []string
	if json.Unmarshal([]byte(v), &list) == nil {
		return list
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// flattenAttributes writes SQS message attributes given as JSON ({"name": {"DataType": "String",
// "StringValue": "v"}}) in the query protocol's form: PREFIX.N.Name, PREFIX.N.Value.DataType, ….
func flattenAttributes(form url.Values, prefix, v string) error {
	var attrs map[string]map[string]string
	if err := json.Unmarshal([]byte(v), &attrs); err != nil {
		return fmt.Errorf("want a JSON object of attributes: %w", err)
	}
	names := make([]string, 0, len(attrs))
	for name := range attrs {
		names = append(names, name)
	}
	sort.Strings(names)
	for i, name := range names {
		p := prefix + "." + strconv.Itoa(i+1)
		form.Set(p+".Name", name)
		for k, val := range attrs[name] {
			form.Set(p+".Value."+k, val)
		}
	}
	return nil
}
