package localca

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

func TestEnsureCreatesOnceAndClientsTrustIt(t *testing.T) {
	dir := t.TempDir()
	ca, err := Ensure(dir, DefaultHosts)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := os.ReadFile(ca.CertFile)
	again, err := Ensure(dir, DefaultHosts)
	if err != nil {
		t.Fatal(err)
	}
	if pem2, _ := os.ReadFile(again.CertFile); string(pem2) != string(caPEM) {
		t.Fatal("the CA was regenerated on the second start")
	}
	if string(again.Certificate.Certificate[0]) != string(ca.Certificate.Certificate[0]) {
		t.Fatal("the server certificate was reissued although nothing changed")
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Certificate}}
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(srv.URL) // https://127.0.0.1:PORT, verified against the CA
	if err != nil {
		t.Fatalf("a client trusting the CA file failed: %v", err)
	}
	resp.Body.Close()
	if _, err := http.Get(srv.URL); err == nil {
		t.Fatal("a client without the CA trusted the certificate")
	}
}

func TestEnsureReissuesForNewHosts(t *testing.T) {
	dir := t.TempDir()
	first, err := Ensure(dir, []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := Ensure(dir, []string{"localhost", "gw.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	if string(first.Certificate.Certificate[0]) == string(second.Certificate.Certificate[0]) {
		t.Fatal("certificate not reissued for a new host")
	}
	leaf, _ := x509.ParseCertificate(second.Certificate.Certificate[0])
	if err := leaf.VerifyHostname("gw.example.test"); err != nil {
		t.Fatal(err)
	}
}

func TestEnsureRejectsCorruptCA(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(dir+"/"+CACertFile, []byte("garbage"), 0o644)
	os.WriteFile(dir+"/"+caKeyFile, []byte("garbage"), 0o600)
	if _, err := Ensure(dir, DefaultHosts); err == nil {
		t.Fatal("corrupt CA files accepted")
	}
}
