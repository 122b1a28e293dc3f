package awsinvoke

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/switchboard-gw/switchboard/internal/lambda"
)

// call is one Invoke request as the stand-in Lambda endpoint saw it.
type call struct {
	Method, Path, Function, RawQuery string
	Header                           http.Header
	Body                             string
}

// fakeLambda answers POST /2015-03-31/functions/{FunctionName}/invocations the way the Lambda service
// does, by function name: "missing" → 404 ResourceNotFoundException, "busy" → 429, "toolarge" and
// "toolarge-model" → 413 under the service's and the SDK model's error names, "crash" → 200 with
// X-Amz-Function-Error, "hang" → no answer until the caller gives up, anything else → 200 echoing the
// payload.
type fakeLambda struct {
	*httptest.Server
	mu    sync.Mutex
	calls []call
}

func newFakeLambda(t *testing.T) *fakeLambda {
	t.Helper()
	f := &fakeLambda{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		name := r.PathValue("name")
		f.mu.Lock()
		f.calls = append(f.calls, call{Method: r.Method, Path: r.URL.EscapedPath(), Function: name, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(body)})
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-Requestid", "8f6c2f2a-7c55-4c3f-9d6c-2d5f4a0b1c3e")
		short := name[strings.LastIndex(name, ":")+1:]
		switch {
		case strings.HasSuffix(name, "function:missing") || name == "missing":
			w.Header().Set("X-Amzn-ErrorType", "ResourceNotFoundException")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"Type":"User","message":"Function not found: arn:aws:lambda:us-east-1:123456789012:function:%s"}`, short)
		case name == "busy":
			w.Header().Set("X-Amzn-ErrorType", "TooManyRequestsException")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"Reason":"ReservedFunctionConcurrentInvocationLimitExceeded","Type":"User","message":"Rate Exceeded."}`)
		case name == "toolarge" || name == "toolarge-model":
			code := "RequestEntityTooLargeException"
			if name == "toolarge-model" {
				code = "RequestTooLargeException"
			}
			w.Header().Set("X-Amzn-ErrorType", code)
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			_, _ = io.WriteString(w, `{"Type":"User","message":"Request must be smaller than 6291456 bytes for the InvokeFunction operation"}`)
		case name == "crash":
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			w.Header().Set("X-Amz-Executed-Version", "$LATEST")
			_, _ = io.WriteString(w, `{"errorMessage":"boom","errorType":"Error","trace":["Error: boom"]}`)
		case name == "hang":
			<-r.Context().Done()
		default:
			w.Header().Set("X-Amz-Executed-Version", "$LATEST")
			_, _ = w.Write(body)
		}
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *fakeLambda) only(t *testing.T) call {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) != 1 {
		t.Fatalf("endpoint received %d calls, want 1", len(f.calls))
	}
	return f.calls[0]
}

// isolate gives the test an environment with nothing of the machine's AWS configuration: static
// credentials, no shared files, IMDS off, and the Lambda endpoint at endpoint.
func isolate(t *testing.T, endpoint string) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "") // restores the old value after the test
			os.Unsetenv(k)
		}
	}
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", endpoint)
}

// loopbackOnly is an HTTP client that refuses to dial anything but loopback addresses and records
// every address it was asked for.
type loopbackOnly struct {
	mu     sync.Mutex
	dialed []string
	client *http.Client
}

func newLoopbackOnly(t *testing.T) *loopbackOnly {
	l := &loopbackOnly{}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	l.client = &http.Client{Transport: &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			l.mu.Lock()
			l.dialed = append(l.dialed, addr)
			l.mu.Unlock()
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return nil, fmt.Errorf("test refuses to dial non-loopback %s", addr)
			}
			return dialer.DialContext(ctx, network, addr)
		},
	}}
	t.Cleanup(func() {
		l.client.CloseIdleConnections()
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, a := range l.dialed {
			if host, _, _ := net.SplitHostPort(a); !net.ParseIP(host).IsLoopback() {
				t.Errorf("the SDK tried to reach %s", a)
			}
		}
	})
	return l
}

