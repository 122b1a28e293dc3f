package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-gw/switchboard/internal/proxyevent"
)

// The raw Lambda bridge answers a real WebSocket client with the real Go function's reply, and with
// -connect upgrades only when the function answers the $connect event with 200: otherwise the client gets
// the function's status, no upgrade, and the refusal is logged.
func TestLambdaBridge(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the bench and starts function processes")
	}
	exe := buildBench(t)
	for _, tc := range []struct {
		name       string
		connect    bool
		query      string
		wantStatus int // the handshake's status: 101 when upgraded
		wantLog    string
	}{
		{name: "no $connect", wantStatus: http.StatusSwitchingProtocols},
		{name: "no $connect: a status in the query changes nothing", query: "?status=403", wantStatus: http.StatusSwitchingProtocols},
		{name: "$connect answered 200", connect: true, wantStatus: http.StatusSwitchingProtocols},
		{name: "$connect answered 403", connect: true, query: "?status=403", wantStatus: http.StatusForbidden,
			wantLog: "the function answered 403; handshake refused"},
		{name: "$connect answered 500", connect: true, query: "?status=500", wantStatus: http.StatusInternalServerError,
			wantLog: "the function answered 500; handshake refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logBuf bytes.Buffer
			log := &lockedWriter{w: &logBuf}
			lb, err := newLambdaBridge(lambdaBridgeOptions{exe: exe, procs: 2, connect: tc.connect, log: log})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(lb)
			defer lb.close()
			defer srv.Close()
			logged := func() string {
				log.mu.Lock()
				defer log.mu.Unlock()
				return logBuf.String()
			}

			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/" + tc.query
			conn, resp, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
			if resp == nil {
				t.Fatalf("handshake: no response: %v", err)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("handshake: status %d (%v), want %d", resp.StatusCode, err, tc.wantStatus)
			}
			if tc.wantStatus != http.StatusSwitchingProtocols {
				if conn != nil || err == nil {
					t.Fatalf("handshake refused with %d but upgraded", resp.StatusCode)
				}
				if !strings.Contains(logged(), tc.wantLog) {
					t.Errorf("log lacks %q:\n%s", tc.wantLog, logged())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			for i := range 5 { // more messages than processes: each process is used again
				msg := message("lambda", 100+i)
				if err := roundTrip(conn, msg, msg, 10*time.Second); err != nil {
					t.Fatalf("message %d: %v\nlog:\n%s", i, err, logged())
				}
			}
			if l := logged(); l != "" {
				t.Errorf("unexpected log:\n%s", l)
			}
		})
	}
}

// The event the bridge sends for a message is byte for byte the gateway's MESSAGE event for the same
// values (proxyevent.MessageEvent), whatever the body, user agent and host.
func TestMessageTemplate(t *testing.T) {
	for _, tc := range []struct {
		name, body, userAgent, host string
	}{
		{"bench message", string(message("lambda", 100)), "Go-http-client/1.1", "127.0.0.1:8080"},
		{"no user agent", `{"action":"lambda"}`, "", "127.0.0.1:8080"},
		{"escapes", "quote \" backslash \\ tab \t newline \n nul \x00 del \x7f <&> é 😀 \u2028\u2029", `agent "x"`, "h\\ost"},
		{"invalid UTF-8", "a\xffb\xc3", "ua\xfe", "host"},
		{"empty body", "", "ua", ""},
		{"markers in the values", markBody + markRequestID + "1111111111111", markUserAgent, markDomainName},
	} {
		t.Run(tc.name, func(t *testing.T) { checkMessageTemplate(t, tc.body, tc.userAgent, tc.host) })
	}
}

// FuzzMessageTemplate checks the bridge's MESSAGE events against the gateway's for any body, user agent
// and host.
func FuzzMessageTemplate(f *testing.F) {
	f.Add(string(message("lambda", 100)), "Go-http-client/1.1", "127.0.0.1:8080")
	f.Add("", "", "")
	f.Add("\"\\\x00\u2028\xff", "\x1f", "\u2029")
	f.Fuzz(func(t *testing.T, body, userAgent, host string) { checkMessageTemplate(t, body, userAgent, host) })
}

func checkMessageTemplate(t *testing.T, body, userAgent, host string) {
	t.Helper()
	tmpl, err := newMessageTemplate(userAgent != "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 1, 2, 3, 456789000, time.UTC)
	c := &bridgeConn{id: "L0SM9cOFvHcCIhw=", connectedAt: now.Add(-time.Minute).UnixMilli(), sourceIP: "127.0.0.2",
		userAgent: userAgent, domainName: host}
	got := tmpl.renderIDs(c, []byte(body), now, "reqID0123456789=", "msgID0123456789=")
	rc := proxyevent.RequestContext{RouteKey: bridgeRouteKey, MessageID: "msgID0123456789=", EventType: proxyevent.EventMessage,
		ExtendedRequestID: "reqID0123456789=", RequestID: "reqID0123456789=", MessageDirection: "IN", Stage: benchStage,
		ConnectedAt: c.connectedAt, Identity: proxyevent.Identity{SourceIP: c.sourceIP, UserAgent: userAgent},
		DomainName: host, ConnectionID: c.id, APIID: benchAPIID}
	rc.SetRequestTime(now)
	if want := proxyevent.MessageEvent(&rc, []byte(body), nil); !bytes.Equal(got, want) {
		t.Errorf("the bridge's event differs from the gateway's:\n got %s\nwant %s", got, want)
	}
}
