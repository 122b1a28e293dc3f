package mgmtapi_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/session"
	apigwv1 "github.com/aws/aws-sdk-go/service/apigatewaymanagementapi"
	"github.com/coder/websocket"

	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
	"github.com/switchboard-gw/switchboard/internal/localca"
)

// TestCallbackOverHTTPSWithCABundle is the seeds' callback pattern: a handler builds
// https://{requestContext.domainName}/{stage} and posts with aws-sdk-go, trusting the gateway's local CA
// through AWS_CA_BUNDLE. The WebSocket client itself connects with wss:// on the same port.
func TestCallbackOverHTTPSWithCABundle(t *testing.T) {
	ca, err := localca.Ensure(t.TempDir(), localca.DefaultHosts)
	if err != nil {
		t.Fatal(err)
	}
	be := gatewaytest.NewBackend(t, nil)
	g := gatewaytest.Start(t, fmt.Sprintf(chatConfig, be.URL), func(o *gateway.Options) {
		o.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Certificate}}
		o.CABundle = ca.CertFile
	})
	pem, _ := os.ReadFile(ca.CertFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	wss := "wss://" + g.Addr() + "/chat/dev"
	c := gatewaytest.Dial(t, wss, &websocket.DialOptions{HTTPClient: &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}})
	req := be.WaitFor(t, 10*time.Second, func(r gatewaytest.Request) bool { return r.Path == "/connect" })
	id := req.Header.Get("connectionId")

	// What a handler does with its event: domainName is the Host the client used (with its port).
	t.Setenv("AWS_CA_BUNDLE", ca.CertFile)
	sess, err := session.NewSession(aws.NewConfig().
		WithRegion("us-east-1").
		WithCredentials(credentials.NewStaticCredentials("local", "local", "")).
		WithEndpoint("https://" + g.Addr() + "/dev"))
	if err != nil {
		t.Fatal(err)
	}
	api := apigwv1.New(sess)
	if _, err := api.PostToConnection(&apigwv1.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("over https")}); err != nil {
		t.Fatalf("PostToConnection over https with AWS_CA_BUNDLE: %v", err)
	}
	if got := c.Read(); got != "over https" {
		t.Fatalf("client got %q", got)
	}
	// Without the CA the same call is refused: the certificate is really checked.
	t.Setenv("AWS_CA_BUNDLE", "")
	plain, _ := session.NewSession(aws.NewConfig().WithRegion("us-east-1").
		WithCredentials(credentials.NewStaticCredentials("local", "local", "")).
		WithEndpoint("https://" + g.Addr() + "/dev").WithMaxRetries(0).
		WithHTTPClient(&http.Client{Transport: &http.Transport{}})) // no connection or CA left from above
	if _, err := apigwv1.New(plain).PostToConnection(&apigwv1.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("x")}); err == nil {
		t.Fatal("an https call without the CA bundle succeeded")
	}
}
