package resource

import (
	"fmt"
	"strings"
)

// Language says how a Function's handler runs: as an executable, or as a handler string loaded by one of the
// bootstraps Switchboard ships for Lambda's managed runtimes.
type Language string

// The languages of Function.Runtime.
const (
	// LanguageExecutable: Handler is an executable speaking the Runtime API itself (provided.*, go1.x, or no
	// runtime at all).
	LanguageExecutable Language = "executable"
	// LanguageNode: Handler is a Node.js handler string ([dir/]file.export[.nested]) run with the machine's node.
	LanguageNode Language = "nodejs"
	// LanguagePython: Handler is a Python handler string ([pkg/]module.function) run with the machine's python3.
	LanguagePython Language = "python"
)

// runtimes maps every runtime identifier Switchboard runs to its language
// (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html).
var runtimes = map[string]Language{
	"":                LanguageExecutable,
	"provided":        LanguageExecutable,
	"provided.al2":    LanguageExecutable,
	"provided.al2023": LanguageExecutable,
	"go1.x":           LanguageExecutable,
	"nodejs18.x":      LanguageNode,
	"nodejs20.x":      LanguageNode,
	"nodejs22.x":      LanguageNode,
	"python3.9":       LanguagePython,
	"python3.10":      LanguagePython,
	"python3.11":      LanguagePython,
	"python3.12":      LanguagePython,
	"python3.13":      LanguagePython,
}

// RuntimeLanguage returns the language of a Lambda runtime identifier, and false for one Switchboard does not
// run.
func RuntimeLanguage(runtime string) (Language, bool) {
	l, ok := runtimes[runtime]
	return l, ok
}

// KnownRuntimes lists the runtime identifiers RuntimeLanguage accepts (the empty one aside), for messages.
const KnownRuntimes = "provided.al2023, provided.al2, provided, go1.x, nodejs18.x, nodejs20.x, nodejs22.x, python3.9, python3.10, python3.11, python3.12, python3.13"

// maxHandlerLength is Lambda's limit on the Handler member.
const maxHandlerLength = 128

// NodeHandler splits a Node.js handler string the way Lambda's Node.js runtime does
// (aws-lambda-nodejs-runtime-interface-client, UserFunction.js): the module root is everything up to the
// last "/", the module is the rest up to its first ".", and the export path is what follows, itself split at
// "." for nested exports. "lib/app.handlers.connect" is module root "lib/", module "app", path
// "handlers.connect".
func NodeHandler(handler string) (moduleRoot, module, exportPath string, err error) {
	if err := commonHandlerChecks(handler); err != nil {
		return "", "", "", err
	}
	if strings.Contains(handler, "..") {
		return "", "", "", fmt.Errorf("handler %q is not valid: it must not contain '..' (the module is found under codeUri)", handler)
	}
	i := strings.LastIndexByte(handler, '/')
	moduleRoot, rest := handler[:i+1], handler[i+1:]
	module, exportPath, ok := strings.Cut(rest, ".")
	if !ok || module == "" || exportPath == "" || strings.HasPrefix(exportPath, ".") || strings.HasSuffix(exportPath, ".") {
		return "", "", "", fmt.Errorf("handler %q is not valid: write FILE.EXPORT, e.g. index.handler or src/app.handlers.connect (FILE without its .js/.mjs/.cjs extension)", handler)
	}
	if strings.HasPrefix(moduleRoot, "/") {
		return "", "", "", fmt.Errorf("handler %q is not valid: the file is relative to codeUri", handler)
	}
	return moduleRoot, module, exportPath, nil
}

// PythonHandler splits a Python handler string the way Lambda's Python runtime does
// (aws-lambda-python-runtime-interface-client, bootstrap.py): the function is after the last ".", the module
// before it, with "/" standing for "." in package paths ("pkg/mod.fn" is module "pkg.mod").
func PythonHandler(handler string) (module, function string, err error) {
	if err := commonHandlerChecks(handler); err != nil {
		return "", "", err
	}
	i := strings.LastIndexByte(handler, '.')
	if i <= 0 || i == len(handler)-1 {
		return "", "", fmt.Errorf("handler %q is not valid: write MODULE.FUNCTION, e.g. app.lambda_handler or pkg/app.lambda_handler", handler)
	}
	module = strings.ReplaceAll(handler[:i], "/", ".")
	function = handler[i+1:]
	for _, part := range strings.Split(module, ".") {
		if !isPythonIdentifier(part) {
			return "", "", fmt.Errorf("handler %q is not valid: module %q is not a Python module path", handler, module)
		}
	}
	if !isPythonIdentifier(function) {
		return "", "", fmt.Errorf("handler %q is not valid: %q is not a Python function name", handler, function)
	}
	return module, function, nil
}

func commonHandlerChecks(handler string) error {
	switch {
	case handler == "":
		return fmt.Errorf("handler is required")
	case len(handler) > maxHandlerLength:
		return fmt.Errorf("handler is %d characters long; Lambda allows at most %d", len(handler), maxHandlerLength)
	case strings.ContainsAny(handler, " \t\r\n\x00"):
		return fmt.Errorf("handler %q is not valid: it must not contain whitespace", handler)
	}
	return nil
}

// isPythonIdentifier reports whether s is an ASCII Python identifier (Unicode identifiers are allowed by
// Python but not by Lambda's handler pattern in practice; they are refused here to keep paths portable).
func isPythonIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
