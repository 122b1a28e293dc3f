package configfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/resource"
)

// checkFunctionCode checks, at load time rather than at the first message, that the code of every Node.js
// and Python function is where the file says: codeUri is a directory and the handler's module is in it.
// Executables are checked when started (a rebuild may well be in progress while the config loads).
func (f *File) checkFunctionCode() Errors {
	var errs Errors
	for i, fn := range f.Bundle.Functions {
		lang, _ := resource.RuntimeLanguage(fn.Runtime)
		if lang != resource.LanguageNode && lang != resource.LanguagePython {
			continue
		}
		p := resource.IndexPath("functions", i)
		fail := func(field, format string, args ...any) {
			errs = append(errs, f.locate(&resource.FieldError{Path: resource.FieldPath(p, field), Message: fmt.Sprintf(format, args...)}))
		}
		fi, err := os.Stat(fn.CodeURI)
		switch {
		case err != nil:
			fail("codeUri", "codeUri %s: %v", fn.CodeURI, unwrapPathError(err))
			continue
		case !fi.IsDir():
			fail("codeUri", "codeUri %s is not a directory; it must be the directory holding the function's code", fn.CodeURI)
			continue
		}
		if candidates, found := handlerModule(lang, fn.CodeURI, fn.Handler); !found {
			fail("handler", "handler %q: no module for it in codeUri %s (looked for %s)", fn.Handler, fn.CodeURI, joinRel(fn.CodeURI, candidates))
		}
	}
	sortErrors(errs)
	return errs
}

// handlerModule returns the files Lambda's runtime would load handler from, and whether one exists. The
// handler string has been validated already.
func handlerModule(lang resource.Language, codeURI, handler string) ([]string, bool) {
	var candidates []string
	switch lang {
	case resource.LanguageNode:
		root, module, _, err := resource.NodeHandler(handler)
		if err != nil {
			return nil, true // reported by Validate
		}
		base := filepath.Join(codeURI, root, module)
		// As UserFunction.js: the file as written, then .js, .mjs, .cjs, then a package in node_modules.
		candidates = []string{base, base + ".js", base + ".mjs", base + ".cjs", filepath.Join(codeURI, "node_modules", module)}
	case resource.LanguagePython:
		module, _, err := resource.PythonHandler(handler)
		if err != nil {
			return nil, true
		}
		base := filepath.Join(codeURI, filepath.FromSlash(strings.ReplaceAll(module, ".", "/")))
		// A module file, or a package (a directory, with or without __init__.py).
		candidates = []string{base + ".py", base + ".pyc", base}
	}
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return candidates, true
		}
	}
	return candidates, false
}

// joinRel lists paths relative to dir, for a short message.
func joinRel(dir string, paths []string) string {
	rel := make([]string, len(paths))
	for i, p := range paths {
		if r, err := filepath.Rel(dir, p); err == nil {
			p = r
		}
		rel[i] = p
	}
	return strings.Join(rel, ", ")
}

// unwrapPathError drops the path from an *os.PathError, which the message already names.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
