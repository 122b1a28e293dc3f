package dispatch

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/integration"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// answerInvoker answers every integration with status and a subprotocol, and counts its calls.
type answerInvoker struct {
	status int
	calls  chan *integration.Request
}

func (a *answerInvoker) Invoke(_ context.Context, _ *snapshot.Integration, req *integration.Request) (*integration.Response, error) {
	a.calls <- req
	return &integration.Response{StatusCode: a.status, Header: http.Header{"Sec-Websocket-Protocol": {"chat"}}}, nil
}

// connectDispatcher is a Dispatcher for one WebSocket API, "a", stage "dev", whose $connect route's
// integration, of type typ (HTTP_PROXY or MOCK), is inv.
func connectDispatcher(t *testing.T, typ string, inv integration.Invoker) *Dispatcher {
	t.Helper()
	in := resource.Integration{IntegrationID: "c", IntegrationType: typ, IntegrationURI: "http://127.0.0.1:9/connect"}
	if typ == resource.IntegrationMock {
		in.IntegrationURI, in.RequestTemplates = "", map[string]string{"$default": `{"statusCode": 200}`}
	}
	set, err := snapshot.Compile(&resource.Bundle{APIs: []resource.API{{
		APIID: "a", Name: "a", ProtocolType: "WEBSOCKET", RouteSelectionExpression: "$request.body.action",
		Integrations: []resource.Integration{in},
		Routes:       []resource.Route{{RouteKey: "$connect", Target: "integrations/c"}},
		Stages:       []resource.Stage{{StageName: "dev"}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	var h snapshot.Holder
	h.Store(set)
	d := New(&h, map[string]integration.Invoker{typ: inv}, Auth{}, slog.New(slog.DiscardHandler))
	t.Cleanup(d.Wait)
	return d
}

// TestConnectIntegrationRunsOnAWorker checks that handshakes, one after another, run their $connect
// integration on the one background worker, whose stack has grown once, rather than on each handshake's
// new goroutine, and that the decision is the integration's.
func TestConnectIntegrationRunsOnAWorker(t *testing.T) {
	inv := &answerInvoker{status: http.StatusOK, calls: make(chan *integration.Request, 1)}
	d := connectDispatcher(t, "HTTP_PROXY", inv)
	deadline := time.Now().Add(10 * time.Second)
	for i := range 20 {
		c := &Connection{ID: "conn" + string(rune('A'+i)), APIID: "a", Stage: "dev", ConnectedAt: time.Now().UnixMilli()}
		dec := d.Connect(t.Context(), c, &Handshake{Header: http.Header{"Sec-Websocket-Protocol": {"chat"}}, Query: url.Values{}})
		if !dec.Accepted() || dec.Subprotocol != "chat" {
			t.Fatalf("handshake %d: %+v, want accepted with subprotocol chat", i, dec)
		}
		if req := <-inv.calls; req.Context.ConnectionID != c.ID {
			t.Fatalf("handshake %d: the integration got connection %q, want %q", i, req.Context.ConnectionID, c.ID)
		}
		// Poll until the worker waits for the next job, as a handshake a moment later would find it.
		for d.background.waiting.Load() == 0 && time.Now().Before(deadline) {
			runtime.Gosched()
		}
	}
	// One, unless a handshake came in the instant between the worker saying it waits and its receive.
	if n := d.background.started.Load(); n < 1 || n > 5 {
		t.Errorf("%d workers started for 20 handshakes one after another, want about 1", n)
	}
}

// TestConnectIntegrationRejects checks that an integration's refusal, run on a worker, still refuses
// the handshake with its status.
func TestConnectIntegrationRejects(t *testing.T) {
	inv := &answerInvoker{status: http.StatusForbidden, calls: make(chan *integration.Request, 1)}
	d := connectDispatcher(t, "HTTP_PROXY", inv)
	dec := d.Connect(t.Context(), &Connection{ID: "c1", APIID: "a", Stage: "dev"}, &Handshake{Header: http.Header{}, Query: url.Values{}})
	<-inv.calls
	if dec.Accepted() || dec.Status != http.StatusForbidden {
		t.Errorf("decision %+v, want 403", dec)
	}
}

// TestConnectMockRunsInline checks that a MOCK $connect integration, which does no I/O, runs on the
// handshake's goroutine, as MOCK message integrations do: no worker is started for it.
func TestConnectMockRunsInline(t *testing.T) {
	inv := &answerInvoker{status: http.StatusOK, calls: make(chan *integration.Request, 1)}
	d := connectDispatcher(t, resource.IntegrationMock, inv)
	dec := d.Connect(t.Context(), &Connection{ID: "c1", APIID: "a", Stage: "dev"}, &Handshake{Header: http.Header{}, Query: url.Values{}})
	<-inv.calls
	if !dec.Accepted() {
		t.Errorf("decision %+v, want accepted", dec)
	}
	if n := d.background.started.Load(); n != 0 {
		t.Errorf("%d workers started for a MOCK $connect, want 0", n)
	}
}
