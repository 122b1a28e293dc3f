package gateway_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
	"github.com/switchboard-gw/switchboard/internal/localca"
)

// testCA issues certificates for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a certificate (server for dnsName, or client) as a tls.Certificate and PEM files.
func (ca *testCA) issue(t *testing.T, dir, name string, client bool) (tls.Certificate, string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name, Organization: []string{"Test"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{name}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	certFile, keyFile := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	os.WriteFile(certFile, certPEM, 0o600)
	os.WriteFile(keyFile, keyPEM, 0o600)
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair, certFile, keyFile
}

func TestCustomDomainTLS(t *testing.T) {
	bin, err := buildHandler()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fallback, err := localca.Ensure(filepath.Join(dir, "local"), localca.DefaultHosts)
	if err != nil {
		t.Fatal(err)
	}
	serverCA, clientCA, otherCA := newTestCA(t, "server CA"), newTestCA(t, "client CA"), newTestCA(t, "other CA")
	_, chatCert, chatKey := serverCA.issue(t, dir, "chat.test", false)
	_, secureCert, secureKey := serverCA.issue(t, dir, "secure.test", false)
	truststore := filepath.Join(dir, "clients.pem")
	os.WriteFile(truststore, clientCA.pem, 0o600)
	good, _, _ := clientCA.issue(t, dir, "alice", true)
	stranger, _, _ := otherCA.issue(t, dir, "mallory", true)

	g := gatewaytest.Start(t, fmt.Sprintf(`
apis:
  - name: tls
    apiId: tlsapi
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - {integrationId: main, integrationType: AWS_PROXY, integrationUri: "arn:aws:lambda:us-east-1:123456789012:function:main"}
    routes: [{routeKey: $default, target: integrations/main, routeResponses: [{routeResponseKey: $default}]}]
    stages: [{stageName: dev}]
domainNames:
  - domainName: chat.test
    domainNameConfigurations: [{certificateFile: %q, privateKeyFile: %q}]
    apiMappings: [{apiId: tlsapi, stage: dev, apiMappingKey: chat}]
  - domainName: secure.test
    domainNameConfigurations: [{certificateFile: %q, privateKeyFile: %q}]
    mutualTlsAuthentication: {truststoreUri: %q}
    apiMappings: [{apiId: tlsapi, stage: dev}]
functions:
  - {functionName: main, handler: %q}
`, chatCert, chatKey, secureCert, secureKey, truststore, bin), func(o *gateway.Options) {
		o.TLS = &tls.Config{Certificates: []tls.Certificate{fallback.Certificate}}
	})

	roots := x509.NewCertPool()
	roots.AddCert(serverCA.cert)
	dial := func(host, path string, cfg *tls.Config) (*gatewaytest.Client, error) {
		cfg.ServerName = host
		return gatewaytest.TryDial(t, "wss://"+g.Addr()+path, &websocket.DialOptions{Host: host,
			HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}})
	}
	t.Run("SNI picks the domain's certificate", func(t *testing.T) {
		if _, err := dial("chat.test", "/chat", &tls.Config{RootCAs: roots}); err != nil {
			t.Fatalf("wss to chat.test verified against its own CA: %v", err)
		}
	})
	t.Run("TLS 1.1 is refused", func(t *testing.T) {
		if _, err := dial("chat.test", "/chat", &tls.Config{RootCAs: roots, MaxVersion: tls.VersionTLS11}); err == nil {
			t.Fatal("a TLS 1.1 handshake succeeded")
		}
	})
	t.Run("mutual TLS: no client certificate", func(t *testing.T) {
		if _, err := dial("secure.test", "/", &tls.Config{RootCAs: roots}); err == nil {
			t.Fatal("handshake without a client certificate succeeded")
		}
	})
	t.Run("mutual TLS: certificate from another CA", func(t *testing.T) {
		if _, err := dial("secure.test", "/", &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{stranger}}); err == nil {
			t.Fatal("handshake with a stranger's certificate succeeded")
		}
	})
	t.Run("mutual TLS: the client certificate reaches the events", func(t *testing.T) {
		c, err := dial("secure.test", "/", &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{good}})
		if err != nil {
			t.Fatal(err)
		}
		c.Send(`{"action":"hi"}`)
		var got struct{ ClientSubject, ClientNotAfter string }
		if err := json.Unmarshal([]byte(c.Read()), &got); err != nil {
			t.Fatal(err)
		}
		if got.ClientSubject != "O=Test,CN=alice" || got.ClientNotAfter == "" {
			t.Fatalf("identity.clientCert subject %q notAfter %q", got.ClientSubject, got.ClientNotAfter)
		}
	})
}
