package gateway_test

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	gorilla "github.com/gorilla/websocket"

	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// browser is a headless Chromium driven over the DevTools protocol: one page, commands sent one at a
// time.
type browser struct {
	t       *testing.T
	ws      *gorilla.Conn
	session string
	next    int
}

// startChromium runs Debian's chromium headless and opens url in a page. Without chromium the test is
// skipped, unless SWITCHBOARD_REQUIRE_CHROMIUM is set (CI installs it), when it fails.
func startChromium(t *testing.T, url string) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("SWITCHBOARD_REQUIRE_CHROMIUM") != "" {
			t.Fatalf("chromium not found (Debian's chromium package): %v", err)
		}
		t.Skip("chromium not installed (apt-get install chromium); .ci/run installs it and runs this test")
	}
	// The profile directory is removed by hand: Chromium's helper processes may still be writing to it for
	// a moment after they are killed, which t.TempDir's check would report as a failure.
	profile, err := os.MkdirTemp("", "switchboard-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--remote-debugging-port=0", "--user-data-dir="+profile, "--window-size=1400,900", "about:blank")
	// Its own process group, so that stopping it stops its helper processes too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var drained sync.WaitGroup
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		drained.Wait()
		_ = os.RemoveAll(profile)
	})
	found := make(chan string, 1)
	drained.Go(func() {
		sc := bufio.NewScanner(stderr)
		re := regexp.MustCompile(`DevTools listening on (ws://\S+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	})
	var wsURL string
	select {
	case wsURL = <-found:
	case <-time.After(60 * time.Second):
		t.Fatal("chromium did not print its DevTools address within 60s")
	}
	ws, _, err := gorilla.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	b := &browser{t: t, ws: ws}
	target := b.call("Target.createTarget", map[string]any{"url": url})
	var tid struct {
		TargetID string `json:"targetId"`
	}
	_ = json.Unmarshal(target, &tid)
	att := b.call("Target.attachToTarget", map[string]any{"targetId": tid.TargetID, "flatten": true})
	var sid struct {
		SessionID string `json:"sessionId"`
	}
	_ = json.Unmarshal(att, &sid)
	b.session = sid.SessionID
	return b
}

// call sends one command and returns its result, skipping the events that arrive meanwhile.
func (b *browser) call(method string, params map[string]any) json.RawMessage {
	b.t.Helper()
	b.next++
	msg := map[string]any{"id": b.next, "method": method, "params": params}
	if b.session != "" {
		msg["sessionId"] = b.session
	}
	_ = b.ws.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if err := b.ws.WriteJSON(msg); err != nil {
		b.t.Fatalf("%s: %v", method, err)
	}
	_ = b.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		var resp struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := b.ws.ReadJSON(&resp); err != nil {
			b.t.Fatalf("%s: %v", method, err)
		}
		if resp.ID != b.next {
			continue
		}
		if resp.Error != nil {
			b.t.Fatalf("%s: %s", method, resp.Error.Message)
		}
		return resp.Result
	}
}

// eval evaluates a JavaScript expression in the page and returns its value as JSON text; an exception
// fails the test.
func (b *browser) eval(expr string) string {
	b.t.Helper()
	v, err := b.try(expr)
	if err != nil {
		b.t.Fatalf("eval %s: %v", expr, err)
	}
	return v
}

// try evaluates expr and returns its value as JSON text, or the exception it threw.
func (b *browser) try(expr string) (string, error) {
	b.t.Helper()
	res := b.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true})
	var out struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	_ = json.Unmarshal(res, &out)
	if out.ExceptionDetails != nil {
		return "", fmt.Errorf("%s", out.ExceptionDetails.Text)
	}
	return string(out.Result.Value), nil
}

// waitFor polls expr until it is true.
func (b *browser) waitFor(expr, what string) {
	b.t.Helper()
	// While the page loads, expressions may throw (no body yet): that is "not yet".
	gatewaytest.Eventually(b.t, 30*time.Second, func() bool { v, err := b.try(expr); return err == nil && v == "true" },
		"the page never showed %s (%s)", what, expr)
}

// The development console in a real browser: it shows the API's routes, sees a client connect, shows its
// frames with the route chosen, the exact event a Lambda function (a real aws-lambda-go handler) was
// invoked with and what it answered, sends a message as the client and posts one as a backend (both
// reach the client), disconnects it, shows how it closed (the stage has no $disconnect route), and shows
// AWS's 410 for a post to the closed connection.
func TestConsoleInChromium(t *testing.T) {
	bin, err := buildHandler()
	if err != nil {
		t.Fatal(err)
	}
	g := gatewaytest.Start(t, fmt.Sprintf(`
apis:
  - name: chat
    apiId: chat
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - integrationId: pong
        integrationType: MOCK
        requestTemplates: {"$default": '{"statusCode": 200}'}
        integrationResponses: [{integrationResponseKey: $default, responseTemplates: {"$default": '{"action":"pong"}'}}]
      - integrationId: fn
        integrationType: AWS_PROXY
        integrationUri: arn:aws:lambda:us-east-1:123456789012:function:echo
    routes:
      - {routeKey: ping, target: integrations/pong, routeResponses: [{routeResponseKey: $default}]}
      - {routeKey: echo, target: integrations/fn, routeResponses: [{routeResponseKey: $default}]}
    stages: [{stageName: dev}]
functions:
  - {functionName: echo, handler: %q}
`, bin), gatewaytest.WithControlPlane)
	b := startChromium(t, g.ControlURL+"/console/")
	b.waitFor(`document.body.dataset.live === "1"`, "its event stream open")
	b.waitFor(`document.getElementById("stages").textContent.includes("ping → MOCK")`, "the ping route")

	c := gatewaytest.Dial(t, g.WSURL+"/chat/dev", &websocket.DialOptions{HTTPHeader: map[string][]string{"User-Agent": {"console-test"}}})
	b.waitFor(`document.querySelectorAll("#connections li").length === 1`, "the new connection")
	b.eval(`document.querySelector("#connections li").click()`)
	b.waitFor(`document.getElementById("identity").textContent.includes("console-test")`, "the connection's identity")

	c.Send(`{"action":"ping"}`)
	if got := c.Read(); got != `{"action":"pong"}` {
		t.Fatalf("ping: %q", got)
	}
	b.waitFor(`[...document.querySelectorAll("#frames tr.in td.data")].some(td => td.textContent === '{"action":"ping"}')`, "the client's frame")
	b.waitFor(`[...document.querySelectorAll("#frames tr.out td.data")].some(td => td.textContent === '{"action":"pong"}')`, "the reply frame")
	b.waitFor(`[...document.querySelectorAll("#frames tr.route")].some(tr => tr.cells[2].textContent === "ping" && tr.cells[3].textContent === "200")`, "the route chosen")

	// The function's event and answer, exactly: the proxy event names this connection and carries the
	// message; the answer is the handler's proxy response.
	c.Send(`{"action":"echo","n":1}`)
	var echoed struct {
		ConnectionID string `json:"connectionId"`
		RouteKey     string `json:"routeKey"`
	}
	if err := json.Unmarshal([]byte(c.Read()), &echoed); err != nil || echoed.RouteKey != "echo" {
		t.Fatalf("echo: %+v, %v", echoed, err)
	}
	trace := `[...document.querySelectorAll("#frames tr.integration")].find(tr => tr.cells[2].textContent === "echo")`
	b.waitFor(trace+` !== undefined`, "the function call")
	event := b.eval(trace + `.querySelector("pre.request").textContent`)
	var ev struct {
		RequestContext struct {
			ConnectionID string `json:"connectionId"`
			EventType    string `json:"eventType"`
			RouteKey     string `json:"routeKey"`
		} `json:"requestContext"`
		Body string `json:"body"`
	}
	var text string
	if err := json.Unmarshal([]byte(event), &text); err != nil || json.Unmarshal([]byte(text), &ev) != nil {
		t.Fatalf("the page's event is not JSON: %s", event)
	}
	if ev.RequestContext.ConnectionID != echoed.ConnectionID || ev.RequestContext.EventType != "MESSAGE" ||
		ev.RequestContext.RouteKey != "echo" || ev.Body != `{"action":"echo","n":1}` {
		t.Fatalf("the page shows the event %s", text)
	}
	b.waitFor(trace+`.querySelector("pre.response").textContent.includes('"statusCode": 200')`, "the function's answer")
	if got := b.eval(trace + `.querySelector("summary").textContent`); !strings.HasPrefix(got, `"function arn:aws:lambda:us-east-1:123456789012:function:echo (integration fn)`) {
		t.Fatalf("the call is summed up as %s", got)
	}
	b.eval(trace + `.querySelector("details").open = true`)

	// Post as a backend.
	b.eval(`document.getElementById("message").value = "from the console"; document.getElementById("post").click()`)
	if got := c.Read(); got != "from the console" {
		t.Fatalf("post from the console: %q", got)
	}
	b.waitFor(`document.getElementById("result").textContent.startsWith("200")`, "the post's 200")
	// Send as the client: routed like the client's own message, so the client gets the reply.
	b.eval(`document.getElementById("message").value = '{"action":"ping"}'; document.getElementById("send").click()`)
	if got := c.Read(); got != `{"action":"pong"}` {
		t.Fatalf("send as the client: %q", got)
	}

	shot := b.call("Page.captureScreenshot", map[string]any{"format": "png"})
	var png struct {
		Data string `json:"data"`
	}
	_ = json.Unmarshal(shot, &png)
	img, err := base64.StdEncoding.DecodeString(png.Data)
	if err != nil || len(img) < 1000 || !strings.HasPrefix(string(img), "\x89PNG") {
		t.Fatalf("screenshot: %d bytes, %v", len(img), err)
	}
	// SWITCHBOARD_CONSOLE_SCREENSHOT=docs/console.png (relative to the module) refreshes the README's picture.
	if p := os.Getenv("SWITCHBOARD_CONSOLE_SCREENSHOT"); p != "" {
		if err := os.WriteFile(p, img, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Disconnect from the page; a post to the closed connection then shows AWS's 410.
	b.eval(`document.getElementById("disconnect").click()`)
	if code := c.ExpectClose(); code != websocket.StatusNormalClosure {
		t.Fatalf("close code %v, want 1000", code)
	}
	b.waitFor(`document.querySelector("#connections li").classList.contains("closed")`, "the connection closed")
	// No $disconnect route, and still the close is shown with the code its $disconnect event would carry.
	b.waitFor(`[...document.querySelectorAll("#frames tr.disconnect")].some(tr => tr.cells[3].textContent.startsWith("1000"))`, "how the connection closed")
	b.eval(`document.getElementById("message").value = "too late"; document.getElementById("post").click()`)
	b.waitFor(`document.getElementById("result").textContent.startsWith("410")`, "the post's 410")
}
