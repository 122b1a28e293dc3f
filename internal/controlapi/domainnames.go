package controlapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// Custom domain names and their API mappings: CreateDomainName, GetDomainNames, GetDomainName,
// UpdateDomainName, DeleteDomainName, CreateApiMapping, GetApiMappings, GetApiMapping, UpdateApiMapping
// and DeleteApiMapping.
// https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/domainnames.html
// https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-mappings.html
//
// A domain name created here is served by the gateway itself, on its data-plane listener, with the
// gateway's default certificate: certificateArn (an ACM certificate on AWS) is kept and echoed but no
// certificate is fetched for it. A domain that needs its own certificate, an ACME certificate or mutual
// TLS is declared in the configuration file, whose certificateFile / privateKeyFile /
// automaticCertificate members the control plane has no counterpart for. Because the gateway is the
// endpoint, there is no separate regional host to point DNS at: apiGatewayDomainName repeats the domain
// name (point its DNS at the gateway), and hostedZoneId is left out.
//
// WebSocket APIs take REGIONAL domain names with the TLS_1_2 security policy only; API mapping keys are a
// single path segment of letters, digits and $-_.+!*'(), at most 300 characters, one mapping per key
// (the empty key included).

// apiMappingSelectionExpression is the only API mapping selection expression AWS reports.
const apiMappingSelectionExpression = "$request.basepath"

// routingModeAPIMappingOnly is the only routing mode Switchboard serves: routing rules are not supported.
const routingModeAPIMappingOnly = "API_MAPPING_ONLY"

// domainNameConfigurationIn is the DomainNameConfiguration input shape. The SDKs share one shape for input
// and output, so a client that sends back what it read sends the output-only members too; they are
// accepted and ignored.
type domainNameConfigurationIn struct {
	APIGatewayDomainName                string          `json:"apiGatewayDomainName"`
	CertificateArn                      string          `json:"certificateArn"`
	CertificateName                     string          `json:"certificateName"`
	CertificateUploadDate               json.RawMessage `json:"certificateUploadDate"`
	DomainNameStatus                    string          `json:"domainNameStatus"`
	DomainNameStatusMessage             string          `json:"domainNameStatusMessage"`
	EndpointType                        string          `json:"endpointType"`
	HostedZoneID                        string          `json:"hostedZoneId"`
	IPAddressType                       string          `json:"ipAddressType"`
	OwnershipVerificationCertificateArn string          `json:"ownershipVerificationCertificateArn"`
	SecurityPolicy                      string          `json:"securityPolicy"`
}

// mutualTLSIn is the MutualTlsAuthenticationInput shape.
type mutualTLSIn struct {
	TruststoreURI     string `json:"truststoreUri"`
	TruststoreVersion string `json:"truststoreVersion"`
}

// domainNameIn is the CreateDomainName input shape; UpdateDomainName takes the same without domainName
// and tags.
type domainNameIn struct {
	DomainName               string                      `json:"domainName,omitempty"`
	DomainNameConfigurations []domainNameConfigurationIn `json:"domainNameConfigurations"`
	MutualTLSAuthentication  *mutualTLSIn                `json:"mutualTlsAuthentication"`
	RoutingMode              string                      `json:"routingMode"`
	Tags                     map[string]string           `json:"tags,omitempty"`
}

// updateDomainNameIn is the UpdateDomainName input shape.
type updateDomainNameIn struct {
	DomainNameConfigurations []domainNameConfigurationIn `json:"domainNameConfigurations"`
	MutualTLSAuthentication  *mutualTLSIn                `json:"mutualTlsAuthentication"`
	RoutingMode              string                      `json:"routingMode"`
}

// domainNameConfigurationOut is the DomainNameConfiguration output shape.
type domainNameConfigurationOut struct {
	APIGatewayDomainName                string `json:"apiGatewayDomainName"`
	CertificateArn                      string `json:"certificateArn,omitempty"`
	CertificateName                     string `json:"certificateName,omitempty"`
	DomainNameStatus                    string `json:"domainNameStatus"`
	EndpointType                        string `json:"endpointType"`
	IPAddressType                       string `json:"ipAddressType"`
	OwnershipVerificationCertificateArn string `json:"ownershipVerificationCertificateArn,omitempty"`
	SecurityPolicy                      string `json:"securityPolicy"`
}

