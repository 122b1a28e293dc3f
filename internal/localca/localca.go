// Package localca gives the gateway a TLS certificate without any setup: it creates a private certificate
// authority in the state directory once, and a server certificate signed by it for the names the gateway
// answers to. Clients trust the CA by its PEM file — handlers run by Switchboard get it as AWS_CA_BUNDLE,
// which every AWS SDK honours — so `https://{domainName}/{stage}` works as it does on AWS.
package localca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// File names inside the directory.
const (
	CACertFile     = "ca.pem"
	caKeyFile      = "ca-key.pem"
	serverCertFile = "server.pem"
	serverKeyFile  = "server-key.pem"
)

// DefaultHosts are the names a local gateway is reached by.
var DefaultHosts = []string{"localhost", "127.0.0.1", "::1", "*.execute-api.localhost"}

// CA is a loaded certificate authority with a server certificate for the gateway.
type CA struct {
	// CertFile is the CA certificate's PEM file: give it to clients as their trust store.
	CertFile string
	// Certificate is the server certificate (with its key) to serve.
	Certificate tls.Certificate
}

// Ensure loads the CA in dir, creating it on first use, and a server certificate for hosts (names and IP
// addresses), reissuing it when it names other hosts or expires within 30 days.
func Ensure(dir string, hosts []string) (*CA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("local CA: %w", err)
	}
	caCert, caKey, err := loadOrCreateCA(dir)
	if err != nil {
		return nil, fmt.Errorf("local CA in %s: %w", dir, err)
	}
	cert, err := loadServer(dir, hosts)
	if err != nil {
		cert, err = issueServer(dir, caCert, caKey, hosts)
		if err != nil {
			return nil, fmt.Errorf("server certificate in %s: %w", dir, err)
		}
	}
	return &CA{CertFile: filepath.Join(dir, CACertFile), Certificate: cert}, nil
}

func loadOrCreateCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPEM, err1 := os.ReadFile(filepath.Join(dir, CACertFile))
	keyPEM, err2 := os.ReadFile(filepath.Join(dir, caKeyFile))
	if err1 == nil && err2 == nil {
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, nil, fmt.Errorf("existing CA files are unreadable (delete them to start over): %w", err)
		}
		cert, err := x509.ParseCertificate(pair.Certificate[0])
		if err != nil {
			return nil, nil, err
		}
		key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
		if !ok {
			return nil, nil, errors.New("CA key is not an ECDSA key")
		}
		return cert, key, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "Switchboard local CA", Organization: []string{"Switchboard"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	if err := writePair(dir, CACertFile, caKeyFile, der, key); err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func loadServer(dir string, hosts []string) (tls.Certificate, error) {
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, serverCertFile), filepath.Join(dir, serverKeyFile))
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return tls.Certificate{}, err
	}
	if time.Until(leaf.NotAfter) < 30*24*time.Hour {
		return tls.Certificate{}, errors.New("expiring")
	}
	names := append([]string(nil), leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	for _, h := range hosts {
		if !slices.Contains(names, h) {
			return tls.Certificate{}, errors.New("host missing: " + h)
		}
	}
	pair.Leaf = leaf
	return pair, nil
}

func issueServer(dir string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, hosts []string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "Switchboard gateway"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := writePair(dir, serverCertFile, serverKeyFile, der, key); err != nil {
		return tls.Certificate{}, err
	}
	return tls.LoadX509KeyPair(filepath.Join(dir, serverCertFile), filepath.Join(dir, serverKeyFile))
}

// writePair writes a certificate and its key, each through a temporary file and a rename, so that a crash
// never leaves half a file.
func writePair(dir, certName, keyName string, der []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, keyName), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, certName), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

// ExecuteAPIHost is the wildcard name of API Gateway's default endpoints in region,
// *.execute-api.{region}.amazonaws.com. The gateway's certificate names it so that a local function's SDK,
// whose connections to that host are sent to the gateway, verifies the gateway as it would verify AWS.
func ExecuteAPIHost(region string) string {
	return "*.execute-api." + region + ".amazonaws.com"
}
