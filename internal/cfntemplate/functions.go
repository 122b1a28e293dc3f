package cfntemplate

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/switchboard-gw/switchboard/internal/lambda"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// Runtimes a local function can have, by how its handler is found.
var (
	nodeRuntimes   = []string{"nodejs18.x", "nodejs20.x", "nodejs22.x"}
	pythonRuntimes = []string{"python3.9", "python3.10", "python3.11", "python3.12", "python3.13"}
	// Custom runtimes run CodeUri/bootstrap; go1.x runs the executable named by Handler.
	customRuntimes = []string{"provided", "provided.al2", "provided.al2023"}
)

const runtimeList = "nodejs18.x, nodejs20.x, nodejs22.x, python3.9 to python3.13, provided, provided.al2, provided.al2023 and go1.x"

// functionNotApplied says why a function property has no effect locally.
var functionNotApplied = map[string]string{
	"Policies":      "IAM is not enforced locally",
	"Role":          "IAM is not enforced locally",
	"Layers":        "layers are not added to local functions",
	"Architectures": "functions run on this machine's architecture",
}

// function converts an AWS::Serverless::Function or AWS::Lambda::Function into a local function.
func (bd *builder) function(r *res, p *props) {
	e := bd.e
	name, err := e.physical(r.node, r)
	p.used["FunctionName"] = true
	if err != nil {
		e.addErr(err, r.node, p.where)
		return
	}
	fn := resource.Function{
		FunctionName:                 name,
		Runtime:                      p.str("Runtime"),
		Timeout:                      p.integer("Timeout"),
		MemorySize:                   p.integer("MemorySize"),
		ReservedConcurrentExecutions: p.integer("ReservedConcurrentExecutions"),
	}
	handler := p.str("Handler")
	if p.str("PackageType") == "Image" {
		bd.cannotRun(r, p, name, "PackageType", "container image functions cannot run locally without Docker; use a zip (directory) function")
		return
	}
	if env := p.sub("Environment"); env != nil {
		fn.Environment = env.strMap("Variables")
		env.finish(r.typ, nil)
	}
	codeKey, dir, cannot := bd.codeDirectory(r, p)
	if cannot != "" {
		bd.cannotRun(r, p, name, codeKey, cannot)
		return
	}
	if p.bad {
		return
	}
	if fn.Runtime == "" {
		p.used["Runtime"] = true
		p.fail("Runtime", "is required; Switchboard runs %s", runtimeList)
		return
	}
	fn.CodeURI = dir
	switch {
	case slices.Contains(nodeRuntimes, fn.Runtime):
		fn.Handler = handler
		bd.checkNodeHandler(p, dir, handler)
	case slices.Contains(pythonRuntimes, fn.Runtime):
		fn.Handler = handler
		bd.checkPythonHandler(p, dir, handler)
	case slices.Contains(customRuntimes, fn.Runtime):
		fn.Handler = filepath.Join(dir, "bootstrap")
		bd.checkExecutable(p, codeKey, fn.Handler, "a custom runtime runs the executable bootstrap in its code directory; build it there first (for Go: GOOS=linux go build -o bootstrap .), or load .aws-sam/build/template.yaml after sam build")
	case fn.Runtime == "go1.x":
		if handler == "" {
			p.fail("Handler", "is required: the name of the Go executable in the code directory")
			return
		}
		fn.Handler = filepath.Join(dir, handler)
		bd.checkExecutable(p, "Handler", fn.Handler, "go1.x runs the executable named by Handler in the code directory")
	default:
		bd.cannotRun(r, p, name, "Runtime", fmt.Sprintf("runtime %q cannot run locally; Switchboard runs %s", fn.Runtime, runtimeList))
		return
	}
	if r.typ == typeSAMFunction {
		bd.events(r, p, name)
	}
	ignored := map[string]string{}
	for _, k := range p.vals.keys {
		if !p.used[k] {
			why, ok := functionNotApplied[k]
			if !ok {
				why = "no effect on a local function"
			}
			ignored[k] = why
		}
	}
	if !p.finish(r.typ, ignored) {
		return
	}
	bd.at(resource.IndexPath("functions", len(bd.b.Functions)), r)
	bd.b.Functions = append(bd.b.Functions, fn)
}