// mutualTLSOut is the MutualTlsAuthentication output shape.
type mutualTLSOut struct {
	TruststoreURI     string `json:"truststoreUri"`
	TruststoreVersion string `json:"truststoreVersion,omitempty"`
}

// domainNameOut is the DomainName output shape. As in the CLI examples (create-domain-name,
// get-domain-name, get-domain-names, update-domain-name), only GetDomainName shows empty tags as {}; the
// other answers show tags only when there are some.
type domainNameOut struct {
	APIMappingSelectionExpression string                       `json:"apiMappingSelectionExpression"`
	DomainName                    string                       `json:"domainName"`
	DomainNameArn                 string                       `json:"domainNameArn"`
	DomainNameConfigurations      []domainNameConfigurationOut `json:"domainNameConfigurations"`
	MutualTLSAuthentication       *mutualTLSOut                `json:"mutualTlsAuthentication,omitempty"`
	RoutingMode                   string                       `json:"routingMode"`
	Tags                          map[string]string            `json:"tags,omitzero"`
}

// domainNameARN is the ARN AWS gives a domain name, the one TagResource takes.
func (s *server) domainNameARN(name string) string {
	return fmt.Sprintf("arn:aws:apigateway:%s::/domainnames/%s", s.cfg.Region, name)
}

// domainNameView renders d as AWS does. A domain from the configuration file shows its AWS members only
// (not its certificate files), with AWS's defaults for what it leaves unset.
func (s *server) domainNameView(d *catalog.DomainName) domainNameOut {
	name := d.DomainName.DomainName
	out := domainNameOut{
		APIMappingSelectionExpression: apiMappingSelectionExpression,
		DomainName:                    name,
		DomainNameArn:                 s.domainNameARN(name),
		RoutingMode:                   routingModeAPIMappingOnly,
		Tags:                          nonNilMap(d.Tags),
	}
	configs := d.DomainNameConfigurations
	if len(configs) == 0 {
		configs = []resource.DomainNameConfiguration{{}}
	}
	for _, c := range configs {
		c = withDomainDefaults(c)
		out.DomainNameConfigurations = append(out.DomainNameConfigurations, domainNameConfigurationOut{
			APIGatewayDomainName:                name,
			CertificateArn:                      c.CertificateArn,
			CertificateName:                     c.CertificateName,
			DomainNameStatus:                    "AVAILABLE",
			EndpointType:                        c.EndpointType,
			IPAddressType:                       c.IPAddressType,
			OwnershipVerificationCertificateArn: c.OwnershipVerificationCertificateARN,
			SecurityPolicy:                      c.SecurityPolicy,
		})
	}
	if m := d.MutualTLSAuthentication; m != nil {
		out.MutualTLSAuthentication = &mutualTLSOut{TruststoreURI: m.TruststoreURI, TruststoreVersion: m.TruststoreVersion}
	}
	return out
}

// withDomainDefaults fills in what AWS fills in on a domain name configuration.
func withDomainDefaults(c resource.DomainNameConfiguration) resource.DomainNameConfiguration {
	if c.EndpointType == "" {
		c.EndpointType = "REGIONAL"
	}
	if c.SecurityPolicy == "" {
		c.SecurityPolicy = "TLS_1_2"
	}
	if c.IPAddressType == "" {
		c.IPAddressType = "ipv4"
	}
	return c
}

