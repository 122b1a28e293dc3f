package chatlambda_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"

	"github.com/switchboard-gw/switchboard/examples/chat-lambda/chat"
	"github.com/switchboard-gw/switchboard/examples/chat-lambda/store"
	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
	"github.com/switchboard-gw/switchboard/internal/localca"
)

// configYAML is the example's switchboard.yaml; the tests rewrite its paths.
//
//go:embed switchboard.yaml
var configYAML string

const (
	waitFor = 10 * time.Second
	// defaultStoreDir is CHAT_STORE_DIR in switchboard.yaml.
	defaultStoreDir = "/tmp/switchboard-chat-lambda"
	// disconnectRoute is the $disconnect route in switchboard.yaml.
	disconnectRoute = "      - routeKey: $disconnect\n        target: integrations/disconnect\n"
	// functionsSection starts the functions: list in switchboard.yaml.
	functionsSection = "\nfunctions:\n"
)

// replaceAll replaces old with repl in s, and fails the test unless old occurs n times.
func replaceAll(t *testing.T, s, old, repl string, n int) string {
	t.Helper()
	if got := strings.Count(s, old); got != n {
		t.Fatalf("switchboard.yaml contains %q %d times, want %d", old, got, n)
	}
	return strings.ReplaceAll(s, old, repl)
}

// withoutDisconnect returns cfg without its $disconnect route: a client that goes away then stays in the
// store, as one does on AWS when its $disconnect is lost, until a broadcast meets GoneException.
func withoutDisconnect(t *testing.T, cfg string) string {
	t.Helper()
	return replaceAll(t, cfg, disconnectRoute, "", 1)
}

// env is the test's CA and the TLS options every gateway gets: the data-plane port answers https:// with
// a certificate from the CA, whose PEM file the functions receive as AWS_CA_BUNDLE.
type env struct {
	ca    *localca.CA
	roots *x509.CertPool
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ca, err := localca.Ensure(t.TempDir(), localca.DefaultHosts)
	if err != nil {
		t.Fatalf("local CA: %v", err)
	}
	pem, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", ca.CertFile)
	}
	return &env{ca: ca, roots: roots}
}

func (e *env) options(o *gateway.Options) {
	o.TLS = &tls.Config{Certificates: []tls.Certificate{e.ca.Certificate}}
	o.CABundle = e.ca.CertFile
	// A generous shutdown timeout: the gateway's graceful stop must not fail the test on a slow machine.
	o.ShutdownTimeout = 20 * time.Second
}

// chatAPI is the example running end to end: a gateway serving the chat API, whose functions share store.
type chatAPI struct {
	t       *testing.T
	env     *env
	gateway *gatewaytest.Gateway
	store   *store.Store
}

// starter starts the chat API for a test, with or without its $disconnect route.
type starter func(t *testing.T, withDisconnect bool) *chatAPI

// ids returns the connection IDs in the store.
func (c *chatAPI) ids() []string {
	c.t.Helper()
	ids, err := c.store.List()
	if err != nil {
		c.t.Fatal(err)
	}
	return ids
}

// knows reports whether the store has id.
func (c *chatAPI) knows(id string) bool { return slices.Contains(c.ids(), id) }

// member is one connected chat client and its connection ID.
type member struct {
	*gatewaytest.Client
	id string
}

// connect dials n clients one after the other — the first over wss://, trusting the test's CA — and
// learns each one's ID from the store: each dial's $connect adds exactly one new ID.
func (c *chatAPI) connect(n int) []member {
	c.t.Helper()
	members := make([]member, 0, n)
	for i := range n {
		before := c.ids()
		url, opts := c.gateway.WSURL+"/chatlambda/dev", (*websocket.DialOptions)(nil)
		if i == 0 {
			url = "wss://" + strings.TrimPrefix(url, "ws://")
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.env.roots}}
			c.t.Cleanup(tr.CloseIdleConnections)
			opts = &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}}
		}
		client := gatewaytest.Dial(c.t, url, opts)
		var id string
		gatewaytest.Eventually(c.t, waitFor, func() bool {
			for _, got := range c.ids() {
				if !slices.Contains(before, got) {
					id = got
					return true
				}
			}
			return false
		}, "$connect did not store client %d", i+1)
		members = append(members, member{Client: client, id: id})
	}
	gatewaytest.Eventually(c.t, waitFor, func() bool { return len(c.ids()) == n && c.gateway.Connections() == n },
		"the store has %d connections, the gateway %d; want %d", len(c.ids()), c.gateway.Connections(), n)
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