// codeDirectory finds the function's code on disk: SAM's CodeUri, or the CDK asset that the resource's
// aws:asset:path metadata names. It returns the property to report problems at and the absolute
// directory, or why the code cannot run locally at all.
func (bd *builder) codeDirectory(r *res, p *props) (key, dir, cannot string) {
	e := bd.e
	var rel string
	switch r.typ {
	case typeSAMFunction:
		key = "CodeUri"
		if p.has("InlineCode") {
			p.used["InlineCode"] = true
			return "InlineCode", "", "inline code is not supported yet; put the code in a directory and point CodeUri at it"
		}
		v, ok := p.get("CodeUri")
		if !ok {
			p.fail("CodeUri", "is required: the directory that holds the function's code, relative to the template")
			return key, "", ""
		}
		s, isStr := v.(string)
		if !isStr {
			return key, "", "CodeUri points at S3; Switchboard runs code from a local directory: write CodeUri as the directory, relative to the template"
		}
		if strings.HasPrefix(s, "s3://") {
			return key, "", s + " is in S3; Switchboard runs code from a local directory: write CodeUri as the directory, relative to the template"
		}
		rel = s
	case typeLambdaFunction:
		key = "Code"
		code := p.sub("Code")
		assetPath, assetProp := assetMetadata(r)
		switch {
		case assetPath != "" && assetProp == "Code":
			rel = assetPath
			if code != nil {
				for _, k := range code.vals.keys {
					code.used[k] = true // S3Bucket/S3Key of the published asset; the local copy is used
				}
			}
		case code == nil:
			p.used["Code"] = true
			p.fail("Code", "is required")
			return key, "", ""
		case code.has("ZipFile"):
			return key, "", "inline code (ZipFile) is not supported yet; put the code in a directory (SAM CodeUri, or a CDK asset)"
		default:
			return key, "", "the code is in S3 or a container registry, which Switchboard does not read; run it from `cdk synth` output (with the aws:asset:path metadata) or a SAM template with a local CodeUri"
		}
	}
	dir = rel
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(e.dir, rel)
	}
	info, err := os.Stat(dir)
	switch {
	case err != nil:
		p.fail(key, "the code directory %s does not exist (%q relative to the template)", dir, rel)
	case !info.IsDir():
		p.fail(key, "%s is a file, not a directory; Switchboard runs code from a directory (unzip the archive, or point at the source directory)", dir)
	}
	return key, dir, ""
}

// unrunnable is a function whose code or runtime cannot run locally. It is an error only when an
// integration or authorizer of the template uses it; otherwise a note (a queue consumer in the same
// stack, say, should not stop the API).
type unrunnable struct {
	name string
	at   *yaml.Node
	r    *res
	why  string
}

// cannotRun records that a function cannot run locally (see unrunnable).
func (bd *builder) cannotRun(r *res, p *props, name, key, why string) {
	for _, k := range p.vals.keys {
		p.used[k] = true
	}
	bd.unrunnable = append(bd.unrunnable, unrunnable{name: name, at: p.pos(key), r: r, why: why})
}

// checkUnrunnable reports the functions that cannot run locally: errors for those the APIs use, notes
// for the others.
func (bd *builder) checkUnrunnable() {
	if len(bd.unrunnable) == 0 {
		return
	}
	used := map[string]bool{}
	mark := func(uri string) {
		fn, err := lambda.FunctionFromURI(uri)
		if err != nil {
			return
		}
		if i := strings.Index(fn, ":function:"); i >= 0 {
			fn = fn[i+len(":function:"):]
		}
		name, _, _ := strings.Cut(fn, ":")
		used[name] = true
	}
	for _, a := range bd.b.APIs {
		for _, in := range a.Integrations {
			if in.IntegrationType == resource.IntegrationAWSProxy || in.IntegrationType == resource.IntegrationAWS {
				mark(in.IntegrationURI)
			}
		}
		for _, au := range a.Authorizers {
			mark(au.AuthorizerURI)
		}
	}
	for _, u := range bd.unrunnable {
		if used[u.name] {
			bd.e.add(u.at, "Resources."+u.r.id, "the API invokes this function, but it cannot run locally: %s", u.why)
			continue
		}
		bd.e.notes = append(bd.e.notes, Note{LogicalID: u.r.id, Type: u.r.typ, What: "not run (no API uses it): " + u.why})
	}
}

