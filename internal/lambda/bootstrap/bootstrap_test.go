package bootstrap

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/resource"
)

func TestParseVersion(t *testing.T) {
	cases := []struct {
		name         string
		lang         resource.Language
		out          string
		version      string
		major, minor int
		err          bool
	}{
		{name: "node", lang: resource.LanguageNode, out: "v20.11.1", version: "20.11.1", major: 20, minor: 11},
		{name: "node nightly", lang: resource.LanguageNode, out: "v23.0.0-nightly2024", version: "23.0.0", major: 23},
		{name: "python", lang: resource.LanguagePython, out: "Python 3.12.3", version: "3.12.3", major: 3, minor: 12},
		{name: "python rc", lang: resource.LanguagePython, out: "Python 3.13.0rc1", version: "3.13.0", major: 3, minor: 13},
		{name: "garbage", lang: resource.LanguageNode, out: "command not found", err: true},
		{name: "python output for node", lang: resource.LanguageNode, out: "Python 3.12.3", err: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := ParseVersion(tc.lang, tc.out)
			if tc.err {
				if err == nil {
					t.Fatalf("ParseVersion(%q) = %+v, want an error", tc.out, v)
				}
				return
			}
			if err != nil || v.Version != tc.version || v.Major != tc.major || v.Minor != tc.minor {
				t.Fatalf("ParseVersion(%q) = %+v, %v", tc.out, v, err)
			}
		})
	}
}

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"v20.11.1", "Python 3.12.3", "v", "Python 3.", "v99999999999999999999.1.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, lang := range []resource.Language{resource.LanguageNode, resource.LanguagePython} {
			if v, err := ParseVersion(lang, s); err == nil && !strings.Contains(s, v.Version) {
				t.Fatalf("ParseVersion(%q) = %+v", s, v)
			}
		}
	})
}

// TestFind runs the machine's node and python3, and checks the refusals with a PATH that has neither or
// has interpreters too old.
func TestFind(t *testing.T) {
	for _, lang := range []resource.Language{resource.LanguageNode, resource.LanguagePython} {
		if _, err := Find(context.Background(), lang); err != nil {
			t.Fatalf("%s: %v (the tests need node 18+ and python3 3.9+ in PATH)", lang, err)
		}
	}
	old := t.TempDir()
	for name, version := range map[string]string{"node": "v16.20.2", "python3": "Python 3.8.10"} {
		script := "#!/bin/sh\necho '" + version + "'\n"
		if err := os.WriteFile(filepath.Join(old, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, path string
		lang       resource.Language
		want       string
	}{
		{"node missing", t.TempDir(), resource.LanguageNode, "node is not installed (not found in PATH); install Node.js 18 or later"},
		{"python missing", t.TempDir(), resource.LanguagePython, "python3 is not installed (not found in PATH); install Python 3.9 or later"},
		{"node too old", old, resource.LanguageNode, "is version 16.20.2, older than the oldest Lambda runtime"},
		{"python too old", old, resource.LanguagePython, "is version 3.8.10, older than the oldest Lambda runtime"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PATH", tc.path)
			_, err := Find(context.Background(), tc.lang)
			if !errors.Is(err, ErrInterpreter) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInterpreter with %q", err, tc.want)
			}
		})
	}
}

func TestInstall(t *testing.T) {
	dir := t.TempDir()
	first, err := Install(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range []resource.Language{resource.LanguageNode, resource.LanguagePython} {
		want, _ := files.ReadFile(map[resource.Language]string{resource.LanguageNode: "node/index.mjs", resource.LanguagePython: "python/bootstrap.py"}[lang])
		got, err := os.ReadFile(Script(first, lang))
		if err != nil || string(got) != string(want) {
			t.Fatalf("%s bootstrap not installed as embedded: %v", lang, err)
		}
	}
	// A damaged file is rewritten; the directory stays the same for the same binary.
	os.WriteFile(Script(first, resource.LanguagePython), []byte("broken"), 0o644)
	second, err := Install(dir)
	if err != nil || second != first {
		t.Fatalf("second Install = %q, %v; want %q", second, err, first)
	}
	if got, _ := os.ReadFile(Script(first, resource.LanguagePython)); string(got) == "broken" {
		t.Fatal("a damaged bootstrap was kept")
	}
}
