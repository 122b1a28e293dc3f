package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/configfile"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// TestExample serves switchboard.yaml as the README's tutorial does and runs its requests.
func TestExample(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatalf("the example's function needs python3: %v", err)
	}
	f, err := configfile.Load("switchboard.yaml")
	if err != nil {
		t.Fatal(err)
	}
	g := gatewaytest.StartFile(t, f)
	get := func(method, path, body string, header ...string) (*http.Response, string) {
		req, _ := http.NewRequest(method, g.HTTPURL+path, strings.NewReader(body))
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := get("GET", "/pets/dev/pets/7", "")
	var pet map[string]any
	if err := json.Unmarshal([]byte(body), &pet); resp.StatusCode != 200 || err != nil || pet["id"] != "7" || pet["rawPath"] != "/dev/pets/7" || pet["stage"] != "dev" {
		t.Fatalf("GET /dev/pets/7: %d %s", resp.StatusCode, body)
	}
	resp, body = get("POST", "/pets/pets", `{"name":"Rex"}`)
	if resp.StatusCode != 201 || !strings.Contains(body, `"name": "Rex"`) || !strings.HasPrefix(resp.Header.Get("Set-Cookie"), "last-pet=") {
		t.Fatalf("POST /pets: %d %s %v", resp.StatusCode, body, resp.Header)
	}
	resp, _ = get("OPTIONS", "/pets/pets/7", "", "Origin", "https://app.example", "Access-Control-Request-Method", "GET")
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	if resp, body = get("GET", "/pets/cats", ""); resp.StatusCode != 404 || body != `{"message":"Not Found"}` {
		t.Fatalf("GET /cats: %d %s", resp.StatusCode, body)
	}
}
