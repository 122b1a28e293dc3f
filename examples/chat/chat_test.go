package main

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	"github.com/coder/websocket"

	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

const waitFor = 10 * time.Second

// chat is the example running end to end: the real Backend behind a real gateway serving switchboard.yaml.
type chat struct {
	t       testing.TB
	backend *Backend
	gateway *gatewaytest.Gateway

	mu          sync.Mutex
	ignored     map[string]bool // connection IDs whose /disconnect the backend never sees
	disconnects []string        // every /disconnect the gateway sent, ignored or not
}

// startChat starts the backend and a gateway with the example's config, the stage variable rewritten to
// the backend's address and the backend posting to the gateway's @connections endpoint.
func startChat(t *testing.T) *chat {
	t.Helper()
	return startChatWith(t, "")
}

// startChatWith is startChat with extra top-level YAML appended to the example's config.
func startChatWith(t *testing.T, extraYAML string) *chat {
	t.Helper()
	c := &chat{t: t, ignored: make(map[string]bool)}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(c.serveBackend))
	t.Cleanup(srv.Close) // registered first, so it runs after the gateway (and its $disconnects) stopped

	const defaultVariable = "backend: 127.0.0.1:9000"
	if !strings.Contains(string(configYAML), defaultVariable) {
		t.Fatalf("switchboard.yaml no longer contains %q", defaultVariable)
	}
	cfg := strings.Replace(string(configYAML), defaultVariable, "backend: "+srv.Listener.Addr().String(), 1) + extraYAML
	// A generous shutdown timeout: the gateway's graceful stop must not fail the test on a slow machine.
	c.gateway = gatewaytest.Start(t, cfg, func(o *gateway.Options) { o.ShutdownTimeout = 20 * time.Second })
	backend, err := NewBackend(t.Context(), c.gateway.HTTPURL+"/chat/dev", gatewaytest.Logger(t).With("component", "backend"))
	if err != nil {
		t.Fatal(err)
	}
	c.backend = backend
	t.Cleanup(c.backend.CloseIdleConnections) // runs before the gateway stops, as main does
	srv.Start()
	return c
}

// serveBackend hands requests to the Backend, recording /disconnect and dropping the ignored ones.
func (c *chat) serveBackend(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/disconnect" {
		id := r.Header.Get("connectionId")
		c.mu.Lock()
		c.disconnects = append(c.disconnects, id)
		ignore := c.ignored[id]
		c.mu.Unlock()
		if ignore {
			return // 200, and the backend never hears of it
		}
	}
	c.backend.ServeHTTP(w, r)
}

// ignoreDisconnect makes the backend miss id's $disconnect.
func (c *chat) ignoreDisconnect(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ignored[id] = true
}

// sawDisconnect reports whether the gateway has sent /disconnect for id.
func (c *chat) sawDisconnect(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Contains(c.disconnects, id)
}

// knows reports whether the backend has id in its set.
func (c *chat) knows(id string) bool { return slices.Contains(c.backend.Connections(), id) }

// member is one connected chat client and its connection ID.
type member struct {
	*gatewaytest.Client
	id string
}

// connect dials n clients one after the other and learns each one's ID from the backend's set: $connect
// reaches the backend before the handshake completes, so each dial adds exactly one new ID.
func (c *chat) connect(n int) []member {
	c.t.Helper()
	members := make([]member, 0, n)
	for range n {
		before := c.backend.Connections()
		client := gatewaytest.Dial(c.t, c.gateway.WSURL+"/chat/dev", nil)
		var id string
		gatewaytest.Eventually(c.t, waitFor, func() bool {
			for _, got := range c.backend.Connections() {
				if !slices.Contains(before, got) {
					id = got
					return true
				}
			}
			return false
		}, "the backend did not receive $connect for client %d", len(members)+1)
		members = append(members, member{Client: client, id: id})
	}
	want := len(c.backend.Connections())
	gatewaytest.Eventually(c.t, waitFor, func() bool { return len(c.backend.Connections()) == want && c.gateway.Connections() == want },
		"backend has %d connections, gateway has %d; want %d", len(c.backend.Connections()), c.gateway.Connections(), want)
	return members
}

// expect checks that every member's next message is want.
func expect(t *testing.T, members []member, want string) {
	t.Helper()
	for _, m := range members {
		if got := m.Read(); got != want {
			t.Errorf("client %s got %q, want %q", m.id, got, want)
		}
	}
}

