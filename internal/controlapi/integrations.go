package controlapi

import (
	"errors"
	"net/http"
	"slices"

	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/selexpr"
)

// integrationInput is the input shape of CreateIntegration and UpdateIntegration. responseParameters (a
// map per status code) and integrationSubtype belong to HTTP APIs; contentHandlingStrategy,
// passthroughBehavior, requestTemplates and templateSelectionExpression to WebSocket APIs
// (checkIntegrationKind).
// https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis-apiid-integrations.html
type integrationInput struct {
	ConnectionID                string                       `json:"connectionId"`
	ConnectionType              string                       `json:"connectionType"`
	ContentHandlingStrategy     string                       `json:"contentHandlingStrategy"`
	CredentialsARN              string                       `json:"credentialsArn"`
	Description                 string                       `json:"description"`
	IntegrationMethod           string                       `json:"integrationMethod"`
	IntegrationSubtype          string                       `json:"integrationSubtype"`
	IntegrationType             string                       `json:"integrationType"`
	IntegrationURI              string                       `json:"integrationUri"`
	PassthroughBehavior         string                       `json:"passthroughBehavior"`
	PayloadFormatVersion        string                       `json:"payloadFormatVersion"`
	RequestParameters           map[string]string            `json:"requestParameters"`
	RequestTemplates            map[string]string            `json:"requestTemplates"`
	ResponseParameters          map[string]map[string]string `json:"responseParameters"`
	TemplateSelectionExpression string                       `json:"templateSelectionExpression"`
	// TimeoutInMillis is a pointer so that an explicit 0 is out of range rather than the default.
	TimeoutInMillis *int                `json:"timeoutInMillis"`
	TLSConfig       *resource.TLSConfig `json:"tlsConfig"`
}

// integrationOutput is the output shape of CreateIntegration, GetIntegration and UpdateIntegration, and
// an item of GetIntegrations. AWS reports apiGatewayManaged only for the integration quick create made
// (CLI examples create-integration, get-integration, get-integrations).
type integrationOutput struct {
	APIGatewayManaged                      bool                         `json:"apiGatewayManaged,omitempty"`
	ConnectionID                           string                       `json:"connectionId,omitempty"`
	ConnectionType                         string                       `json:"connectionType,omitempty"`
	ContentHandlingStrategy                string                       `json:"contentHandlingStrategy,omitempty"`
	CredentialsARN                         string                       `json:"credentialsArn,omitempty"`
	Description                            string                       `json:"description,omitempty"`
	IntegrationID                          string                       `json:"integrationId"`
	IntegrationMethod                      string                       `json:"integrationMethod,omitempty"`
	IntegrationResponseSelectionExpression string                       `json:"integrationResponseSelectionExpression,omitempty"`
	IntegrationSubtype                     string                       `json:"integrationSubtype,omitempty"`
	IntegrationType                        string                       `json:"integrationType"`
	IntegrationURI                         string                       `json:"integrationUri,omitempty"`
	PassthroughBehavior                    string                       `json:"passthroughBehavior,omitempty"`
	PayloadFormatVersion                   string                       `json:"payloadFormatVersion,omitempty"`
	RequestParameters                      map[string]string            `json:"requestParameters,omitempty"`
	RequestTemplates                       map[string]string            `json:"requestTemplates,omitempty"`
	ResponseParameters                     map[string]map[string]string `json:"responseParameters,omitempty"`
	TemplateSelectionExpression            string                       `json:"templateSelectionExpression,omitempty"`
	TimeoutInMillis                        int                          `json:"timeoutInMillis,omitempty"`
	TLSConfig                              *resource.TLSConfig          `json:"tlsConfig,omitempty"`
}