// domainNameConfigurations turns the input configurations into the stored form with AWS's defaults; an
// empty list gets one default (REGIONAL, TLS_1_2) configuration.
func domainNameConfigurations(in []domainNameConfigurationIn) ([]resource.DomainNameConfiguration, error) {
	if len(in) == 0 {
		in = []domainNameConfigurationIn{{}}
	}
	out := make([]resource.DomainNameConfiguration, 0, len(in))
	for _, c := range in {
		switch c.IPAddressType {
		case "", "ipv4", "dualstack":
		default:
			return nil, badRequest("ipAddressType %q is not supported; allowed values are ipv4, dualstack", c.IPAddressType)
		}
		out = append(out, withDomainDefaults(resource.DomainNameConfiguration{
			EndpointType:                        c.EndpointType,
			SecurityPolicy:                      c.SecurityPolicy,
			CertificateArn:                      c.CertificateArn,
			CertificateName:                     c.CertificateName,
			IPAddressType:                       c.IPAddressType,
			OwnershipVerificationCertificateARN: c.OwnershipVerificationCertificateArn,
		}))
	}
	return out, nil
}

// checkDomainOptions refuses what a domain name created through the control plane cannot have.
func checkDomainOptions(mtls *mutualTLSIn, routingMode string) error {
	if mtls != nil {
		return badRequest("mutualTlsAuthentication is not supported for domain names created through the control plane: mutual TLS needs the domain's own certificate and key, which only the configuration file gives (certificateFile, privateKeyFile)")
	}
	if routingMode != "" && routingMode != routingModeAPIMappingOnly {
		return badRequest("routingMode %s is not supported; Switchboard routes custom domains by API mappings only (API_MAPPING_ONLY)", routingMode)
	}
	return nil
}

// checkDomainName applies resource.Validate's domain name rules (a valid host name, a wildcard allowed as
// the first label; REGIONAL; TLS_1_2; one configuration) to d.
func checkDomainName(d resource.DomainName) error {
	d.APIMappings = nil
	return fieldProblems(resource.Validate(&resource.Bundle{DomainNames: []resource.DomainName{d}}), "domainNames[0]")
}

// findDomainName returns the domain name called name (host names are case-insensitive), or nil.
func findDomainName(state *catalog.State, name string) *catalog.DomainName {
	for _, d := range state.DomainNames {
		if strings.EqualFold(d.DomainName.DomainName, name) {
			return d
		}
	}
	return nil
}

// domainNameFor returns the domain name called name, or the NotFoundException AWS answers.
func domainNameFor(state *catalog.State, name string) (*catalog.DomainName, error) {
	if d := findDomainName(state, name); d != nil {
		return d, nil
	}
	return nil, notFound("DomainName", "The domain name resource specified in the request was not found.")
}

// createDomainName is CreateDomainName: POST /v2/domainnames → 201. Host names are case-insensitive: the
// name is kept in lower case, and a name that differs from an existing one only in case is a conflict.
func (s *server) createDomainName(w http.ResponseWriter, r *http.Request) error {
	var in domainNameIn
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.DomainName == "" {
		return badRequest("domainName is required")
	}
	if err := checkDomainOptions(in.MutualTLSAuthentication, in.RoutingMode); err != nil {
		return err
	}
	configs, err := domainNameConfigurations(in.DomainNameConfigurations)
	if err != nil {
		return err
	}
	if err := checkAPITags(in.Tags); err != nil {
		return err
	}
	d := resource.DomainName{
		DomainName:               strings.ToLower(in.DomainName),
		DomainNameConfigurations: configs,
		Tags:                     in.Tags,
	}
	if err := checkDomainName(d); err != nil {
		return err
	}
	var out domainNameOut
	err = s.cfg.Catalog.Write(r.Context(), func(state *catalog.State) error {
		if findDomainName(state, d.DomainName) != nil {
			return conflict("Domain name %s already exists", d.DomainName)
		}
		rec := &catalog.DomainName{DomainName: d, Source: catalog.SourceAPI}
		state.DomainNames = append(state.DomainNames, rec)
		out = s.domainNameView(rec)
		out.Tags = tagsIfAny(rec.Tags)
		return nil
	})
	return respond(w, http.StatusCreated, out, err)
}

