package gateway_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

const extensionConfig = `
iam:
  enforce: true
  users:
    - name: backend
      accessKeyId: AKIDBACKENDEXAMPLE
      secretAccessKey: backend-secret
      policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"execute-api:ManageConnections","Resource":"arn:aws:execute-api:us-east-1:123456789012:ext/dev/*"}]}'
    - name: reader
      accessKeyId: AKIDREADEREXAMPLE1
      secretAccessKey: reader-secret
      policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"execute-api:ManageConnections","Resource":"arn:aws:execute-api:us-east-1:123456789012:ext/dev/GET/*"}]}'
    - name: operator
      accessKeyId: AKIDOPERATOREXAMPLE
      secretAccessKey: operator-secret
      policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"execute-api:ManageConnections","Resource":"*"}]}'
apis:
  - {name: ext, apiId: ext, protocolType: WEBSOCKET, routeSelectionExpression: $request.body.action, stages: [{stageName: dev}, {stageName: other}]}
`

// signedDo sends a request signed for execute-api (as the SDKs sign @connections calls), or unsigned
// when key is empty, and returns the status and body.
func signedDo(t *testing.T, method, url, key, secret string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		sum := sha256.Sum256(body)
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret},
			req, hex.EncodeToString(sum[:]), "execute-api", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// The management extension lists a stage's connections page by page and broadcasts one message to all
// of them or to a list, under the @connections IAM rules; a connection of another stage is neither
// listed nor reached.
func TestManagementExtension(t *testing.T) {
	g := gatewaytest.Start(t, extensionConfig, gatewaytest.WithControlPlane)
	var clients []*gatewaytest.Client
	for range 5 {
		clients = append(clients, gatewaytest.Dial(t, g.WSURL+"/ext/dev", nil))
	}
	outsider := gatewaytest.Dial(t, g.WSURL+"/ext/other", nil)
	base := g.HTTPURL + "/ext/dev/@connections"
	const key, secret = "AKIDBACKENDEXAMPLE", "backend-secret"

	// Two pages of 3 and 2.
	var ids []string
	next := ""
	for page := 0; ; page++ {
		url := base + "?maxResults=3"
		if next != "" {
			url += "&nextToken=" + next
		}
		status, body := signedDo(t, http.MethodGet, url, key, secret, nil)
		if status != http.StatusOK {
			t.Fatalf("list page %d: %d %s", page, status, body)
		}
		var out struct {
			Items []struct {
				ConnectionID string `json:"connectionId"`
				ConnectedAt  string `json:"connectedAt"`
				Identity     struct {
					SourceIP string `json:"sourceIp"`
				} `json:"identity"`
			} `json:"items"`
			NextToken string `json:"nextToken"`
		}
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("list page %d: %v: %s", page, err, body)
		}
		for _, it := range out.Items {
			if it.Identity.SourceIP != "127.0.0.1" || it.ConnectedAt == "" {
				t.Errorf("item %+v", it)
			}
			ids = append(ids, it.ConnectionID)
		}
		if want := []int{3, 2}[page]; len(out.Items) != want {
			t.Fatalf("page %d has %d items, want %d", page, len(out.Items), want)
		}
		if out.NextToken == "" {
			break
		}
		next = out.NextToken
	}
	if len(slices.Compact(slices.Sorted(slices.Values(ids)))) != 5 {
		t.Fatalf("listed %v, want the 5 connections of ext/dev once each", ids)
	}

	for _, tc := range []struct {
		name       string
		key, sec   string
		body       string
		wantStatus int
		wantType   string
	}{
		{"unsigned", "", "", `{"data":"x"}`, http.StatusForbidden, "ForbiddenException"},
		{"a user allowed GET only", "AKIDREADEREXAMPLE1", "reader-secret", `{"data":"x"}`, http.StatusForbidden, "AccessDeniedException"},
		{"no data", key, secret, `{"connectionIds":[]}`, http.StatusBadRequest, "BadRequestException"},
		{"not JSON", key, secret, `hello`, http.StatusBadRequest, "BadRequestException"},
	} {
		t.Run("broadcast refused: "+tc.name, func(t *testing.T) {
			status, body := signedDo(t, http.MethodPost, base, tc.key, tc.sec, []byte(tc.body))
			if status != tc.wantStatus {
				t.Fatalf("%d %s, want %d", status, body, tc.wantStatus)
			}
		})
	}

	status, body := signedDo(t, http.MethodPost, base, key, secret, []byte(`{"data":"to all"}`))
	if status != http.StatusOK || !strings.Contains(string(body), `"sent":5`) {
		t.Fatalf("broadcast to all: %d %s", status, body)
	}
	for i, c := range clients {
		if got := c.Read(); got != "to all" {
			t.Fatalf("client %d: %q", i, got)
		}
	}
	status, body = signedDo(t, http.MethodPost, base, key, secret, []byte(`{"data":"to two","connectionIds":["`+ids[0]+`","`+ids[4]+`","AAAAAAAAAAAAAAA="]}`))
	var res struct {
		Sent int      `json:"sent"`
		Gone []string `json:"goneConnectionIds"`
	}
	if err := json.Unmarshal(body, &res); status != http.StatusOK || err != nil || res.Sent != 2 || len(res.Gone) != 1 || res.Gone[0] != "AAAAAAAAAAAAAAA=" {
		t.Fatalf("broadcast to a list: %d %s", status, body)
	}
	// A marker to all afterwards: what each client reads before it is what the list broadcast sent it.
	if status, body := signedDo(t, http.MethodPost, base, key, secret, []byte(`{"data":"marker"}`)); status != http.StatusOK {
		t.Fatalf("marker: %d %s", status, body)
	}
	received := 0
	for _, c := range clients {
		for msg := c.Read(); msg != "marker"; msg = c.Read() {
			if msg != "to two" {
				t.Fatalf("unexpected %q", msg)
			}
			received++
		}
	}
	if received != 2 {
		t.Fatalf("%d clients got the list broadcast, want 2", received)
	}
	// The other stage's connection saw none of it: its first message is its own stage's broadcast, which
	// the backend's policy (ext/dev only) does not allow and an operator's does.
	if status, body := signedDo(t, http.MethodPost, g.HTTPURL+"/ext/other/@connections", key, secret, []byte(`{"data":"other"}`)); status != http.StatusForbidden {
		t.Fatalf("broadcast to a stage the policy does not cover: %d %s", status, body)
	}
	if status, body := signedDo(t, http.MethodPost, g.HTTPURL+"/ext/other/@connections", "AKIDOPERATOREXAMPLE", "operator-secret", []byte(`{"data":"other"}`)); status != http.StatusOK || !strings.Contains(string(body), `"sent":1`) {
		t.Fatalf("operator broadcast to ext/other: %d %s", status, body)
	}
	if got := outsider.Read(); got != "other" {
		t.Fatalf("the other stage's connection first read %q", got)
	}
}
