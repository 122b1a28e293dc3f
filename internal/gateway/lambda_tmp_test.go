package gateway_test

import (
	"os"
	"sync"
	"testing"
)

// tempDirs is one directory for the test binary's build artifacts, removed after all tests ran.
var tempDirs tempDir

type tempDir struct {
	once sync.Once
	path string
	err  error
}

func (d *tempDir) dir() (string, error) {
	d.once.Do(func() { d.path, d.err = os.MkdirTemp("", "switchboard-gateway-test-") })
	return d.path, d.err
}

func TestMain(m *testing.M) {
	code := m.Run()
	if tempDirs.path != "" {
		os.RemoveAll(tempDirs.path)
	}
	os.Exit(code)
}