// getDomainNames is GetDomainNames: GET /v2/domainnames.
func (s *server) getDomainNames(w http.ResponseWriter, r *http.Request) error {
	var items []domainNameOut
	s.cfg.Catalog.Read(func(state *catalog.State) {
		for _, d := range state.DomainNames {
			item := s.domainNameView(d)
			item.Tags = tagsIfAny(d.Tags)
			items = append(items, item)
		}
	})
	writeList(s, w, r, items)
	return nil
}

// getDomainName is GetDomainName: GET /v2/domainnames/{domainName}.
func (s *server) getDomainName(w http.ResponseWriter, r *http.Request) error {
	var out domainNameOut
	err := s.readState(func(state *catalog.State) error {
		d, err := domainNameFor(state, r.PathValue("domainName"))
		if err != nil {
			return err
		}
		out = s.domainNameView(d)
		return nil
	})
	return respond(w, http.StatusOK, out, err)
}

// updateDomainName is UpdateDomainName: PATCH /v2/domainnames/{domainName}. domainNameConfigurations,
// when present, replaces the configurations whole.
func (s *server) updateDomainName(w http.ResponseWriter, r *http.Request) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	var in updateDomainNameIn
	present, err := decodePatch(data, &in)
	if err != nil {
		return err
	}
	if err := checkDomainOptions(in.MutualTLSAuthentication, in.RoutingMode); err != nil {
		return err
	}
	var out domainNameOut
	err = s.cfg.Catalog.Write(r.Context(), func(state *catalog.State) error {
		d, err := domainNameFor(state, r.PathValue("domainName"))
		if err != nil {
			return err
		}
		if err := fromConfigFile(d.Source, "Domain name "+d.DomainName.DomainName); err != nil {
			return err
		}
		if present["domainNameConfigurations"] {
			configs, err := domainNameConfigurations(in.DomainNameConfigurations)
			if err != nil {
				return err
			}
			next := d.DomainName
			next.DomainNameConfigurations = configs
			if err := checkDomainName(next); err != nil {
				return err
			}
			d.DomainNameConfigurations = configs
		}
		out = s.domainNameView(d)
		out.Tags = tagsIfAny(d.Tags)
		return nil
	})
	return respond(w, http.StatusOK, out, err)
}

// deleteDomainName is DeleteDomainName: DELETE /v2/domainnames/{domainName} → 204, with its API
// mappings.
func (s *server) deleteDomainName(w http.ResponseWriter, r *http.Request) error {
	err := s.cfg.Catalog.Write(r.Context(), func(state *catalog.State) error {
		d, err := domainNameFor(state, r.PathValue("domainName"))
		if err != nil {
			return err
		}
		if err := fromConfigFile(d.Source, "Domain name "+d.DomainName.DomainName); err != nil {
			return err
		}
		kept := state.DomainNames[:0]
		for _, other := range state.DomainNames {
			if other != d {
				kept = append(kept, other)
			}
		}
		state.DomainNames = kept
		return nil
	})
	return respondEmpty(w, http.StatusNoContent, err)
}

// apiMappingIn is the CreateApiMapping and UpdateApiMapping input shape.
type apiMappingIn struct {
	APIID         string `json:"apiId"`
	APIMappingKey string `json:"apiMappingKey"`
	Stage         string `json:"stage"`
}

// apiMappingOut is the ApiMapping output shape. apiMappingKey is always present: "" is the mapping for
// the domain's root.
type apiMappingOut struct {
	APIID         string `json:"apiId"`
	APIMappingID  string `json:"apiMappingId"`
	APIMappingKey string `json:"apiMappingKey"`
	Stage         string `json:"stage"`
}

func apiMappingView(m *resource.APIMapping) apiMappingOut {
	return apiMappingOut{APIID: m.APIID, APIMappingID: m.APIMappingID, APIMappingKey: m.APIMappingKey, Stage: m.Stage}
}

// apiMappingFor returns d's API mapping with id, or the NotFoundException AWS answers.
func apiMappingFor(d *catalog.DomainName, id string) (*resource.APIMapping, error) {
	for i := range d.APIMappings {
		if d.APIMappings[i].APIMappingID == id {
			return &d.APIMappings[i], nil
		}
	}
	return nil, notFound("ApiMapping", "Invalid ApiMapping identifier specified %s", id)
}

