package gateway

import (
	"errors"
	"fmt"

	"github.com/switchboard-gw/switchboard/internal/resource"
)

// MergeTemplates returns a copy of base with the templates' APIs, functions, domain names, API keys and
// usage plans added: what New serves for Options.Templates, and what a reload of the config file and
// templates must serve. An API id, function name, domain name, key or plan id declared twice is an
// ErrConflict naming both declarations.
func MergeTemplates(base *resource.Bundle, templates []Template) (*resource.Bundle, error) {
	merged := *base
	merged.APIs = append([]resource.API(nil), base.APIs...)
	merged.Functions = append([]resource.Function(nil), base.Functions...)
	merged.DomainNames = append([]resource.DomainName(nil), base.DomainNames...)
	merged.APIKeys = append([]resource.APIKey(nil), base.APIKeys...)
	merged.UsagePlans = append([]resource.UsagePlan(nil), base.UsagePlans...)
	const configName = "the config file"
	apis, fns, domains := map[string]string{}, map[string]string{}, map[string]string{}
	keys, plans := map[string]string{}, map[string]string{}
	for _, k := range base.APIKeys {
		keys[k.ID] = configName
	}
	for _, p := range base.UsagePlans {
		plans[p.ID] = configName
	}
	for _, a := range base.APIs {
		apis[a.APIID] = configName
	}
	for _, f := range base.Functions {
		fns[f.FunctionName] = configName
	}
	for _, d := range base.DomainNames {
		domains[d.DomainName] = configName
	}
	var errs []error
	claim := func(seen map[string]string, what, key, by string) bool {
		if first, ok := seen[key]; ok {
			errs = append(errs, fmt.Errorf("%w: %s declares %s %q, which %s declares too", ErrConflict, by, what, key, first))
			return false
		}
		seen[key] = by
		return true
	}
	for _, t := range templates {
		if t.Bundle == nil {
			continue
		}
		for _, a := range t.Bundle.APIs {
			if claim(apis, "API id", a.APIID, t.Name) {
				merged.APIs = append(merged.APIs, a)
			}
		}
		for _, f := range t.Bundle.Functions {
			if claim(fns, "function", f.FunctionName, t.Name) {
				merged.Functions = append(merged.Functions, f)
			}
		}
		for _, d := range t.Bundle.DomainNames {
			if claim(domains, "domain name", d.DomainName, t.Name) {
				merged.DomainNames = append(merged.DomainNames, d)
			}
		}
		for _, k := range t.Bundle.APIKeys {
			if claim(keys, "API key id", k.ID, t.Name) {
				merged.APIKeys = append(merged.APIKeys, k)
			}
		}
		for _, p := range t.Bundle.UsagePlans {
			if claim(plans, "usage plan id", p.ID, t.Name) {
				merged.UsagePlans = append(merged.UsagePlans, p)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &merged, nil
}

// CheckSupported reports, as resource.FieldErrors, the integrations of b that this build cannot run, so
// that a caller can locate them in the file b came from before New merges it with the others.
func CheckSupported(b *resource.Bundle) error { return checkSupported(b) }
