// Package certs serves TLS for custom domain names the way API Gateway does: each domain brings its own
// certificate (chosen by SNI, wildcards included), the TLS_1_2 security policy applies to all of them,
// and a domain with a truststore demands client certificates (mutual TLS) while its neighbours on the
// same listener do not. Certificates are files an operator rotates in place, so the Store re-reads them
// while running instead of needing a restart; names no domain claims get the gateway's default
// certificate (see package localca).
package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// Domain is one custom domain's TLS settings.
type Domain struct {
	// Name is the domain clients ask for in SNI: "chat.example.com", or a wildcard "*.example.com" that
	// covers exactly one more label (as API Gateway's wildcard custom domains do).
	Name string
	// CertFile is the PEM certificate chain to serve, leaf first.
	CertFile string
	// KeyFile is the PEM private key of the leaf.
	KeyFile string
	// TruststoreFile is a PEM CA bundle; non-empty enables mutual TLS for this domain, as a
	// mutualTlsAuthentication.truststoreUri does on AWS.
	TruststoreFile string
}

// stamp identifies one version of a file cheaply, so Run re-reads only what changed.
type stamp struct {
	mod  time.Time
	size int64
}

// material is one loaded version of a domain's files; it is replaced whole so a handshake never sees a
// certificate from one version and a truststore from another.
type material struct {
	cert  *tls.Certificate
	pool  *x509.CertPool // nil without mutual TLS
	files [3]stamp       // cert, key, truststore as last attempted
}

type domain struct {
	Domain
	cur atomic.Pointer[material]
	// tried is the file stamps of the last load attempt, successful or not (zero after a failed stat),
	// so that a broken or missing file is reported once rather than on every tick. Only Run touches it.
	tried [3]stamp
}

// Store holds the certificates of all custom domains and hands out the TLS configuration that serves
// them. It is safe for concurrent use; Run replaces material while handshakes read it.
type Store struct {
	exact    map[string]*domain // lower-case name → domain
	wildcard map[string]*domain // lower-case parent ("example.com" for "*.example.com") → domain
	all      []*domain
	fallback *tls.Certificate
	log      *slog.Logger
	now      func() time.Time
}

// New loads every domain's files (an error names the domain and file) and uses fallback for names no
// domain matches (the gateway's default certificate). A nil log discards messages.
func New(domains []Domain, fallback tls.Certificate, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{
		exact:    map[string]*domain{},
		wildcard: map[string]*domain{},
		log:      log,
		now:      time.Now,
	}
	if len(fallback.Certificate) > 0 {
		fb := fallback
		s.fallback = &fb
	}
	for _, d := range domains {
		name := normalize(d.Name)
		if name == "" || d.CertFile == "" || d.KeyFile == "" {
			return nil, fmt.Errorf("certs: domain %q: name, certificate file and key file are required", d.Name)
		}
		dom := &domain{Domain: d}
		index := s.exact
		if parent, ok := strings.CutPrefix(name, "*."); ok {
			if parent == "" || strings.Contains(parent, "*") {
				return nil, fmt.Errorf("certs: domain %q: only the first label may be a wildcard", d.Name)
			}
			index, name = s.wildcard, parent
		} else if strings.Contains(name, "*") {
			return nil, fmt.Errorf("certs: domain %q: only the first label may be a wildcard", d.Name)
		}
		if _, dup := index[name]; dup {
			return nil, fmt.Errorf("certs: domain %q is configured twice", d.Name)
		}
		files, err := dom.statFiles()
		if err != nil {
			return nil, err
		}
		m, err := dom.load(files)
		if err != nil {
			return nil, err
		}
		dom.tried = files
		dom.cur.Store(m)
		s.warnExpired(dom, m)
		index[name] = dom
		s.all = append(s.all, dom)
	}
	return s, nil
}

// normalize lower-cases a host name and drops a trailing dot, since DNS names compare that way.
func normalize(name string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
}

// paths returns the domain's files in stamp order; the truststore is "" without mutual TLS.
func (d *domain) paths() [3]string {
	return [3]string{d.CertFile, d.KeyFile, d.TruststoreFile}
}

// statFiles stamps the domain's files. It runs before reading them, so a write that lands between stat
// and read is seen as a change on the next tick rather than lost.
func (d *domain) statFiles() ([3]stamp, error) {
	var out [3]stamp
	for i, p := range d.paths() {
		if p == "" {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			return out, fmt.Errorf("certs: domain %q: %w", d.Name, err)
		}
		out[i] = stamp{mod: fi.ModTime(), size: fi.Size()}
	}
	return out, nil
}