func TestChat(t *testing.T) {
	t.Run("broadcast reaches every client including the sender", func(t *testing.T) {
		c := startChat(t)
		m := c.connect(3)
		m[1].Send(`{"action":"sendmessage","data":"hello"}`)
		expect(t, m, "hello")
	})

	t.Run("non-string data is sent as written", func(t *testing.T) {
		c := startChat(t)
		m := c.connect(2)
		m[0].Send(`{"action":"sendmessage","data":{"text":"hi","n":1}}`)
		expect(t, m, `{"text":"hi","n":1}`)
	})

	t.Run("ping is answered by the MOCK route", func(t *testing.T) {
		c := startChat(t)
		m := c.connect(1)
		m[0].Send(`{"action":"ping"}`)
		expect(t, m, `{"action":"pong"}`)
	})

	t.Run("unknown action gets the Forbidden frame and the connection stays open", func(t *testing.T) {
		c := startChat(t)
		m := c.connect(2)
		m[0].Send(`{"action":"shout","data":"hello"}`)
		frame := regexp.MustCompile(`^\{"message": "Forbidden", "connectionId":"` + regexp.QuoteMeta(m[0].id) + `", "requestId":"[A-Za-z0-9_=-]{16}"\}$`)
		if got := m[0].Read(); !frame.MatchString(got) {
			t.Errorf("unknown action: got %q, want a frame matching %s", got, frame)
		}
		m[0].Send(`{"action":"ping"}`)
		expect(t, m[:1], `{"action":"pong"}`)
		m[0].Send(`{"action":"sendmessage","data":"still here"}`)
		expect(t, m, "still here")
	})

	t.Run("a closed client is removed by $disconnect", func(t *testing.T) {
		c := startChat(t)
		m := c.connect(3)
		if err := m[2].Conn.Close(websocket.StatusNormalClosure, "bye"); err != nil {
			t.Fatalf("close: %v", err)
		}
		gatewaytest.Eventually(t, waitFor, func() bool { return !c.knows(m[2].id) }, "the backend still has %s after its $disconnect", m[2].id)
		if !c.sawDisconnect(m[2].id) {
			t.Errorf("the backend forgot %s without a /disconnect", m[2].id)
		}
		m[0].Send(`{"action":"sendmessage","data":"two left"}`)
		expect(t, m[:2], "two left")
	})

	t.Run("a connection that vanished unheard is pruned on GoneException", func(t *testing.T) {
		c := startChat(t)
		m := c.connect(3)
		lost := m[1]
		c.ignoreDisconnect(lost.id)
		lost.Conn.CloseNow() // drop the TCP connection without a close frame
		// The gateway unregisters a connection before it sends $disconnect: once that arrived (and was
		// dropped), @connections answers 410 for it while the backend still lists it.
		gatewaytest.Eventually(t, waitFor, func() bool { return c.sawDisconnect(lost.id) }, "no $disconnect for %s", lost.id)
		gatewaytest.Eventually(t, waitFor, func() bool { return c.gateway.Connections() == 2 }, "the gateway still has %d connections", c.gateway.Connections())
		if !c.knows(lost.id) {
			t.Fatalf("the backend forgot %s although it never heard $disconnect", lost.id)
		}
		others := []member{m[0], m[2]}
		m[0].Send(`{"action":"sendmessage","data":"anyone there?"}`)
		expect(t, others, "anyone there?")
		gatewaytest.Eventually(t, waitFor, func() bool { return !c.knows(lost.id) }, "the backend kept %s after GoneException", lost.id)
		m[2].Send(`{"action":"sendmessage","data":"still two"}`)
		expect(t, others, "still two")
		if got, want := len(c.backend.Connections()), 2; got != want {
			t.Errorf("backend has %d connections, want %d", got, want)
		}
	})
}

// TestSetStageVariable checks that the in-process gateway's stage variable follows -backend-listen.
func TestSetStageVariable(t *testing.T) {
	g, err := newGateway("127.0.0.1:0", "", "127.0.0.1:9999", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	uri := g.Snapshot().API(apiID).Stages[stageName].Route("sendmessage").Integration.URI
	if want := "http://127.0.0.1:9999/sendmessage"; uri != want {
		t.Errorf("sendmessage integration URI = %q, want %q", uri, want)
	}
}

// iamEnforced turns on IAM signature checks with one user allowed to manage the chat's dev connections, as
// the README's "Securing Switchboard" section does.
const iamEnforced = `
iam:
  enforce: true
  users:
    - name: chat-backend
      accessKeyId: AKIAIOSFODNN7EXAMPLE
      secretAccessKey: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
      policy: |
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
          "Action": "execute-api:ManageConnections",
          "Resource": "arn:aws:execute-api:us-east-1:*:chat/dev/POST/@connections/*"}]}
`

// TestBackendCredentialChain runs the chat against a gateway that enforces IAM: the backend signs with
// the credentials of the standard AWS chain (environment, then the shared files' profile); a backend
// without any signs with placeholder credentials, which the gateway refuses. The machine's own AWS
// settings are hidden from every case.
func TestBackendCredentialChain(t *testing.T) {
	const credentialsFile = "[chat]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
	cases := []struct {
		name    string
		env     map[string]string
		refusal string // the error code of a refused PostToConnection; "" when it is delivered
	}{
		{"environment", map[string]string{
			"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}, ""},
		{"shared credentials file profile", map[string]string{"AWS_PROFILE": "chat", "credentials": credentialsFile}, ""},
		{"none: placeholder credentials are refused", nil, "UnrecognizedClientException"},
		{"wrong secret in the environment", map[string]string{
			"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "not-the-secret"}, "InvalidSignatureException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			shared := filepath.Join(dir, "credentials")
			if err := os.WriteFile(shared, []byte(tc.env["credentials"]), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CA_BUNDLE"} {
				t.Setenv(k, tc.env[k])
			}
			t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", shared)

			c := startChatWith(t, iamEnforced)
			members := c.connect(2)
			err := c.backend.post(t.Context(), members[0].id, []byte("direct"))
			var apiErr smithy.APIError
			switch {
			case tc.refusal == "" && err != nil:
				t.Fatalf("PostToConnection: %v", err)
			case tc.refusal != "" && (!errors.As(err, &apiErr) || apiErr.ErrorCode() != tc.refusal):
				t.Fatalf("PostToConnection: err = %v, want %s", err, tc.refusal)
			case tc.refusal != "":
				return
			}
			expect(t, members[:1], "direct")
			members[1].Send(`{"action":"sendmessage","data":"signed"}`)
			expect(t, members, "signed")
		})
	}
}
