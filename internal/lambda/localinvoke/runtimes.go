package localinvoke

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/lambda/bootstrap"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// command returns what to run for a new process of f and in which directory: the executable itself, or
// the language's interpreter on Switchboard's bootstrap in codeUri (Lambda's /var/task).
func (f *function) command() (name string, args []string, dir string, err error) {
	if f.lang == resource.LanguageExecutable {
		dir := f.cfg.CodeURI
		if dir == "" {
			dir = filepath.Dir(f.cfg.Handler)
		}
		return f.cfg.Handler, f.cfg.Args, dir, nil
	}
	installed, err := f.inv.bootstrap()
	if err != nil {
		return "", nil, "", err
	}
	interp, err := exec.LookPath(bootstrap.Command(f.lang))
	if err != nil {
		return "", nil, "", fmt.Errorf("runtime %s needs %s: %w", f.cfg.Runtime, bootstrap.Command(f.lang), err)
	}
	return interp, []string{bootstrap.Script(installed, f.lang)}, f.cfg.CodeURI, nil
}

// handlerName is _HANDLER: the executable's file name, or the handler string.
func (f *function) handlerName() string {
	if f.lang == resource.LanguageExecutable {
		return filepath.Base(f.cfg.Handler)
	}
	return f.cfg.Handler
}

// taskRoot is LAMBDA_TASK_ROOT: codeUri, or the executable's directory.
func (f *function) taskRoot() string {
	if f.cfg.CodeURI != "" {
		return f.cfg.CodeURI
	}
	return filepath.Dir(f.cfg.Handler)
}

// executionEnv is AWS_EXECUTION_ENV as Lambda sets it for the runtime.
func (f *function) executionEnv() string {
	if f.lang == resource.LanguageExecutable {
		return "AWS_Lambda_provided.al2023"
	}
	return "AWS_Lambda_" + f.cfg.Runtime
}

// runtimeEnv adds what the Node.js and Python bootstraps and the SDKs in them need: the CA bundle under
// each language's own name, where the AWS SDK for JavaScript is, the gateway's address, and unbuffered
// Python output. Variables the function or Options.Env set already are kept.
func (f *function) runtimeEnv(env map[string]string) {
	if f.lang == resource.LanguageExecutable {
		return
	}
	setDefault := func(k, v string) {
		if _, ok := env[k]; !ok && v != "" {
			env[k] = v
		}
	}
	if ca := env["AWS_CA_BUNDLE"]; ca != "" {
		setDefault("NODE_EXTRA_CA_CERTS", ca) // Node.js adds it to its built-in roots
		setDefault("REQUESTS_CA_BUNDLE", ca)  // requests, for handlers that call the gateway without boto3
	}
	if addr := f.inv.opts.GatewayAddr; addr != nil {
		env["SWITCHBOARD_GATEWAY_ADDR"] = addr()
	}
	switch f.lang {
	case resource.LanguageNode:
		if sdk := f.inv.opts.NodeSDKDir; sdk != "" {
			env["SWITCHBOARD_NODE_SDK"] = sdk
			// CommonJS finds the SDK through NODE_PATH, after the handler's own node_modules, as on Lambda
			// (NODE_PATH=/opt/nodejs/node_modules:/var/runtime/node_modules:...).
			paths := []string{filepath.Join(sdk, "node_modules")}
			if v := env["NODE_PATH"]; v != "" {
				paths = append([]string{v}, paths...)
			}
			env["NODE_PATH"] = strings.Join(paths, string(filepath.ListSeparator))
		}
	case resource.LanguagePython:
		setDefault("PYTHONUNBUFFERED", "1")
	}
}