// load reads and parses the domain's files.
func (d *domain) load(files [3]stamp) (*material, error) {
	certPEM, err := os.ReadFile(d.CertFile)
	if err != nil {
		return nil, fmt.Errorf("certs: domain %q: certificate: %w", d.Name, err)
	}
	keyPEM, err := os.ReadFile(d.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("certs: domain %q: key: %w", d.Name, err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("certs: domain %q: certificate %s with key %s: %w", d.Name, d.CertFile, d.KeyFile, err)
	}
	if pair.Leaf == nil {
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("certs: domain %q: certificate %s: %w", d.Name, d.CertFile, err)
		}
	}
	m := &material{cert: &pair, files: files}
	if d.TruststoreFile != "" {
		trustPEM, err := os.ReadFile(d.TruststoreFile)
		if err != nil {
			return nil, fmt.Errorf("certs: domain %q: truststore: %w", d.Name, err)
		}
		m.pool = x509.NewCertPool()
		if !m.pool.AppendCertsFromPEM(trustPEM) {
			return nil, fmt.Errorf("certs: domain %q: truststore %s: no PEM certificates", d.Name, d.TruststoreFile)
		}
	}
	return m, nil
}

// warnExpired logs a loaded certificate that is already past NotAfter. It is still served — the operator
// gave it, and refusing would only change which error clients see — but clients will reject it, and the
// log is where the operator can find out why.
func (s *Store) warnExpired(d *domain, m *material) {
	if leaf := m.cert.Leaf; leaf != nil && s.now().After(leaf.NotAfter) {
		s.log.Warn("custom domain certificate has expired; clients will reject it",
			"domain", d.Name, "file", d.CertFile, "notAfter", leaf.NotAfter)
	}
}

// lookup finds the domain for an SNI name: the exact name, then the wildcard one label up.
func (s *Store) lookup(serverName string) *domain {
	name := normalize(serverName)
	if name == "" {
		return nil
	}
	if d, ok := s.exact[name]; ok {
		return d
	}
	if _, parent, ok := strings.Cut(name, "."); ok {
		if d, ok := s.wildcard[parent]; ok {
			return d
		}
	}
	return nil
}

// getCertificate picks the certificate for a handshake, falling back to the default one.
func (s *Store) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if d := s.lookup(hello.ServerName); d != nil {
		return d.cur.Load().cert, nil
	}
	if s.fallback == nil {
		return nil, fmt.Errorf("certs: no certificate for %q", hello.ServerName)
	}
	return s.fallback, nil
}

// policyCipherSuites is AWS's TLS_1_2 security policy for TLS 1.2, restricted to the suites Go treats
// as secure. The policy also lists ECDHE-*-AES*-SHA256/SHA384 (CBC) and the RSA key-exchange suites
// AES128/256-GCM and -SHA256; Go either lacks them or lists them in tls.InsecureCipherSuites, so they are
// left out. TLS 1.3 suites are not configurable in Go and are all allowed, as on AWS.
var policyCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
}

// TLSConfig returns the server config: TLS 1.2 minimum with the TLS_1_2 policy's cipher suites, TLS 1.3
// allowed (AWS allows it on WebSocket endpoints), NextProtos http/1.1 (WebSocket upgrades need it), a
// certificate chosen by SNI (exact name, then the wildcard one label up, then the fallback;
// case-insensitive; no SNI gets the fallback), and per-domain mutual TLS: a domain with a truststore
// requires and verifies a client certificate against it, other domains do not ask for one.
// Each call returns a new config; all of them follow Run's reloads.
func (s *Store) TLSConfig() *tls.Config {
	base := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   policyCipherSuites,
		NextProtos:     []string{"http/1.1"},
		GetCertificate: s.getCertificate,
	}
	base.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		d := s.lookup(hello.ServerName)
		if d == nil {
			return nil, nil
		}
		m := d.cur.Load()
		if m.pool == nil {
			return nil, nil
		}
		cfg := base.Clone()
		cfg.GetConfigForClient = nil
		cfg.GetCertificate = nil
		cfg.Certificates = []tls.Certificate{*m.cert}
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = m.pool
		// Session tickets are shared by every config cloned from base, and resuming skips client
		// certificate verification: a ticket won on another domain (or before the truststore changed)
		// must not open this one.
		cfg.SessionTicketsDisabled = true
		return cfg, nil
	}
	return base
}

// Run re-reads certificate, key and truststore files whose modification time or size changed, every
// interval, until ctx ends (then it returns nil). A reload that fails keeps the old material and logs the
// error with the file and domain; it is retried when any of the domain's files changes again. Existing
// connections are unaffected; new handshakes use the new certificate.
func (s *Store) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return errors.New("certs: reload interval must be positive")
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.reload()
		}
	}
}

