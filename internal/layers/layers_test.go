package layers

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/switchboard-gw/switchboard/"

// deps returns, for every package of the module, its transitive imports within the module.
func deps(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}:{{join .Deps " "}}`, "github.com/switchboard-gw/switchboard/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, list, _ := strings.Cut(line, ":")
		pkg = strings.TrimPrefix(pkg, mod)
		for _, d := range strings.Fields(list) {
			if strings.HasPrefix(d, mod) {
				m[pkg] = append(m[pkg], strings.TrimPrefix(d, mod))
			}
		}
		if _, ok := m[pkg]; !ok {
			m[pkg] = nil
		}
	}
	return m
}

func TestImportRules(t *testing.T) {
	all := deps(t)
	leaves := []string{"internal/resource", "internal/selexpr", "internal/vtl", "internal/schema", "internal/proxyevent", "internal/wsconn",
		"internal/awserr", "internal/awsid", "internal/cluster", "internal/lambda", "internal/lambda/runtimeapi",
		"internal/localca", "internal/sigv4", "internal/authorizer/policy", "internal/certs", "internal/metrics",
		"internal/parammap", "internal/jwtauth", "internal/loopbackport", "internal/racebuild", "internal/jsonscan"}
	concrete := []string{"internal/cluster/membus", "internal/cluster/natsbus", "internal/cluster/membership", "internal/integration/httpbackend", "internal/integration/mock",
		"internal/integration/awsproxy", "internal/integration/awsservice", "internal/lambda/awsinvoke", "internal/lambda/localinvoke", "internal/acme",
		"internal/catalog/natskv", "internal/authorizer/usageplan/natsusage"}
	controlSide := []string{"internal/configfile", "internal/cfntemplate", "internal/catalog", "internal/catalog/natskv", "internal/controlapi", "internal/openapi"}
	dataPlane := []string{"internal/edge", "internal/httpapi", "internal/dispatch", "internal/wsconn", "internal/registry",
		"internal/mgmtapi", "internal/integration", "internal/integration/httpbackend", "internal/integration/mock",
		"internal/integration/awsproxy", "internal/integration/awsservice", "internal/lambda/awsinvoke", "internal/lambda/localinvoke"}
	// The composition root, the harnesses for tests (around it, and embedded NATS servers), and programs
	// may know everything.
	wiring := map[string]bool{"internal/gateway": true, "internal/gatewaytest": true, "internal/cluster/natsbus/natsbustest": true}

	type rule struct {
		name      string
		pkgs      []string
		forbidden func(dep string) bool
	}
	rules := []rule{
		// jsonscan (JSON's tokens, importing nothing internal itself) is the one package leaves share: vtl
		// and schema each decoded JSON strings with a copy of their own, and both copies lost the
		// character after an unpaired surrogate escape.
		{"leaves import nothing internal but jsonscan", leaves, func(d string) bool { return d != "internal/jsonscan" }},
		{"snapshot imports only the model, expressions, templates, schemas and parameter mappings", []string{"internal/snapshot"}, func(d string) bool {
			return d != "internal/resource" && d != "internal/selexpr" && d != "internal/vtl" && d != "internal/schema" && d != "internal/parammap" && d != "internal/jsonscan"
		}},
		{"registry never imports edge or wsconn", []string{"internal/registry"}, func(d string) bool {
			return d == "internal/edge" || d == "internal/wsconn"
		}},
		{"the data plane never imports the control side", dataPlane, func(d string) bool { return contains(controlSide, d) }},
		{"the control side never imports the data plane", controlSide, func(d string) bool { return contains(dataPlane, d) }},
	}
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			for _, p := range r.pkgs {
				ds, ok := all[p]
				if !ok {
					t.Fatalf("package %s not found", p)
				}
				for _, d := range ds {
					if r.forbidden(d) && !strings.HasPrefix(d, p+"/") {
						t.Errorf("%s imports %s", p, d)
					}
				}
			}
		})
	}
	t.Run("only the composition root imports concrete implementations", func(t *testing.T) {
		for p, ds := range all {
			if wiring[p] || strings.HasPrefix(p, "cmd/") || strings.HasPrefix(p, "examples/") || contains(concrete, p) {
				continue
			}
			for _, d := range ds {
				if contains(concrete, d) {
					t.Errorf("%s imports %s; only internal/gateway may", p, d)
				}
			}
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