// integrationOutputOf is what the control plane reports for in, an integration of a.
func integrationOutputOf(a *catalog.API, in *resource.Integration) integrationOutput {
	return integrationOutput{
		APIGatewayManaged:                      managed(a, managedIntegration, in.IntegrationID),
		ConnectionID:                           in.ConnectionID,
		ConnectionType:                         in.ConnectionType,
		ContentHandlingStrategy:                in.ContentHandlingStrategy,
		CredentialsARN:                         in.CredentialsARN,
		Description:                            in.Description,
		IntegrationID:                          in.IntegrationID,
		IntegrationMethod:                      in.IntegrationMethod,
		IntegrationResponseSelectionExpression: in.IntegrationResponseSelectionExpression,
		IntegrationSubtype:                     in.IntegrationSubtype,
		IntegrationType:                        in.IntegrationType,
		IntegrationURI:                         in.IntegrationURI,
		PassthroughBehavior:                    in.PassthroughBehavior,
		PayloadFormatVersion:                   in.PayloadFormatVersion,
		RequestParameters:                      in.RequestParameters,
		RequestTemplates:                       in.RequestTemplates,
		ResponseParameters:                     in.ResponseParameters,
		TemplateSelectionExpression:            in.TemplateSelectionExpression,
		TimeoutInMillis:                        in.TimeoutInMillis,
		TLSConfig:                              in.TLSConfig,
	}
}

// integrationInputOf is the UpdateIntegration input that leaves in as it is.
func integrationInputOf(in *resource.Integration) integrationInput {
	timeout := in.TimeoutInMillis
	return integrationInput{
		ConnectionID:                in.ConnectionID,
		ConnectionType:              in.ConnectionType,
		ContentHandlingStrategy:     in.ContentHandlingStrategy,
		CredentialsARN:              in.CredentialsARN,
		Description:                 in.Description,
		IntegrationMethod:           in.IntegrationMethod,
		IntegrationSubtype:          in.IntegrationSubtype,
		IntegrationType:             in.IntegrationType,
		IntegrationURI:              in.IntegrationURI,
		PassthroughBehavior:         in.PassthroughBehavior,
		PayloadFormatVersion:        in.PayloadFormatVersion,
		RequestParameters:           in.RequestParameters,
		RequestTemplates:            in.RequestTemplates,
		ResponseParameters:          in.ResponseParameters,
		TemplateSelectionExpression: in.TemplateSelectionExpression,
		TimeoutInMillis:             &timeout,
		TLSConfig:                   in.TLSConfig,
	}
}

// check checks what resource.Validate leaves to later steps or does not know, naming the member. http
// says the integration belongs to an HTTP API, whose timeout range checkIntegrationKind checks.
func (in *integrationInput) check(http bool) error {
	if in.IntegrationType == "" {
		return badRequest("integrationType is required; allowed values are AWS_PROXY, AWS, HTTP_PROXY, HTTP and MOCK")
	}
	if t := in.TimeoutInMillis; t != nil && (*t < resource.MinTimeoutInMillis || *t > resource.MaxTimeoutInMillis) && !http {
		return badRequest("timeoutInMillis %d is out of range; allowed is %d to %d", *t, resource.MinTimeoutInMillis, resource.MaxTimeoutInMillis)
	}
	return checkExpression("templateSelectionExpression", in.TemplateSelectionExpression)
}

// apply copies the input's members onto out.
func (in *integrationInput) apply(out *resource.Integration) {
	out.ConnectionID = in.ConnectionID
	out.ConnectionType = in.ConnectionType
	out.ContentHandlingStrategy = in.ContentHandlingStrategy
	out.CredentialsARN = in.CredentialsARN
	out.Description = in.Description
	out.IntegrationMethod = in.IntegrationMethod
	out.IntegrationSubtype = in.IntegrationSubtype
	out.IntegrationType = in.IntegrationType
	out.IntegrationURI = in.IntegrationURI
	out.PassthroughBehavior = in.PassthroughBehavior
	out.PayloadFormatVersion = in.PayloadFormatVersion
	out.RequestParameters = in.RequestParameters
	out.RequestTemplates = in.RequestTemplates
	out.ResponseParameters = in.ResponseParameters
	out.TemplateSelectionExpression = in.TemplateSelectionExpression
	out.TimeoutInMillis = 0 // resource.ApplyDefaults fills in the default
	if in.TimeoutInMillis != nil {
		out.TimeoutInMillis = *in.TimeoutInMillis
	}
	out.TLSConfig = in.TLSConfig
}

