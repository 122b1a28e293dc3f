// Command behave is a Lambda handler for localinvoke's tests, built with the real aws-lambda-go: each
// event says what to do (sleep, panic, exit, fail, answer too much), and the answer reports what the
// process sees (pid, version, environment, Lambda context). BEHAVE_INIT makes initialisation fail.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// version is set with -ldflags=-X=main.version=... to tell two builds apart.
var version = "v1"

type event struct {
	Say     string `json:"say"`     // printed on stdout first
	SleepMS int    `json:"sleepMs"` // ignores the deadline, as a stuck handler would
	Panic   string `json:"panic"`
	Exit    *int   `json:"exit"`
	Error   string `json:"error"`
	BigMB   int    `json:"bigMB"`
	// FailStream makes the response a reader that fails part-way, which aws-lambda-go reports in the
	// Lambda-Runtime-Function-Error-Type/-Body trailers.
	FailStream string   `json:"failStream"`
	Env        []string `json:"env"` // variables to report
	// Quiet leaves the event out of the answer (for events near the payload limit).
	Quiet bool `json:"quiet"`
	// Spawn starts a child process that ignores SIGTERM and outlives the handler, and reports its pid.
	Spawn bool `json:"spawn"`
}

type response struct {
	Version    string            `json:"version"`
	PID        int               `json:"pid"`
	RequestID  string            `json:"requestId"`
	ARN        string            `json:"arn"`
	DeadlineMS int64             `json:"deadlineMs"`
	Cwd        string            `json:"cwd"`
	Env        map[string]string `json:"env"`
	Event      json.RawMessage   `json:"event"`
	Big        string            `json:"big,omitempty"`
	ChildPID   int               `json:"childPid,omitempty"`
}

// failingReader yields some bytes, then an error. It has no exported fields, so it encodes as {} and
// aws-lambda-go streams it as a raw response.
type failingReader struct {
	msg  string
	sent bool
}

func (r *failingReader) Read(p []byte) (int, error) {
	if !r.sent {
		r.sent = true
		return copy(p, "partial"), nil
	}
	return 0, errors.New(r.msg)
}

func handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var ev event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	if ev.Say != "" {
		fmt.Println(ev.Say)
	}
	childPID := 0
	if ev.Spawn {
		child := exec.Command("sh", "-c", "trap '' TERM; exec sleep 300")
		if err := child.Start(); err != nil {
			return nil, err
		}
		childPID = child.Process.Pid
		fmt.Printf("spawned %d\n", childPID)
	}
	if ev.SleepMS > 0 {
		time.Sleep(time.Duration(ev.SleepMS) * time.Millisecond)
	}
	if ev.Panic != "" {
		panic(ev.Panic)
	}
	if ev.Exit != nil {
		os.Exit(*ev.Exit)
	}
	if ev.Error != "" {
		return nil, errors.New(ev.Error)
	}
	if ev.FailStream != "" {
		return &failingReader{msg: ev.FailStream}, nil
	}
	lc, _ := lambdacontext.FromContext(ctx)
	deadline, _ := ctx.Deadline()
	cwd, _ := os.Getwd()
	r := &response{
		Version:    version,
		PID:        os.Getpid(),
		RequestID:  lc.AwsRequestID,
		ARN:        lc.InvokedFunctionArn,
		DeadlineMS: deadline.UnixMilli(),
		Cwd:        cwd,
		Env:        map[string]string{},
		Event:      raw,
		ChildPID:   childPID,
	}
	if ev.Quiet {
		r.Event = json.RawMessage(fmt.Sprintf(`{"bytes":%d}`, len(raw)))
	}
	for _, k := range ev.Env {
		if v, ok := os.LookupEnv(k); ok {
			r.Env[k] = v
		}
	}
	if ev.BigMB > 0 {
		r.Big = strings.Repeat("x", ev.BigMB<<20)
	}
	return r, nil
}

func main() {
	switch os.Getenv("BEHAVE_INIT") {
	case "fatal":
		log.Fatal("behave: init failed on purpose")
	case "hang":
		time.Sleep(time.Hour)
	case "initerror":
		// What a custom runtime does when its initialisation fails.
		url := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/init/error"
		body := `{"errorMessage":"behave: cannot load configuration","errorType":"Runtime.ConfigError"}`
		resp, err := http.Post(url, "application/json", bytes.NewBufferString(body))
		if err != nil {
			log.Fatal(err)
		}
		_ = resp.Body.Close()
		time.Sleep(time.Hour) // Switchboard must kill it
	}
	lambda.Start(handle)
}
