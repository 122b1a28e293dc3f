package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
)

// DefaultEndpoint is the @connections endpoint of the chat API's dev stage on a local Switchboard.
const DefaultEndpoint = "http://127.0.0.1:8080/chat/dev"

const (
	// broadcastConcurrency bounds how many PostToConnection calls one message has in flight.
	broadcastConcurrency = 16
	// postTimeout bounds one PostToConnection call, retries included.
	postTimeout = 5 * time.Second
	// maxMessageBytes bounds the request bodies the backend reads (API Gateway's frame limit is 128 KiB).
	maxMessageBytes = 128 << 10
)

// defaultRegion is the region the backend signs for when the AWS configuration names none: Switchboard's
// default --region.
const defaultRegion = "us-east-1"

// newManagementClient returns an AWS SDK for Go v2 client for the @connections API at endpoint, the
// stage's URL (for example DefaultEndpoint), and the HTTP transport it sends its requests with: a pool
// that keeps a connection for each concurrent PostToConnection of a broadcast, trusting AWS_CA_BUNDLE
// when it is set, as the SDK's own transport does.
//
// It signs with the credentials and region of the SDK's standard chain, as on AWS: the environment
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION), then the shared config and
// credentials files (AWS_PROFILE), so the backend keeps working when the gateway enforces IAM signatures.
// The instance metadata service is not asked: this backend runs next to a local gateway, and the lookup
// would only delay the start. When the chain has no credentials it signs with placeholder ones, which
// Switchboard accepts while it does not check signatures (its default), and says so in the log. Against
// Amazon API Gateway the endpoint is https://{api-id}.execute-api.{region}.amazonaws.com/{stage}.
func newManagementClient(ctx context.Context, endpoint string, log *slog.Logger) (*apigatewaymanagementapi.Client, *http.Transport, error) {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	if err != nil {
		return nil, nil, fmt.Errorf("AWS configuration: %w", err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if bc, ok := cfg.HTTPClient.(*awshttp.BuildableClient); ok {
		transport = bc.GetTransport() // a copy, with AWS_CA_BUNDLE's roots when it is set
	}
	transport.MaxIdleConnsPerHost = broadcastConcurrency
	if cfg.Region == "" {
		cfg.Region = defaultRegion
	}
	if creds, err := cfg.Credentials.Retrieve(ctx); err != nil {
		log.Info("no AWS credentials in the environment or the shared config files: signing @connections calls with placeholder credentials, which only a gateway that does not enforce IAM accepts")
		cfg.Credentials = credentials.NewStaticCredentialsProvider("local", "local", "")
	} else {
		log.Info("signing @connections calls", "access_key_id", creds.AccessKeyID, "source", creds.Source, "region", cfg.Region)
	}
	client := apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.HTTPClient = &http.Client{Transport: transport}
	})
	return client, transport, nil
}

// Backend is the chat's HTTP backend, the target of the API's HTTP_PROXY integrations. It is an
// http.Handler serving POST /connect, POST /disconnect and POST /sendmessage; each request carries the
// connection ID in the connectionId header. It keeps the set of connected IDs in memory, where the AWS
// sample keeps them in DynamoDB, and broadcasts each message to all of them through @connections.
type Backend struct {
	client    *apigatewaymanagementapi.Client
	transport *http.Transport
	log       *slog.Logger
	mux       *http.ServeMux

	mu    sync.Mutex
	conns map[string]struct{}
}

// NewBackend returns a Backend that posts messages to the @connections API at endpoint (the stage's URL,
// for example DefaultEndpoint), signed with the credentials of the standard AWS chain (see
// newManagementClient), and logs every event to log. It fails when the AWS configuration cannot be read,
// for instance when AWS_PROFILE names a profile that does not exist.
func NewBackend(ctx context.Context, endpoint string, log *slog.Logger) (*Backend, error) {
	client, transport, err := newManagementClient(ctx, endpoint, log)
	if err != nil {
		return nil, err
	}
	b := &Backend{
		client:    client,
		transport: transport,
		log:       log,
		mux:       http.NewServeMux(),
		conns:     make(map[string]struct{}),
	}
	b.mux.HandleFunc("POST /connect", b.connect)
	b.mux.HandleFunc("POST /disconnect", b.disconnect)
	b.mux.HandleFunc("POST /sendmessage", b.sendMessage)
	return b, nil
}

