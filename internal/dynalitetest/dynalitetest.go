// Package dynalitetest runs dynalite — a DynamoDB implementation on Node.js, from npm — for tests that
// need a real DynamoDB. The package is installed once per machine into the user's cache directory
// (npm must reach its registry the first time). Without node and npm a test is skipped, except under CI
// (CI=true), where that is a failure: CI installs both.
package dynalitetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Version is the dynalite release the tests run.
const Version = "4.0.0"

// Start runs an in-memory dynalite on a loopback port until the test ends and returns its endpoint URL.
func Start(t testing.TB) string {
	t.Helper()
	dir := Install(t)
	ctx, cancel := context.WithCancel(context.Background())
	// Tables become ACTIVE after createTableMs; the default 500 ms only slows tests down.
	script := `const s = require('dynalite')({createTableMs: 20, deleteTableMs: 20, updateTableMs: 20});
s.listen(0, '127.0.0.1', () => console.log('listening ' + s.address().port));`
	cmd := exec.CommandContext(ctx, "node", "-e", script)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start dynalite: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() { // ends when the process's stdout closes, at the latest at cleanup
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if port, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				lines <- port
			}
		}
		close(lines)
	}()
	select {
	case port, ok := <-lines:
		if !ok {
			t.Fatal("dynalite exited before listening")
		}
		return "http://127.0.0.1:" + port
	case <-time.After(30 * time.Second):
		t.Fatal("dynalite did not listen within 30 s")
	}
	return ""
}

// Install makes sure dynalite is installed and returns the directory whose node_modules holds it.
func Install(t testing.TB) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed; .ci/run installs it", tool)
			}
			t.Skipf("%s is not installed: the test needs dynalite from npm", tool)
		}
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cache, "switchboard", "test-npm", "dynalite-"+Version)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "dynalite", "package.json")); err == nil {
		return dir
	}
	if err := install(dir); err != nil {
		t.Fatalf("install dynalite %s: %v", Version, err)
	}
	return dir
}

// install runs npm in a directory of its own and renames it into place, so that concurrent test binaries
// never see a half-installed package.
func install(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".install-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", tmp, "dynalite@"+Version)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm install: %w\n%s", err, out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, "node_modules", "dynalite")); statErr == nil {
			return nil // another test binary finished first
		}
		return errors.Join(err, fmt.Errorf("move the installed package into %s", dir))
	}
	return nil
}