// integrationFor returns a's integration with id, or the NotFoundException AWS answers.
func integrationFor(a *catalog.API, id string) (*resource.Integration, error) {
	for i := range a.Integrations {
		if a.Integrations[i].IntegrationID == id {
			return &a.Integrations[i], nil
		}
	}
	return nil, notFound("Integration", "Invalid Integration identifier specified %s", id)
}

// createIntegration is CreateIntegration. Every integration type is accepted and stored; whether the
// gateway can serve it is decided when a stage serves it.
func (s *server) createIntegration(w http.ResponseWriter, r *http.Request) error {
	var in integrationInput
	if err := decode(r, &in); err != nil {
		return err
	}
	var out integrationOutput
	err := s.changeAPI(r, func(_ *catalog.State, a *catalog.API) error {
		if err := in.check(isHTTP(&a.API)); err != nil {
			return err
		}
		if err := checkIntegrationKind(a, &in); err != nil {
			return err
		}
		integ := resource.Integration{IntegrationID: a.NewChildID()}
		in.apply(&integ)
		a.Integrations = append(a.Integrations, integ)
		if err := checkAPI(&a.API); err != nil {
			return err
		}
		out = integrationOutputOf(a, &a.Integrations[len(a.Integrations)-1])
		return nil
	})
	return respond(w, http.StatusCreated, out, err)
}