// reload re-reads the domains whose files changed since the last attempt.
func (s *Store) reload() {
	for _, d := range s.all {
		files, err := d.statFiles()
		if err != nil {
			// A file briefly missing (rotation by delete and create) is retried on the next tick; it is
			// logged once, not on every tick.
			if d.tried == ([3]stamp{}) {
				continue
			}
			d.tried = [3]stamp{}
			s.log.Error("custom domain certificate reload failed; keeping the previous certificate",
				"domain", d.Name, "error", err)
			continue
		}
		if files == d.tried {
			continue
		}
		d.tried = files
		m, err := d.load(files)
		if err != nil {
			s.log.Error("custom domain certificate reload failed; keeping the previous certificate",
				"domain", d.Name, "error", err)
			continue
		}
		d.cur.Store(m)
		s.warnExpired(d, m)
		s.log.Info("custom domain certificate reloaded", "domain", d.Name, "file", d.CertFile,
			"serialNumber", serialString(m.cert.Leaf), "notAfter", m.cert.Leaf.NotAfter)
	}
}

// ClientCert describes a verified client certificate the way API Gateway puts it in
// requestContext.identity.clientCert (REST APIs) and requestContext.authentication.clientCert (HTTP
// APIs) when mutual TLS is on, so handlers written for AWS read it unchanged.
type ClientCert struct {
	// ClientCertPem is the leaf certificate in PEM.
	ClientCertPem string `json:"clientCertPem"`
	// SubjectDN is the subject in certificate order, comma-separated: "C=US,O=Example,CN=client".
	SubjectDN string `json:"subjectDN"`
	// IssuerDN is the issuer, formatted like SubjectDN.
	IssuerDN string `json:"issuerDN"`
	// SerialNumber is the serial as colon-separated lower-case hex bytes ("a1:a1:..."), as in AWS's
	// documented example.
	SerialNumber string `json:"serialNumber"`
	// Validity is the certificate's validity period.
	Validity ClientCertValidity `json:"validity"`
}

// ClientCertValidity is a certificate's validity period in OpenSSL's text form ("May 28 12:30:02 2019
// GMT", "Aug  5 09:36:04 2021 GMT"), as API Gateway reports it.
type ClientCertValidity struct {
	// NotBefore is when the certificate becomes valid.
	NotBefore string `json:"notBefore"`
	// NotAfter is when the certificate expires.
	NotAfter string `json:"notAfter"`
}

// opensslTime is OpenSSL's ASN1_TIME_print layout (space-padded day), which API Gateway uses.
const opensslTime = "Jan _2 15:04:05 2006 GMT"

// ClientCertFromState returns the client certificate of a handshake for event building; nil without a
// peer certificate.
func ClientCertFromState(cs *tls.ConnectionState) *ClientCert {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return nil
	}
	c := cs.PeerCertificates[0]
	return &ClientCert{
		ClientCertPem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})),
		SubjectDN:     distinguishedName(c.RawSubject, c.Subject),
		IssuerDN:      distinguishedName(c.RawIssuer, c.Issuer),
		SerialNumber:  serialString(c),
		Validity: ClientCertValidity{
			NotBefore: c.NotBefore.UTC().Format(opensslTime),
			NotAfter:  c.NotAfter.UTC().Format(opensslTime),
		},
	}
}

// distinguishedName formats a name in certificate order ("C=US,...,CN=x") as AWS's examples show; Go's
// pkix.Name.String uses the reverse (RFC 2253) order. The raw DER keeps the certificate's own order; each
// RDN is formatted by Go, so escaping and multi-valued RDNs follow RFC 2253.
func distinguishedName(raw []byte, parsed pkix.Name) string {
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(raw, &seq); err != nil || len(rest) > 0 {
		seq = parsed.ToRDNSequence()
	}
	parts := make([]string, 0, len(seq))
	for _, rdn := range seq {
		parts = append(parts, pkix.RDNSequence{rdn}.String())
	}
	return strings.Join(parts, ",")
}

// serialString formats a certificate serial as colon-separated hex bytes.
func serialString(c *x509.Certificate) string {
	if c == nil || c.SerialNumber == nil {
		return ""
	}
	b := c.SerialNumber.Bytes()
	if len(b) == 0 {
		b = []byte{0}
	}
	parts := make([]string, len(b))
	for i := range b {
		parts[i] = hex.EncodeToString(b[i : i+1])
	}
	return strings.Join(parts, ":")
}
