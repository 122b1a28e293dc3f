// Package acme obtains and renews TLS certificates for the gateway's custom
// domains from an ACME CA (RFC 8555) using certmagic.
//
// The CA directory must always be configured explicitly: there is no default
// CA, so nothing (in particular Let's Encrypt) is ever contacted by accident.
// Only the http-01 challenge is used; the gateway answers it by mounting
// [Manager.HTTPChallengeHandler] on its plain-HTTP data-plane port.
package acme

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/caddyserver/certmagic"
)

// Config configures a Manager.
type Config struct {
	// Directory is the ACME directory URL. Required: there is no default CA.
	Directory string
	// Email is the ACME account contact address (optional).
	Email string
	// Storage is the directory holding account keys and certificates
	// (certmagic.FileStorage). Required.
	Storage string
	// RootCAs is the trust used for the ACME server's own HTTPS endpoint;
	// nil means the system roots.
	RootCAs *x509.CertPool
	// HTTPPort is the port the CA connects to for http-01 challenges, i.e.
	// the port on which the gateway serves HTTPChallengeHandler (0 = 80). If
	// nothing is listening there while a challenge is pending, certmagic
	// briefly serves the challenge itself on 127.0.0.1:HTTPPort.
	HTTPPort int
	// Logger receives certmagic's log output; nil discards it.
	Logger *slog.Logger
}

// Manager obtains, caches, serves and renews certificates for a fixed set of
// domain names.
type Manager struct {
	domains []string
	managed map[string]struct{}
	cache   *certmagic.Cache
	magic   *certmagic.Config
	issuer  *certmagic.ACMEIssuer

	closeOnce sync.Once
	done      chan struct{}
}

// New prepares a manager for domains (it does not obtain anything yet).
func New(cfg Config, domains []string) (*Manager, error) {
	if cfg.Directory == "" {
		return nil, errors.New("acme: Directory is required")
	}
	if cfg.Storage == "" {
		return nil, errors.New("acme: Storage is required")
	}
	if len(domains) == 0 {
		return nil, errors.New("acme: no domains")
	}
	m := &Manager{managed: make(map[string]struct{}), done: make(chan struct{})}
	for _, d := range domains {
		n := normalize(d)
		if n == "" {
			return nil, fmt.Errorf("acme: invalid domain %q", d)
		}
		if _, dup := m.managed[n]; !dup {
			m.managed[n] = struct{}{}
			m.domains = append(m.domains, n)
		}
	}
	port := cfg.HTTPPort
	if port == 0 {
		port = certmagic.HTTPChallengePort
	}
	zl := newZapLogger(cfg.Logger)

	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) {
			return m.magic, nil
		},
		Logger: zl,
	})
	m.magic = certmagic.New(m.cache, certmagic.Config{
		Storage: &certmagic.FileStorage{Path: cfg.Storage},
		Logger:  zl,
	})
	m.issuer = certmagic.NewACMEIssuer(m.magic, certmagic.ACMEIssuer{
		CA:                      cfg.Directory,
		Email:                   cfg.Email,
		Agreed:                  true,
		TrustedRoots:            cfg.RootCAs,
		DisableTLSALPNChallenge: true,
		ListenHost:              "127.0.0.1",
		AltHTTPPort:             port,
		Logger:                  zl,
	})
	m.magic.Issuers = []certmagic.Issuer{m.issuer}
	return m, nil
}

// normalize lower-cases a host name and strips a trailing dot.
func normalize(name string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
}

// Obtain gets (or loads from Storage) certificates for every domain and keeps
// renewing them until ctx ends or Close; it returns when the first
// certificates are ready or on error.
func (m *Manager) Obtain(ctx context.Context) error {
	select {
	case <-m.done:
		return errors.New("acme: manager closed")
	default:
	}
	if err := m.magic.ManageSync(ctx, m.domains); err != nil {
		return fmt.Errorf("acme: %w", err)
	}
	go func() {
		select {
		case <-ctx.Done():
			m.Close()
		case <-m.done:
		}
	}()
	return nil
}

// GetCertificate serves the managed certificate for hello.ServerName. It
// returns (nil, nil) when the name is not managed, so callers can fall back
// to another certificate source. It is suitable for tls.Config.GetCertificate.
func (m *Manager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if hello == nil || !m.Manages(hello.ServerName) {
		return nil, nil
	}
	if n := normalize(hello.ServerName); n != hello.ServerName {
		h := *hello
		h.ServerName = n
		hello = &h
	}
	return m.magic.GetCertificate(hello)
}

// Manages reports whether name is one of the manager's domains.
func (m *Manager) Manages(name string) bool {
	_, ok := m.managed[normalize(name)]
	return ok
}

// HTTPChallengeHandler wraps next so that /.well-known/acme-challenge/
// requests for pending http-01 challenges are answered; everything else goes
// to next. The gateway mounts it on its plain-HTTP data-plane port.
func (m *Manager) HTTPChallengeHandler(next http.Handler) http.Handler {
	return m.issuer.HTTPChallengeHandler(next)
}

// Close stops renewal and all background goroutines of the manager's
// certificate cache. It is safe to call more than once.
func (m *Manager) Close() {
	m.closeOnce.Do(func() {
		close(m.done)
		m.cache.Stop()
	})
}
