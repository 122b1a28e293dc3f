package bootstrap

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// NodeSDKPackages are the AWS SDK for JavaScript v3 packages Switchboard installs for Node.js handlers, as
// Lambda's Node.js runtimes provide them: the clients WebSocket apps use (DynamoDB and its document
// client, the @connections API). Others can be added to the same directory with npm.
var NodeSDKPackages = []string{
	"@aws-sdk/client-dynamodb",
	"@aws-sdk/lib-dynamodb",
	"@aws-sdk/client-apigatewaymanagementapi",
}

// NodeSDKInstalled reports whether dir holds the packages of NodeSDKPackages.
func NodeSDKInstalled(dir string) bool {
	for _, p := range NodeSDKPackages {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", filepath.FromSlash(p), "package.json")); err != nil {
			return false
		}
	}
	return true
}

// NodeSDKCommand is the one-line command that installs the SDK into dir.
func NodeSDKCommand(dir string) string {
	return "npm install --prefix " + dir + " --no-audit --no-fund " + strings.Join(NodeSDKPackages, " ")
}

// EnsureNodeSDK installs NodeSDKPackages into dir with npm unless they are there already. It reports
// whether it ran npm. npm's output is part of the error when it fails.
func EnsureNodeSDK(ctx context.Context, dir string) (bool, error) {
	if NodeSDKInstalled(dir) {
		return false, nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return false, fmt.Errorf("install the AWS SDK for JavaScript into %s: npm is not in PATH", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("install the AWS SDK for JavaScript: %w", err)
	}
	// A package.json of its own keeps npm from looking for one in the parent directories.
	pj := filepath.Join(dir, "package.json")
	if _, err := os.Stat(pj); err != nil {
		if err := os.WriteFile(pj, []byte(`{"name":"switchboard-nodejs-sdk","private":true}`+"\n"), 0o644); err != nil {
			return false, fmt.Errorf("install the AWS SDK for JavaScript: %w", err)
		}
	}
	args := append([]string{"install", "--prefix", dir, "--no-audit", "--no-fund", "--loglevel=error"}, NodeSDKPackages...)
	out, err := exec.CommandContext(ctx, npm, args...).CombinedOutput()
	if err != nil {
		return true, fmt.Errorf("install the AWS SDK for JavaScript into %s (%s): %w\n%s", dir, NodeSDKCommand(dir), err, strings.TrimSpace(string(out)))
	}
	if !NodeSDKInstalled(dir) {
		return true, fmt.Errorf("install the AWS SDK for JavaScript into %s: npm succeeded but the packages are not there", dir)
	}
	return true, nil
}
