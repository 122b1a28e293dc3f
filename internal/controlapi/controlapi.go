// Package controlapi is the apigatewayv2 control-plane REST API (restJson1, API version 2018-11-29): the
// paths, JSON members, status codes and errors of AWS's, so that the AWS CLI, the SDKs and infrastructure
// tools pointed at Switchboard with --endpoint-url manage it as they manage API Gateway.
//
// Handlers decode a request into the operation's input shape, change the catalog in one catalog.Write
// transaction, and answer with the output shape. mux.go lists every endpoint; wire.go holds the decoding,
// pagination and the one place where errors become AWS error responses.
// https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/
package controlapi

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/switchboard-gw/switchboard/internal/catalog"
)

// Config configures the control-plane handler.
type Config struct {
	// Catalog is the state the API reads and changes.
	Catalog *catalog.Catalog
	// Region and Account appear in ARNs and error messages; defaults us-east-1 and 123456789012.
	Region  string
	Account string
	// APIEndpoint returns an API's apiEndpoint: a URL a client on this machine can dial after appending
	// /{stage}. Nil gives wss://{apiId}.execute-api.{region}.amazonaws.com, as AWS does.
	APIEndpoint func(apiID string) string
	// Now tells the time for dates; default time.Now.
	Now func() time.Time
	// Logger receives internal failures; nil discards them.
	Logger *slog.Logger
}

// server holds the configured handlers' shared state.
type server struct {
	cfg Config
	log *slog.Logger
}

// New returns the control-plane handler. Authentication (SigV4) wraps it from outside.
func New(cfg Config) http.Handler {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Account == "" {
		cfg.Account = "123456789012"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.APIEndpoint == nil {
		region := cfg.Region
		cfg.APIEndpoint = func(apiID string) string {
			return "wss://" + apiID + ".execute-api." + region + ".amazonaws.com"
		}
	}
	s := &server{cfg: cfg, log: cfg.Logger}
	return s.routes()
}
