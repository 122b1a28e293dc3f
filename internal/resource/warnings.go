package resource

import "fmt"

// mutualTLSAdvice is AWS's page that tells users to disable the default endpoint of APIs served through a
// custom domain with mutual TLS.
const mutualTLSAdvice = "https://docs.aws.amazon.com/apigateway/latest/developerguide/rest-api-mutual-tls.html"

// MutualTLSWarnings lists every API mapped to a custom domain with mutualTlsAuthentication whose default
// endpoint is still enabled: clients reach the API there without any client certificate, so the domain's
// protection is only as strong as that endpoint. AWS documents the same bypass and tells users to set
// disableExecuteApiEndpoint (see mutualTLSAdvice). These are warnings, not errors: a configuration that
// deploys on AWS loads unchanged. Each names the API's disableExecuteApiEndpoint field.
func MutualTLSWarnings(b *Bundle) FieldErrors {
	index := make(map[string]int, len(b.APIs))
	for i, a := range b.APIs {
		index[a.APIID] = i
	}
	var out FieldErrors
	for _, d := range b.DomainNames {
		if d.MutualTLSAuthentication == nil {
			continue
		}
		warned := map[string]bool{}
		for _, m := range d.APIMappings {
			i, ok := index[m.APIID]
			if !ok || warned[m.APIID] || b.APIs[i].DisableExecuteAPIEndpoint {
				continue
			}
			warned[m.APIID] = true
			out = append(out, &FieldError{
				Path: FieldPath(IndexPath("apis", i), "disableExecuteApiEndpoint"),
				Message: fmt.Sprintf("API %s is mapped to %s, which requires mutual TLS, but its default endpoint is enabled "+
					"and serves clients without a client certificate; set disableExecuteApiEndpoint: true (as AWS advises: %s)",
					m.APIID, d.DomainName, mutualTLSAdvice),
			})
		}
	}
	return out
}
