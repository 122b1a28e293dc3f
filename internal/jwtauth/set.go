package jwtauth

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// MaxVerifiers bounds a Set.
const MaxVerifiers = 1000

// Set keeps one Verifier per (issuer, audiences), so that key caches survive snapshot swaps: a new
// snapshot with the same JWT authorizer asks the Set and gets the Verifier that already holds the keys.
// It is safe for concurrent use.
type Set struct {
	client *http.Client
	now    func() time.Time

	mu sync.Mutex
	m  map[string]*Verifier
}

// NewSet returns an empty Set whose verifiers use client and now (nil for the defaults of Config).
func NewSet(client *http.Client, now func() time.Time) *Set {
	return &Set{client: client, now: now, m: map[string]*Verifier{}}
}

// Verifier returns the Verifier of issuer and audience, making it on first use. Errors are New's.
func (s *Set) Verifier(issuer string, audience []string) (*Verifier, error) {
	auds := slices.Clone(audience)
	slices.Sort(auds)
	key := issuer + "\x00" + strings.Join(auds, "\x00")
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.m[key]; ok {
		return v, nil
	}
	v, err := New(Config{Issuer: issuer, Audience: audience, Client: s.client, Now: s.now})
	if err != nil {
		return nil, err
	}
	if len(s.m) >= MaxVerifiers {
		for k := range s.m { // forget one; it is rebuilt (and refetches its keys) if still in use
			delete(s.m, k)
			break
		}
	}
	s.m[key] = v
	return v, nil
}
