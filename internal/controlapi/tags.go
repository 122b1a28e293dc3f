package controlapi

import (
	"maps"
	"net/http"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/catalog"
)

// Tags: TagResource, GetTags and UntagResource on the resources AWS lets WebSocket users tag by ARN:
//
//	arn:aws:apigateway:{region}::/apis/{apiId}
//	arn:aws:apigateway:{region}::/apis/{apiId}/stages/{stageName}
//	arn:aws:apigateway:{region}::/domainnames/{domainName}
//
// The ARN is one path segment, percent-encoded by the SDKs ('/' as %2F); ServeMux unescapes the segment
// into the resourceArn path value whole.
// https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/tags-resource-arn.html

// taggedResource is a resource found by its ARN: where its tags are kept and where it came from.
type taggedResource struct {
	tags   *map[string]string
	source catalog.Source
	what   string
}

// resourceByARN finds the resource arn names in state. An ARN that names nothing Switchboard holds — a
// malformed one, another region's, or a kind of resource that cannot be tagged here — is a
// NotFoundException, as for an unknown resource.
func (s *server) resourceByARN(state *catalog.State, arn string) (taggedResource, error) {
	unknown := notFound("Resource", "Invalid resource identifier specified %s", arn)
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] != "apigateway" ||
		parts[3] != s.cfg.Region || (parts[4] != "" && parts[4] != s.cfg.Account) {
		return taggedResource{}, unknown
	}
	segs := strings.Split(strings.TrimPrefix(parts[5], "/"), "/")
	if !strings.HasPrefix(parts[5], "/") {
		return taggedResource{}, unknown
	}
	switch {
	case len(segs) == 2 && segs[0] == "apis":
		a, err := s.apiFor(state, segs[1])
		if err != nil {
			return taggedResource{}, err
		}
		return taggedResource{tags: &a.Tags, source: a.Source, what: "API " + a.APIID}, nil
	case len(segs) == 4 && segs[0] == "apis" && segs[2] == "stages":
		a, err := s.apiFor(state, segs[1])
		if err != nil {
			return taggedResource{}, err
		}
		st, err := stageFor(a, segs[3])
		if err != nil {
			return taggedResource{}, err
		}
		return taggedResource{tags: &st.Tags, source: a.Source, what: "API " + a.APIID}, nil
	case len(segs) == 2 && segs[0] == "domainnames":
		d, err := domainNameFor(state, segs[1])
		if err != nil {
			return taggedResource{}, err
		}
		return taggedResource{tags: &d.Tags, source: d.Source, what: "Domain name " + d.DomainName.DomainName}, nil
	}
	return taggedResource{}, unknown
}

// tagResource is TagResource: POST /v2/tags/{resourceArn} {"tags":{…}} → 201 {}. The tags are added to
// the resource's, replacing the values of keys it already has.
func (s *server) tagResource(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Tags map[string]string `json:"tags"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	err := s.cfg.Catalog.Write(r.Context(), func(state *catalog.State) error {
		res, err := s.resourceByARN(state, r.PathValue("resourceArn"))
		if err != nil {
			return err
		}
		if err := fromConfigFile(res.source, res.what); err != nil {
			return err
		}
		tags := maps.Clone(*res.tags)
		if tags == nil {
			tags = make(map[string]string, len(in.Tags))
		}
		maps.Copy(tags, in.Tags)
		if err := checkAPITags(tags); err != nil {
			return err
		}
		if len(tags) == 0 {
			tags = nil
		}
		*res.tags = tags
		return nil
	})
	return respond(w, http.StatusCreated, struct{}{}, err)
}

// getTags is GetTags: GET /v2/tags/{resourceArn} → {"tags":{…}}.
func (s *server) getTags(w http.ResponseWriter, r *http.Request) error {
	var tags map[string]string
	err := s.readState(func(state *catalog.State) error {
		res, err := s.resourceByARN(state, r.PathValue("resourceArn"))
		if err != nil {
			return err
		}
		tags = maps.Clone(*res.tags)
		return nil
	})
	return respond(w, http.StatusOK, struct {
		Tags map[string]string `json:"tags"`
	}{nonNilMap(tags)}, err)
}

// untagResource is UntagResource: DELETE /v2/tags/{resourceArn}?tagKeys=a&tagKeys=b → 204. Keys the
// resource does not have are ignored.
func (s *server) untagResource(w http.ResponseWriter, r *http.Request) error {
	keys, ok := r.URL.Query()["tagKeys"]
	if !ok {
		return badRequest("tagKeys is required: the keys of the tags to remove")
	}
	err := s.cfg.Catalog.Write(r.Context(), func(state *catalog.State) error {
		res, err := s.resourceByARN(state, r.PathValue("resourceArn"))
		if err != nil {
			return err
		}
		if err := fromConfigFile(res.source, res.what); err != nil {
			return err
		}
		tags := maps.Clone(*res.tags)
		for _, k := range keys {
			delete(tags, k)
		}
		if len(tags) == 0 {
			tags = nil
		}
		*res.tags = tags
		return nil
	})
	return respondEmpty(w, http.StatusNoContent, err)
}