// mixedDomainMessage is AWS's BadRequestException text for a mapping that would put WebSocket and
// HTTP APIs on one domain (API Gateway's answer to such a base path mapping; the developer guide's
// rule: "You can't map WebSocket APIs to the same custom domain name as an HTTP API or REST API").
const mixedDomainMessage = "Mixing of REST APIs and HTTP APIs on the same domain name can only be accomplished through API Gateway's V2 DomainName interface. Currently, WebSocket APIs can only be attached to a domain name with other WebSocket APIs."

// checkAPIMapping checks m, a mapping of d, with AWS's rules: the API and its stage exist, the key is
// valid for the API's kind (several levels for HTTP APIs only), the domain's other mappings are of
// the same kind, and no other mapping of d has the same key.
func (s *server) checkAPIMapping(state *catalog.State, d *catalog.DomainName, m resource.APIMapping) error {
	switch {
	case m.APIID == "":
		return badRequest("apiId is required")
	case m.Stage == "":
		return badRequest("stage is required")
	}
	// The key first, then the API and its stage, in AWS's order; a stage the API does not have is a bad
	// request on AWS, not a missing resource. The key's rules depend on the API's kind, so a known API
	// goes into the scratch bundle with its protocol.
	a, apiErr := s.apiFor(state, m.APIID)
	scratch := &resource.Bundle{DomainNames: []resource.DomainName{{DomainName: "example.com", APIMappings: []resource.APIMapping{m}}}}
	if apiErr == nil {
		scratch.APIs = []resource.API{{APIID: m.APIID, ProtocolType: protocolOf(&a.API)}}
	}
	if err := fieldProblems(resource.Validate(scratch), "domainNames[0].apiMappings[0].apiMappingKey"); err != nil {
		return err
	}
	if apiErr != nil {
		return apiErr
	}
	if _, err := stageFor(a, m.Stage); err != nil {
		return badRequest("Invalid stage identifier specified")
	}
	for _, other := range d.APIMappings {
		if other.APIMappingID == m.APIMappingID {
			continue
		}
		if oa := state.API(other.APIID); oa != nil && isHTTP(&oa.API) != isHTTP(&a.API) {
			return badRequest("%s", mixedDomainMessage)
		}
	}
	for _, other := range d.APIMappings {
		if other.APIMappingID == m.APIMappingID || other.APIMappingKey != m.APIMappingKey {
			continue
		}
		if m.APIMappingKey == "" {
			return conflict("Domain name %s already has an API mapping with an empty key (%s)", d.DomainName.DomainName, other.APIMappingID)
		}
		return conflict("Domain name %s already has an API mapping with key %s (%s)", d.DomainName.DomainName, m.APIMappingKey, other.APIMappingID)
	}
	return nil
}

// protocolOf is a's protocolType, WEBSOCKET when unset.
func protocolOf(a *resource.API) string {
	if isHTTP(a) {
		return resource.ProtocolHTTP
	}
	return resource.ProtocolWebSocket
}

// createAPIMapping is CreateApiMapping: POST /v2/domainnames/{domainName}/apimappings → 201, e.g.
// aws apigatewayv2 create-api-mapping --domain-name exanub.es --api-mapping-key chat --api-id X --stage dev.
func (s *server) createAPIMapping(w http.ResponseWriter, r *http.Request) error {
	var in apiMappingIn
	if err := decode(r, &in); err != nil {
		return err
	}
	var out apiMappingOut
	err := s.cfg.Catalog.Write(r.Context(), func(state *catalog.State) error {
		d, err := domainNameFor(state, r.PathValue("domainName"))
		if err != nil {
			return err
		}
		if err := fromConfigFile(d.Source, "Domain name "+d.DomainName.DomainName); err != nil {
			return err
		}
		m := resource.APIMapping{APIMappingID: newAPIMappingID(d), APIID: in.APIID, Stage: in.Stage, APIMappingKey: in.APIMappingKey}
		if err := s.checkAPIMapping(state, d, m); err != nil {
			return err
		}
		d.APIMappings = append(d.APIMappings, m)
		out = apiMappingView(&m)
		return nil
	})
	return respond(w, http.StatusCreated, out, err)
}