// assetMetadata returns the CDK asset metadata of a resource: aws:asset:path and aws:asset:property.
func assetMetadata(r *res) (string, string) {
	if r.metadata == nil {
		return "", ""
	}
	var path, prop string
	for i := 0; i+1 < len(r.metadata.Content); i += 2 {
		switch r.metadata.Content[i].Value {
		case "aws:asset:path":
			path = deref(r.metadata.Content[i+1]).Value
		case "aws:asset:property":
			prop = deref(r.metadata.Content[i+1]).Value
		}
	}
	return path, prop
}

// checkNodeHandler checks that the module of a Node.js handler ("dir/file.export.nested") exists, with one
// of the extensions the Lambda Node.js runtime tries.
func (bd *builder) checkNodeHandler(p *props, dir, handler string) {
	slash := strings.LastIndex(handler, "/")
	dot := strings.Index(handler[slash+1:], ".")
	if dot <= 0 || slash+1+dot == len(handler)-1 {
		p.fail("Handler", "%q is not a Node.js handler; write FILE.EXPORT, e.g. app.handler", handler)
		return
	}
	module := handler[:slash+1+dot]
	var tried []string
	for _, ext := range []string{".js", ".mjs", ".cjs"} {
		if fileExists(filepath.Join(dir, module+ext)) {
			return
		}
		tried = append(tried, module+ext)
	}
	hint := ""
	if fileExists(filepath.Join(dir, module+".ts")) {
		hint = fmt.Sprintf("; %s.ts needs building first: run sam build and serve .aws-sam/build/template.yaml, or compile it", module)
	}
	p.fail("Handler", "%q: none of %s exists in %s%s", handler, strings.Join(tried, ", "), dir, hint)
}

// checkPythonHandler checks that the module of a Python handler ("package.module.function") exists.
func (bd *builder) checkPythonHandler(p *props, dir, handler string) {
	dot := strings.LastIndex(handler, ".")
	if dot <= 0 || dot == len(handler)-1 {
		p.fail("Handler", "%q is not a Python handler; write MODULE.FUNCTION, e.g. app.lambda_handler", handler)
		return
	}
	module := strings.ReplaceAll(handler[:dot], ".", "/")
	file, pkg := module+".py", filepath.Join(module, "__init__.py")
	if fileExists(filepath.Join(dir, file)) || fileExists(filepath.Join(dir, pkg)) {
		return
	}
	p.fail("Handler", "%q: neither %s nor %s exists in %s", handler, file, pkg, dir)
}

// checkExecutable checks that a custom runtime's executable exists and may be run.
func (bd *builder) checkExecutable(p *props, key, path, why string) {
	p.used[key] = true
	info, err := os.Stat(path)
	switch {
	case err != nil:
		p.fail(key, "%s does not exist (%s)", path, why)
	case info.IsDir():
		p.fail(key, "%s is a directory, not an executable (%s)", path, why)
	case info.Mode()&0o111 == 0:
		p.fail(key, "%s is not executable; chmod +x it (%s)", path, why)
	}
}

func fileExists(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir()
}

// events reads a SAM function's event sources: HttpApi events become routes (connectHTTPEvents), Api
// events would create a REST API Switchboard does not serve (an error), the others are not connected (a
// note).
func (bd *builder) events(r *res, p *props, fnName string) {
	ev := p.sub("Events")
	if ev == nil {
		return
	}
	for _, name := range ev.vals.keys {
		one := ev.sub(name)
		if one == nil {
			continue
		}
		typ := one.str("Type")
		for _, k := range one.vals.keys {
			one.used[k] = true
		}
		switch typ {
		case "HttpApi":
			bd.httpAPIEvent(r, name, one, fnName)
		case "Api":
			ev.fail(name, "an Api event makes a REST API, which is not supported yet; Switchboard serves WebSocket and HTTP APIs")
		default:
			bd.e.notes = append(bd.e.notes, Note{LogicalID: r.id, Type: r.typ,
				What: fmt.Sprintf("event %s (%s) is not connected: only API Gateway invokes local functions", name, typ)})
		}
	}
	ev.finish(r.typ, nil)
	if ev.bad {
		p.bad = true
	}
}