// testChat runs the chat's scenarios against the API start brings up.
func testChat(t *testing.T, start starter) {
	t.Run("broadcast reaches every client including the sender", func(t *testing.T) {
		c := start(t, true)
		m := c.connect(3)
		m[1].Send(`{"action":"sendmessage","data":"hello"}`)
		expect(t, m, "hello")
		m[0].Send(`{"action":"sendmessage","data":{"text":"hi","n":1}}`)
		expect(t, m, `{"text":"hi","n":1}`)
	})

	t.Run("a closed client is removed by $disconnect", func(t *testing.T) {
		c := start(t, true)
		m := c.connect(3)
		if err := m[2].Conn.Close(websocket.StatusNormalClosure, "bye"); err != nil {
			t.Fatalf("close: %v", err)
		}
		gatewaytest.Eventually(t, waitFor, func() bool { return !c.knows(m[2].id) }, "the store still has %s after its $disconnect", m[2].id)
		m[0].Send(`{"action":"sendmessage","data":"two left"}`)
		expect(t, m[:2], "two left")
	})

	t.Run("a client that vanished unheard is pruned on GoneException", func(t *testing.T) {
		c := start(t, false)
		m := c.connect(3)
		lost, others := m[1], []member{m[0], m[2]}
		lost.Conn.CloseNow() // drop the TCP connection without a close frame
		gatewaytest.Eventually(t, waitFor, func() bool { return c.gateway.Connections() == 2 }, "the gateway still has %d connections", c.gateway.Connections())
		if !c.knows(lost.id) {
			t.Fatalf("the store lost %s although the API has no $disconnect route", lost.id)
		}
		m[0].Send(`{"action":"sendmessage","data":"anyone there?"}`)
		expect(t, others, "anyone there?")
		gatewaytest.Eventually(t, waitFor, func() bool { return !c.knows(lost.id) }, "sendmessage kept %s after GoneException", lost.id)
		m[2].Send(`{"action":"sendmessage","data":"still two"}`)
		expect(t, others, "still two")
		if got := c.ids(); !slices.Equal(got, slices.Sorted(slices.Values([]string{m[0].id, m[2].id}))) {
			t.Errorf("store has %q, want the two remaining clients", got)
		}
	})
}

// buildHandlers builds the three handler binaries into dir.
func buildHandlers(t *testing.T, dir string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./handlers/...")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./handlers/...: %v\n%s", err, out)
	}
	for _, name := range []string{"connect", "disconnect", "sendmessage"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Fatalf("handler binary: %v", err)
		}
	}
}

// TestLocalFunctions runs the handler binaries as local functions: switchboard.yaml as it is, with the
// handler paths and CHAT_STORE_DIR pointing into temporary directories.
func TestLocalFunctions(t *testing.T) {
	bin := t.TempDir()
	buildHandlers(t, bin)
	e := newEnv(t)
	testChat(t, func(t *testing.T, withDisconnect bool) *chatAPI {
		dir := t.TempDir()
		cfg := replaceAll(t, configYAML, "handler: bin/", "handler: "+bin+string(filepath.Separator), 3)
		cfg = replaceAll(t, cfg, defaultStoreDir, strconv.Quote(dir), 3)
		if !withDisconnect {
			cfg = withoutDisconnect(t, cfg)
		}
		s, err := store.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		return &chatAPI{t: t, env: e, store: s, gateway: gatewaytest.Start(t, cfg, e.options)}
	})
}

// lambdaAPI is a stand-in for the Lambda Invoke API that runs the chat's functions in this process.
type lambdaAPI struct {
	http.Handler
	mu      sync.Mutex
	invoked map[string]int // invocations per function name
}

// functions maps the names in switchboard.yaml's integration URIs to the functions.
var functions = map[string]func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error){
	"chatConnect":     chat.Connect,
	"chatDisconnect":  chat.Disconnect,
	"chatSendMessage": chat.SendMessage,
}