// newAPIMappingID returns a new API mapping id, 6 characters of [a-z0-9] like AWS's, unused in d.
func newAPIMappingID(d *catalog.DomainName) string {
	for {
		id := catalog.NewID(6)
		if _, err := apiMappingFor(d, id); err != nil {
			return id
		}
	}
}

// getAPIMappings is GetApiMappings: GET /v2/domainnames/{domainName}/apimappings.
func (s *server) getAPIMappings(w http.ResponseWriter, r *http.Request) error {
	var items []apiMappingOut
	err := s.readState(func(state *catalog.State) error {
		d, err := domainNameFor(state, r.PathValue("domainName"))
		if err != nil {
			return err
		}
		for i := range d.APIMappings {
			items = append(items, apiMappingView(&d.APIMappings[i]))
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeList(s, w, r, items)
	return nil
}

// getAPIMapping is GetApiMapping: GET /v2/domainnames/{domainName}/apimappings/{apiMappingId}.
func (s *server) getAPIMapping(w http.ResponseWriter, r *http.Request) error {
	var out apiMappingOut
	err := s.readState(func(state *catalog.State) error {
		d, err := domainNameFor(state, r.PathValue("domainName"))
		if err != nil {
			return err
		}
		m, err := apiMappingFor(d, r.PathValue("apiMappingId"))
		if err != nil {
			return err
		}
		out = apiMappingView(m)
		return nil
	})
	return respond(w, http.StatusOK, out, err)
}

// updateAPIMapping is UpdateApiMapping: PATCH /v2/domainnames/{domainName}/apimappings/{apiMappingId}.
// apiId, stage and apiMappingKey may change, under the same rules as on create.
func (s *server) updateAPIMapping(w http.ResponseWriter, r *http.Request) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	var out apiMappingOut
	err = s.cfg.Catalog.Write(r.Context(), func(state *catalog.State) error {
		d, err := domainNameFor(state, r.PathValue("domainName"))
		if err != nil {
			return err
		}
		m, err := apiMappingFor(d, r.PathValue("apiMappingId"))
		if err != nil {
			return err
		}
		if err := fromConfigFile(d.Source, "Domain name "+d.DomainName.DomainName); err != nil {
			return err
		}
		in := apiMappingIn{APIID: m.APIID, APIMappingKey: m.APIMappingKey, Stage: m.Stage}
		if _, err := decodePatch(data, &in); err != nil {
			return err
		}
		next := resource.APIMapping{APIMappingID: m.APIMappingID, APIID: in.APIID, Stage: in.Stage, APIMappingKey: in.APIMappingKey}
		if err := s.checkAPIMapping(state, d, next); err != nil {
			return err
		}
		*m = next
		out = apiMappingView(m)
		return nil
	})
	return respond(w, http.StatusOK, out, err)
}

// deleteAPIMapping is DeleteApiMapping: DELETE /v2/domainnames/{domainName}/apimappings/{apiMappingId}
// → 204.
func (s *server) deleteAPIMapping(w http.ResponseWriter, r *http.Request) error {
	err := s.cfg.Catalog.Write(r.Context(), func(state *catalog.State) error {
		d, err := domainNameFor(state, r.PathValue("domainName"))
		if err != nil {
			return err
		}
		m, err := apiMappingFor(d, r.PathValue("apiMappingId"))
		if err != nil {
			return err
		}
		if err := fromConfigFile(d.Source, "Domain name "+d.DomainName.DomainName); err != nil {
			return err
		}
		id := m.APIMappingID
		kept := d.APIMappings[:0]
		for _, other := range d.APIMappings {
			if other.APIMappingID != id {
				kept = append(kept, other)
			}
		}
		d.APIMappings = kept
		return nil
	})
	return respondEmpty(w, http.StatusNoContent, err)
}