func newInvoker(t *testing.T, opts Options) *Invoker {
	t.Helper()
	if opts.HTTPClient == nil {
		opts.HTTPClient = newLoopbackOnly(t).client
	}
	inv, err := New(context.Background(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return inv
}

func TestInvoke(t *testing.T) {
	const payload = `{"requestContext":{"routeKey":"$default"},"body":"hi","isBase64Encoded":false}`
	tests := []struct {
		name         string
		function     string
		region       string // AWS_REGION; "" leaves Options.Region to decide
		wantFunction string // the {FunctionName} path segment, decoded
		wantScope    string // region in the SigV4 credential scope
	}{
		{name: "name", function: "echo", wantFunction: "echo", wantScope: "eu-central-1"},
		{name: "name with alias", function: "echo:live", wantFunction: "echo:live", wantScope: "eu-central-1"},
		{name: "AWS_REGION wins over the default", function: "echo", region: "ap-south-1", wantFunction: "echo", wantScope: "ap-south-1"},
		{name: "function ARN", function: "arn:aws:lambda:eu-central-1:123456789012:function:echo",
			wantFunction: "arn:aws:lambda:eu-central-1:123456789012:function:echo", wantScope: "eu-central-1"},
		{name: "qualified ARN", function: "arn:aws:lambda:eu-central-1:123456789012:function:echo:7",
			wantFunction: "arn:aws:lambda:eu-central-1:123456789012:function:echo:7", wantScope: "eu-central-1"},
		{name: "ARN of another region is signed for it", function: "arn:aws:lambda:us-west-2:123456789012:function:echo:live",
			wantFunction: "arn:aws:lambda:us-west-2:123456789012:function:echo:live", wantScope: "us-west-2"},
		{name: "partial ARN", function: "123456789012:function:echo", wantFunction: "123456789012:function:echo", wantScope: "eu-central-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFakeLambda(t)
			isolate(t, fake.URL)
			if tc.region != "" {
				t.Setenv("AWS_REGION", tc.region)
			}
			inv := newInvoker(t, Options{Region: "eu-central-1"})
			res, err := inv.Invoke(context.Background(), tc.function, []byte(payload))
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if string(res.Payload) != payload || res.FunctionError != "" {
				t.Errorf("result = %q, function error %q; want the echoed payload", res.Payload, res.FunctionError)
			}
			c := fake.only(t)
			if c.Function != tc.wantFunction {
				t.Errorf("FunctionName = %q (path %s), want %q", c.Function, c.Path, tc.wantFunction)
			}
			if c.RawQuery != "" {
				t.Errorf("query = %q, want none (the qualifier travels in the name)", c.RawQuery)
			}
			if c.Body != payload {
				t.Errorf("payload sent = %q", c.Body)
			}
			if got := c.Header.Get("X-Amz-Invocation-Type"); got != "RequestResponse" {
				t.Errorf("X-Amz-Invocation-Type = %q, want RequestResponse", got)
			}
			auth := c.Header.Get("Authorization")
			if want := "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"; !strings.HasPrefix(auth, want) {
				t.Errorf("Authorization = %q, want SigV4 with the static key", auth)
			}
			if want := "/" + tc.wantScope + "/lambda/aws4_request"; !strings.Contains(auth, want) {
				t.Errorf("Authorization = %q, want scope %s", auth, want)
			}
			if c.Header.Get("X-Amz-Date") == "" {
				t.Error("no X-Amz-Date")
			}
		})
	}
}

func TestInvokeDefaultRegion(t *testing.T) {
	fake := newFakeLambda(t)
	isolate(t, fake.URL)
	inv := newInvoker(t, Options{})
	if inv.Region() != DefaultRegion {
		t.Errorf("Region() = %q, want %q", inv.Region(), DefaultRegion)
	}
	if _, err := inv.Invoke(context.Background(), "echo", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if auth := fake.only(t).Header.Get("Authorization"); !strings.Contains(auth, "/us-east-1/lambda/") {
		t.Errorf("Authorization = %q, want the us-east-1 scope", auth)
	}
}

func TestInvokeGenericEndpoint(t *testing.T) {
	fake := newFakeLambda(t)
	isolate(t, "")
	os.Unsetenv("AWS_ENDPOINT_URL_LAMBDA")
	t.Setenv("AWS_ENDPOINT_URL", fake.URL)
	inv := newInvoker(t, Options{})
	if _, err := inv.Invoke(context.Background(), "echo", []byte(`{}`)); err != nil {
		t.Fatalf("Invoke through AWS_ENDPOINT_URL: %v", err)
	}
	fake.only(t)
}

func TestInvokeFailures(t *testing.T) {
	tests := []struct {
		name     string
		function string
		check    func(t *testing.T, res *lambda.Result, err error)
	}{
		{
			name: "function error is a result", function: "crash",
			check: func(t *testing.T, res *lambda.Result, err error) {
				if err != nil {
					t.Fatalf("err = %v, want a result", err)
				}
				if res.FunctionError != "Unhandled" || !strings.Contains(string(res.Payload), `"errorMessage":"boom"`) {
					t.Errorf("result = %q, function error %q", res.Payload, res.FunctionError)
				}
			},
		},
		{
			name: "function not found", function: "missing",
			check: func(t *testing.T, res *lambda.Result, err error) {
				var rnf *types.ResourceNotFoundException
				if !errors.Is(err, lambda.ErrFunctionNotFound) || !errors.As(err, &rnf) {
					t.Fatalf("err = %v, want ErrFunctionNotFound wrapping ResourceNotFoundException", err)
				}
				if !strings.Contains(rnf.ErrorMessage(), "Function not found") {
					t.Errorf("message = %q", rnf.ErrorMessage())
				}
			},
		},
		{
			name: "function ARN not found", function: "arn:aws:lambda:us-east-1:123456789012:function:missing",
			check: func(t *testing.T, res *lambda.Result, err error) {
				if !errors.Is(err, lambda.ErrFunctionNotFound) {
					t.Fatalf("err = %v, want ErrFunctionNotFound", err)
				}
			},
		},
		{
			name: "event too large", function: "toolarge",
			check: func(t *testing.T, res *lambda.Result, err error) {
				if !errors.Is(err, lambda.ErrRequestTooLarge) || errors.Is(err, lambda.ErrFunctionNotFound) {
					t.Fatalf("err = %v, want ErrRequestTooLarge", err)
				}
			},
		},
		{
			name: "event too large, the model's error name", function: "toolarge-model",
			check: func(t *testing.T, res *lambda.Result, err error) {
				var rtl *types.RequestTooLargeException
				if !errors.Is(err, lambda.ErrRequestTooLarge) || !errors.As(err, &rtl) {
					t.Fatalf("err = %v, want ErrRequestTooLarge wrapping RequestTooLargeException", err)
				}
			},
		},
		{
			name: "throttled", function: "busy",
			check: func(t *testing.T, res *lambda.Result, err error) {
				var tmr *types.TooManyRequestsException
				if !errors.As(err, &tmr) || errors.Is(err, lambda.ErrFunctionNotFound) {
					t.Fatalf("err = %v, want TooManyRequestsException", err)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFakeLambda(t)
			isolate(t, fake.URL)
			inv := newInvoker(t, Options{MaxAttempts: 1})
			res, err := inv.Invoke(context.Background(), tc.function, []byte(`{}`))
			tc.check(t, res, err)
			fake.only(t)
		})
	}
}

func TestInvokeConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	isolate(t, "http://"+addr)
	inv := newInvoker(t, Options{MaxAttempts: 1})
	_, err = inv.Invoke(context.Background(), "echo", []byte(`{}`))
	var opErr *net.OpError
	if err == nil || !errors.As(err, &opErr) {
		t.Fatalf("err = %v, want a wrapped *net.OpError", err)
	}
}

func TestInvokeContextDeadline(t *testing.T) {
	fake := newFakeLambda(t)
	isolate(t, fake.URL)
	inv := newInvoker(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := inv.Invoke(ctx, "hang", []byte(`{}`))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
}

func TestNewWithoutHTTPClient(t *testing.T) {
	fake := newFakeLambda(t)
	isolate(t, fake.URL)
	inv, err := New(context.Background(), Options{Region: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inv.Invoke(context.Background(), "echo", []byte(`"x"`)); err != nil {
		t.Fatal(err)
	}
}
