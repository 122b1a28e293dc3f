// Package bootstrap runs Lambda's managed Node.js and Python runtimes without Docker: it ships, inside the
// Switchboard binary, a bootstrap per language that implements the Lambda Runtime API loop and loads the
// handler by Lambda's handler-string rules, and it finds and checks the machine's node and python3.
//
// The bootstraps are written to a directory (Install) rather than fed to the interpreter on stdin: Node.js
// needs a file URL to register its ES-module resolve hook (module.register), and stack traces that point at
// a real file are easier to read. Files are named by the content's hash, so two Switchboard versions sharing
// a data directory never run each other's bootstrap.
package bootstrap

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/switchboard-gw/switchboard/internal/resource"
)

//go:embed node/index.mjs node/hooks.mjs python/bootstrap.py
var files embed.FS

// Minimum interpreter versions: the oldest Lambda runtime of each language Switchboard accepts.
const (
	MinNodeMajor   = 18
	MinPythonMinor = 9 // 3.9
)

// Install writes the bootstraps under dir (created if needed) and returns the directory that holds them,
// dir/bootstrap-HASH. Files already there are kept; new ones are written to a temporary name and renamed,
// so concurrent installs never expose half a file.
func Install(dir string) (string, error) {
	h := sha256.New()
	names, err := fs.Glob(files, "*/*")
	if err != nil {
		return "", err
	}
	for _, name := range names {
		data, _ := files.ReadFile(name)
		fmt.Fprintf(h, "%s %d\n", name, len(data))
		h.Write(data)
	}
	root := filepath.Join(dir, "bootstrap-"+hex.EncodeToString(h.Sum(nil))[:16])
	for _, name := range names {
		dst := filepath.Join(root, filepath.FromSlash(name))
		data, _ := files.ReadFile(name)
		if have, err := os.ReadFile(dst); err == nil && bytes.Equal(have, data) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", fmt.Errorf("install the runtime bootstraps: %w", err)
		}
		tmp, err := os.CreateTemp(filepath.Dir(dst), ".tmp-*")
		if err != nil {
			return "", fmt.Errorf("install the runtime bootstraps: %w", err)
		}
		_, werr := tmp.Write(data)
		cerr := tmp.Close()
		if err := errors.Join(werr, cerr); err != nil {
			_ = os.Remove(tmp.Name())
			return "", fmt.Errorf("install the runtime bootstraps: %w", err)
		}
		if err := os.Rename(tmp.Name(), dst); err != nil {
			_ = os.Remove(tmp.Name())
			return "", fmt.Errorf("install the runtime bootstraps: %w", err)
		}
	}
	return root, nil
}

// Script returns the bootstrap file of lang inside a directory returned by Install.
func Script(installed string, lang resource.Language) string {
	switch lang {
	case resource.LanguageNode:
		return filepath.Join(installed, "node", "index.mjs")
	case resource.LanguagePython:
		return filepath.Join(installed, "python", "bootstrap.py")
	}
	return ""
}

// Interpreter is a checked node or python3 on the machine.
type Interpreter struct {
	// Path is the executable.
	Path string
	// Version is what it reports, e.g. "v20.11.1" or "3.12.3".
	Version string
	// Major and Minor are the parsed version numbers.
	Major, Minor int
}

// ErrInterpreter is wrapped by Find's errors: the interpreter is missing, does not run, or is too old.
var ErrInterpreter = errors.New("runtime interpreter unusable")

// Command names the interpreter of each language, looked up in PATH.
func Command(lang resource.Language) string {
	switch lang {
	case resource.LanguageNode:
		return "node"
	case resource.LanguagePython:
		return "python3"
	}
	return ""
}

var (
	nodeVersionRE   = regexp.MustCompile(`^v(\d+)\.(\d+)\.\d+`)
	pythonVersionRE = regexp.MustCompile(`^Python (\d+)\.(\d+)(?:\.\d+)?`)
)

// Find looks up lang's interpreter in PATH, runs it for its version and checks that it is recent enough
// (node 18, python 3.9). Its errors wrap ErrInterpreter and say what to install.
func Find(ctx context.Context, lang resource.Language) (*Interpreter, error) {
	name := Command(lang)
	path, err := exec.LookPath(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not installed (not found in PATH); %s", ErrInterpreter, name, installHint(lang))
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%w: %s --version: %v: %s", ErrInterpreter, path, err, bytes.TrimSpace(out))
	}
	v, err := ParseVersion(lang, string(bytes.TrimSpace(out)))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInterpreter, path, err)
	}
	v.Path = path
	if lang == resource.LanguageNode && v.Major < MinNodeMajor || lang == resource.LanguagePython && (v.Major < 3 || v.Major == 3 && v.Minor < MinPythonMinor) {
		return nil, fmt.Errorf("%w: %s is version %s, older than the oldest Lambda runtime Switchboard runs; %s", ErrInterpreter, path, v.Version, installHint(lang))
	}
	return v, nil
}

// ParseVersion reads the output of `node --version` or `python3 --version`.
func ParseVersion(lang resource.Language, out string) (*Interpreter, error) {
	re, trim := nodeVersionRE, "v"
	if lang == resource.LanguagePython {
		re, trim = pythonVersionRE, "Python "
	}
	m := re.FindStringSubmatch(out)
	if m == nil {
		return nil, fmt.Errorf("cannot read the version in %q", out)
	}
	major, err1 := strconv.Atoi(m[1])
	minor, err2 := strconv.Atoi(m[2])
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("cannot read the version in %q: %w", out, err)
	}
	return &Interpreter{Version: m[0][len(trim):], Major: major, Minor: minor}, nil
}

func installHint(lang resource.Language) string {
	if lang == resource.LanguageNode {
		return "install Node.js 18 or later (e.g. apt-get install nodejs, or from nodejs.org) so that node is in PATH"
	}
	return "install Python 3.9 or later (e.g. apt-get install python3) so that python3 is in PATH"
}