// getIntegrations is GetIntegrations.
func (s *server) getIntegrations(w http.ResponseWriter, r *http.Request) error {
	var items []integrationOutput
	err := s.readAPI(r, func(a *catalog.API) error {
		for i := range a.Integrations {
			items = append(items, integrationOutputOf(a, &a.Integrations[i]))
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeList(s, w, r, items)
	return nil
}

// getIntegration is GetIntegration.
func (s *server) getIntegration(w http.ResponseWriter, r *http.Request) error {
	var out integrationOutput
	err := s.readAPI(r, func(a *catalog.API) error {
		integ, err := integrationFor(a, r.PathValue("integrationId"))
		if err != nil {
			return err
		}
		out = integrationOutputOf(a, integ)
		return nil
	})
	return respond(w, http.StatusOK, out, err)
}

// updateIntegration is UpdateIntegration. When integrationType changes, the defaults that depend on it
// (integrationMethod, integrationResponseSelectionExpression) are filled in afresh unless the request
// sets them.
func (s *server) updateIntegration(w http.ResponseWriter, r *http.Request) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	var out integrationOutput
	err = s.changeAPI(r, func(_ *catalog.State, a *catalog.API) error {
		integ, err := integrationFor(a, r.PathValue("integrationId"))
		if err != nil {
			return err
		}
		in := integrationInputOf(integ)
		present, err := decodePatch(data, &in)
		if err != nil {
			return err
		}
		if err := in.check(isHTTP(&a.API)); err != nil {
			return err
		}
		if err := checkIntegrationKind(a, &in); err != nil {
			return err
		}
		next := *integ
		if in.IntegrationType != integ.IntegrationType {
			if !present["integrationMethod"] {
				in.IntegrationMethod = ""
			}
			next.IntegrationResponseSelectionExpression = ""
		}
		in.apply(&next)
		*integ = next
		if err := checkAPI(&a.API); err != nil {
			return err
		}
		out = integrationOutputOf(a, integ)
		return nil
	})
	return respond(w, http.StatusOK, out, err)
}

// deleteIntegration is DeleteIntegration. An integration a route targets cannot be deleted (409): the
// route would be left pointing at nothing.
func (s *server) deleteIntegration(w http.ResponseWriter, r *http.Request) error {
	err := s.changeAPI(r, func(_ *catalog.State, a *catalog.API) error {
		integ, err := integrationFor(a, r.PathValue("integrationId"))
		if err != nil {
			return err
		}
		id := integ.IntegrationID
		for _, route := range a.Routes {
			if route.Target == "integrations/"+id {
				return conflict("Integration %s is the target of route %s (routeId %s); change the route's target or delete the route first", id, route.RouteKey, route.RouteID)
			}
		}
		a.Integrations = slices.DeleteFunc(a.Integrations, func(in resource.Integration) bool { return in.IntegrationID == id })
		return nil
	})
	return respondEmpty(w, http.StatusNoContent, err)
}

// integrationResponseInput is the input shape of CreateIntegrationResponse and
// UpdateIntegrationResponse.
// https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis-apiid-integrations-integrationid-integrationresponses.html
type integrationResponseInput struct {
	ContentHandlingStrategy     string            `json:"contentHandlingStrategy"`
	IntegrationResponseKey      string            `json:"integrationResponseKey"`
	ResponseParameters          map[string]string `json:"responseParameters"`
	ResponseTemplates           map[string]string `json:"responseTemplates"`
	TemplateSelectionExpression string            `json:"templateSelectionExpression"`
}

// integrationResponseOutput is the output shape of CreateIntegrationResponse, GetIntegrationResponse
// and UpdateIntegrationResponse, and an item of GetIntegrationResponses.
type integrationResponseOutput struct {
	ContentHandlingStrategy     string            `json:"contentHandlingStrategy,omitempty"`
	IntegrationResponseID       string            `json:"integrationResponseId"`
	IntegrationResponseKey      string            `json:"integrationResponseKey"`
	ResponseParameters          map[string]string `json:"responseParameters,omitempty"`
	ResponseTemplates           map[string]string `json:"responseTemplates,omitempty"`
	TemplateSelectionExpression string            `json:"templateSelectionExpression,omitempty"`
}

// integrationResponseOutputOf is what the control plane reports for ir.
func integrationResponseOutputOf(ir *resource.IntegrationResponse) integrationResponseOutput {
	return integrationResponseOutput{
		ContentHandlingStrategy:     ir.ContentHandlingStrategy,
		IntegrationResponseID:       ir.IntegrationResponseID,
		IntegrationResponseKey:      ir.IntegrationResponseKey,
		ResponseParameters:          ir.ResponseParameters,
		ResponseTemplates:           ir.ResponseTemplates,
		TemplateSelectionExpression: ir.TemplateSelectionExpression,
	}
}

// apply copies the input's members onto ir.
func (in *integrationResponseInput) apply(ir *resource.IntegrationResponse) {
	ir.ContentHandlingStrategy = in.ContentHandlingStrategy
	ir.IntegrationResponseKey = in.IntegrationResponseKey
	ir.ResponseParameters = in.ResponseParameters
	ir.ResponseTemplates = in.ResponseTemplates
	ir.TemplateSelectionExpression = in.TemplateSelectionExpression
}

// integrationResponseFor returns integ's response with id, or the NotFoundException AWS answers.
func integrationResponseFor(integ *resource.Integration, id string) (*resource.IntegrationResponse, error) {
	for i := range integ.IntegrationResponses {
		if integ.IntegrationResponses[i].IntegrationResponseID == id {
			return &integ.IntegrationResponses[i], nil
		}
	}
	return nil, notFound("IntegrationResponse", "Invalid IntegrationResponse identifier specified %s", id)
}

// checkIntegrationResponse checks ir, a response of integ: a key that is $default or a /regex/, unique
// in the integration, and a template selection expression that parses. resource.Validate (through
// checkAPI) checks the rest, such as proxy integrations having no integration responses.
func checkIntegrationResponse(integ *resource.Integration, ir *resource.IntegrationResponse) error {
	if ir.IntegrationResponseKey == "" {
		return badRequest("integrationResponseKey is required: $default or a regular expression between slashes, such as /4\\d\\d/")
	}
	if _, err := selexpr.ParseKeyPattern(ir.IntegrationResponseKey); err != nil {
		msg := err.Error()
		var se *selexpr.SyntaxError
		if errors.As(err, &se) {
			msg = se.Msg
		}
		return badRequest("integrationResponseKey is not valid: %s", msg)
	}
	for _, other := range integ.IntegrationResponses {
		if other.IntegrationResponseKey == ir.IntegrationResponseKey && other.IntegrationResponseID != ir.IntegrationResponseID {
			return conflict("Integration response with key %s already exists for this integration", ir.IntegrationResponseKey)
		}
	}
	return checkExpression("templateSelectionExpression", ir.TemplateSelectionExpression)
}

// createIntegrationResponse is CreateIntegrationResponse.
func (s *server) createIntegrationResponse(w http.ResponseWriter, r *http.Request) error {
	var in integrationResponseInput
	if err := decode(r, &in); err != nil {
		return err
	}
	var out integrationResponseOutput
	err := s.changeAPI(r, func(_ *catalog.State, a *catalog.API) error {
		if isHTTP(&a.API) {
			return wsOnlyResources("Integration responses")
		}
		integ, err := integrationFor(a, r.PathValue("integrationId"))
		if err != nil {
			return err
		}
		ir := resource.IntegrationResponse{IntegrationResponseID: a.NewChildID()}
		in.apply(&ir)
		if err := checkIntegrationResponse(integ, &ir); err != nil {
			return err
		}
		integ.IntegrationResponses = append(integ.IntegrationResponses, ir)
		if err := checkAPI(&a.API); err != nil {
			return err
		}
		out = integrationResponseOutputOf(&integ.IntegrationResponses[len(integ.IntegrationResponses)-1])
		return nil
	})
	return respond(w, http.StatusCreated, out, err)
}

// getIntegrationResponses is GetIntegrationResponses.
func (s *server) getIntegrationResponses(w http.ResponseWriter, r *http.Request) error {
	var items []integrationResponseOutput
	err := s.readAPI(r, func(a *catalog.API) error {
		integ, err := integrationFor(a, r.PathValue("integrationId"))
		if err != nil {
			return err
		}
		for i := range integ.IntegrationResponses {
			items = append(items, integrationResponseOutputOf(&integ.IntegrationResponses[i]))
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeList(s, w, r, items)
	return nil
}

// getIntegrationResponse is GetIntegrationResponse.
func (s *server) getIntegrationResponse(w http.ResponseWriter, r *http.Request) error {
	var out integrationResponseOutput
	err := s.readAPI(r, func(a *catalog.API) error {
		integ, err := integrationFor(a, r.PathValue("integrationId"))
		if err != nil {
			return err
		}
		ir, err := integrationResponseFor(integ, r.PathValue("integrationResponseId"))
		if err != nil {
			return err
		}
		out = integrationResponseOutputOf(ir)
		return nil
	})
	return respond(w, http.StatusOK, out, err)
}

// updateIntegrationResponse is UpdateIntegrationResponse.
func (s *server) updateIntegrationResponse(w http.ResponseWriter, r *http.Request) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	var out integrationResponseOutput
	err = s.changeAPI(r, func(_ *catalog.State, a *catalog.API) error {
		integ, err := integrationFor(a, r.PathValue("integrationId"))
		if err != nil {
			return err
		}
		ir, err := integrationResponseFor(integ, r.PathValue("integrationResponseId"))
		if err != nil {
			return err
		}
		in := integrationResponseInput{
			ContentHandlingStrategy:     ir.ContentHandlingStrategy,
			IntegrationResponseKey:      ir.IntegrationResponseKey,
			ResponseParameters:          ir.ResponseParameters,
			ResponseTemplates:           ir.ResponseTemplates,
			TemplateSelectionExpression: ir.TemplateSelectionExpression,
		}
		if _, err := decodePatch(data, &in); err != nil {
			return err
		}
		next := *ir
		in.apply(&next)
		if err := checkIntegrationResponse(integ, &next); err != nil {
			return err
		}
		*ir = next
		if err := checkAPI(&a.API); err != nil {
			return err
		}
		out = integrationResponseOutputOf(ir)
		return nil
	})
	return respond(w, http.StatusOK, out, err)
}

// deleteIntegrationResponse is DeleteIntegrationResponse.
func (s *server) deleteIntegrationResponse(w http.ResponseWriter, r *http.Request) error {
	err := s.changeAPI(r, func(_ *catalog.State, a *catalog.API) error {
		integ, err := integrationFor(a, r.PathValue("integrationId"))
		if err != nil {
			return err
		}
		ir, err := integrationResponseFor(integ, r.PathValue("integrationResponseId"))
		if err != nil {
			return err
		}
		id := ir.IntegrationResponseID
		integ.IntegrationResponses = slices.DeleteFunc(integ.IntegrationResponses, func(ir resource.IntegrationResponse) bool { return ir.IntegrationResponseID == id })
		return nil
	})
	return respondEmpty(w, http.StatusNoContent, err)
}
