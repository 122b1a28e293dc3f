package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"syscall"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

// echoFunction is the trivial Lambda handler of the AWS_PROXY scenario: it answers with the message it got.
// The bench runs itself as that function ("switchboard-bench handler"), as the gateway's local function.
type echoFunction struct{}

// Invoke answers a WebSocket proxy event with its body and status 200; a $connect event whose query
// string has status=N is answered with status N (the tests' refused handshake).
func (echoFunction) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	var ev events.APIGatewayWebsocketProxyRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	status := 200
	if s := ev.QueryStringParameters["status"]; s != "" && ev.RequestContext.EventType == "CONNECT" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("status=%q: %w", s, err)
		}
		status = n
	}
	return json.Marshal(events.APIGatewayProxyResponse{StatusCode: status, Body: ev.Body})
}

// functionProfileEnv names a directory where each function process writes a CPU profile of its life,
// function-PID.pprof, finished when the process gets SIGTERM (set by -profile).
const functionProfileEnv = "SWITCHBOARD_BENCH_FUNCTION_PROFILE"

// functionMain runs the process as a Lambda function against the Runtime API in AWS_LAMBDA_RUNTIME_API.
func functionMain() {
	if dir := os.Getenv(functionProfileEnv); dir != "" {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("function-%d.pprof", os.Getpid())))
		if err == nil && pprof.StartCPUProfile(f) == nil {
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGTERM)
			go func() {
				<-sig
				pprof.StopCPUProfile()
				_ = f.Close()
				os.Exit(0)
			}()
		}
	}
	lambda.StartHandler(echoFunction{})
}