// newLambdaAPI returns a handler for POST /2015-03-31/functions/{function}/invocations.
func newLambdaAPI() *lambdaAPI {
	l := &lambdaAPI{invoked: make(map[string]int)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2015-03-31/functions/{function}/invocations", l.invoke)
	l.Handler = mux
	return l
}

// invoke answers as Lambda's Invoke does for a RequestResponse invocation: 200 with the function's
// result, or with its error document and X-Amz-Function-Error when it fails.
func (l *lambdaAPI) invoke(w http.ResponseWriter, r *http.Request) {
	// The function is a name, a partial ARN or an ARN, perhaps with a qualifier.
	name := r.PathValue("function")
	if _, after, ok := strings.Cut(name, "function:"); ok {
		name = after
	}
	name, _, _ = strings.Cut(name, ":")
	fn, ok := functions[name]
	if !ok {
		w.Header().Set("X-Amzn-Errortype", "ResourceNotFoundException")
		http.Error(w, `{"Type":"User","message":"Function not found: `+name+`"}`, http.StatusNotFound)
		return
	}
	l.mu.Lock()
	l.invoked[name]++
	l.mu.Unlock()
	var event events.APIGatewayWebsocketProxyRequest
	if err := json.NewDecoder(r.Body).Decode(&event); err != nil {
		http.Error(w, `{"Type":"User","message":"Could not parse request body into json"}`, http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	resp, err := fn(r.Context(), event)
	if err != nil {
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		body, _ := json.Marshal(map[string]string{"errorMessage": err.Error(), "errorType": "errorString"})
		_, _ = w.Write(body)
		return
	}
	body, _ := json.Marshal(resp)
	_, _ = w.Write(body)
}

// invocations returns how often function was invoked.
func (l *lambdaAPI) invocations(function string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.invoked[function]
}

// TestLambdaInvokeAPI runs the same API without functions:, so that its AWS_PROXY integrations go to the
// Lambda Invoke API — here a stand-in at AWS_ENDPOINT_URL_LAMBDA that calls the chat package in-process,
// whose SendMessage reaches the gateway over https:// trusting AWS_CA_BUNDLE, as a function on AWS would.
func TestLambdaInvokeAPI(t *testing.T) {
	quietLog(t)
	e := newEnv(t)
	base, _, ok := strings.Cut(configYAML, functionsSection)
	if !ok {
		t.Fatalf("switchboard.yaml has no %q", functionsSection)
	}
	noConfig := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"AWS_SESSION_TOKEN": "", "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true", "AWS_PROFILE": "",
		"AWS_CONFIG_FILE": noConfig, "AWS_SHARED_CREDENTIALS_FILE": noConfig, "AWS_CA_BUNDLE": e.ca.CertFile,
	} {
		t.Setenv(k, v)
	}
	testChat(t, func(t *testing.T, withDisconnect bool) *chatAPI {
		dir := t.TempDir()
		t.Setenv(store.EnvDir, dir)
		s, err := store.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		l := newLambdaAPI()
		srv := httptest.NewServer(l)
		t.Cleanup(srv.Close) // registered first, so it runs after the gateway (and its $disconnects) stopped
		t.Setenv("AWS_ENDPOINT_URL_LAMBDA", srv.URL)
		cfg := base
		if !withDisconnect {
			cfg = withoutDisconnect(t, cfg)
		}
		c := &chatAPI{t: t, env: e, store: s, gateway: gatewaytest.Start(t, cfg, e.options)}
		t.Cleanup(func() {
			if l.invocations("chatConnect") == 0 {
				t.Error("the stand-in Lambda API was never invoked")
			}
		})
		return c
	})
}

// quietLog sends the in-process functions' log output to the test log when SWITCHBOARD_TEST_LOG is set,
// and discards it otherwise, as gatewaytest does with the gateway's.
func quietLog(t *testing.T) {
	w := log.Writer()
	t.Cleanup(func() { log.SetOutput(w) })
	if os.Getenv("SWITCHBOARD_TEST_LOG") == "" {
		log.SetOutput(io.Discard)
		return
	}
	log.SetOutput(testWriter{t})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