// ServeHTTP routes an integration request to its handler.
func (b *Backend) ServeHTTP(w http.ResponseWriter, r *http.Request) { b.mux.ServeHTTP(w, r) }

// CloseIdleConnections closes the backend's unused connections to the gateway. Call it before stopping
// the gateway: an HTTP server's graceful shutdown waits up to five seconds for connections that were
// opened but never used, which a pool can hold after a concurrent broadcast.
func (b *Backend) CloseIdleConnections() { b.transport.CloseIdleConnections() }

// Connections returns the connection IDs the backend knows of, sorted.
func (b *Backend) Connections() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	ids := make([]string, 0, len(b.conns))
	for id := range b.conns {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// connectionID returns the request's connection ID, or answers 400 and returns "".
func connectionID(w http.ResponseWriter, r *http.Request) string {
	id := r.Header.Get("connectionId")
	if id == "" {
		http.Error(w, "missing connectionId header", http.StatusBadRequest)
	}
	return id
}

// connect records a new connection. Answering 200 lets the gateway complete the handshake.
func (b *Backend) connect(w http.ResponseWriter, r *http.Request) {
	id := connectionID(w, r)
	if id == "" {
		return
	}
	b.mu.Lock()
	b.conns[id] = struct{}{}
	n := len(b.conns)
	b.mu.Unlock()
	b.log.Info("connect", "connectionId", id, "userAgent", r.Header.Get("User-Agent"), "connections", n)
}

// disconnect forgets a connection.
func (b *Backend) disconnect(w http.ResponseWriter, r *http.Request) {
	id := connectionID(w, r)
	if id == "" {
		return
	}
	n := b.remove(id)
	b.log.Info("disconnect", "connectionId", id, "connections", n)
}

// remove forgets id and returns how many connections are left.
func (b *Backend) remove(id string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.conns, id)
	return len(b.conns)
}

// message is what a client sends: {"action":"sendmessage","data":"…"}.
type message struct {
	Action string          `json:"action"`
	Data   json.RawMessage `json:"data"`
}

// sendMessage posts the message's data to every connection, the sender included, as the AWS sample does.
// The route is one-way, so the answer only tells the gateway that the message was handled.
func (b *Backend) sendMessage(w http.ResponseWriter, r *http.Request) {
	sender := connectionID(w, r)
	if sender == "" {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxMessageBytes+1))
	if err != nil || len(body) > maxMessageBytes {
		http.Error(w, "cannot read the message", http.StatusBadRequest)
		return
	}
	var msg message
	if err := json.Unmarshal(body, &msg); err != nil || len(msg.Data) == 0 {
		b.log.Warn("sendmessage without data", "connectionId", sender, "body", string(body))
		http.Error(w, `want {"action":"sendmessage","data":"…"}`, http.StatusBadRequest)
		return
	}
	// A JSON string is sent as its text; any other JSON value is sent as it was written.
	data := []byte(msg.Data)
	var text string
	if json.Unmarshal(msg.Data, &text) == nil {
		data = []byte(text)
	}
	sent, gone := b.broadcast(r.Context(), data)
	b.log.Info("sendmessage", "connectionId", sender, "bytes", len(data), "delivered", sent, "gone", gone)
}

// broadcast posts data to every known connection, broadcastConcurrency calls at a time, and forgets the
// connections the gateway reports as gone. It returns once every call has ended.
func (b *Backend) broadcast(ctx context.Context, data []byte) (sent, gone int) {
	ids := b.Connections()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		workers = make(chan struct{}, broadcastConcurrency)
	)
	for _, id := range ids {
		workers <- struct{}{}
		wg.Go(func() {
			defer func() { <-workers }()
			err := b.post(ctx, id, data)
			var goneErr *types.GoneException
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				sent++
			case errors.As(err, &goneErr):
				// The client left without the backend hearing $disconnect (or before it arrived).
				gone++
				n := b.remove(id)
				b.log.Info("gone: forgetting connection", "connectionId", id, "connections", n)
			default:
				b.log.Warn("PostToConnection failed", "connectionId", id, "err", err)
			}
		})
	}
	wg.Wait()
	return sent, gone
}

// post sends data to one connection within postTimeout.
func (b *Backend) post(ctx context.Context, id string, data []byte) error {
	ctx, cancel := context.WithTimeout(ctx, postTimeout)
	defer cancel()
	_, err := b.client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(id),
		Data:         data,
	})
	return err
}
