// Package store is the chat's list of connected clients: a set of connection IDs kept as files in a
// directory, so that the processes of the three functions (connect, disconnect and sendmessage) share it.
//
// It stands in for the DynamoDB table of the AWS and Sparta samples: Add is PutItem, Remove is DeleteItem
// and List is Scan. On AWS the functions would use that table instead; locally a directory is enough and
// needs no emulator.
//
// Each connection ID is one empty file whose name is the hex encoding of the ID. Connection IDs are
// base64-like ("AACKm-c2cHRfJZU="): hex keeps the names portable, including on case-insensitive file
// systems where two IDs differing only in case would otherwise share a file.
package store

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// EnvDir is the environment variable that names the store's directory. Relative paths are relative to
// the function's working directory.
const EnvDir = "CHAT_STORE_DIR"

// Store is a set of connection IDs in a directory. Its methods are safe for concurrent use, also by
// several processes: each operation is a single file system call.
type Store struct {
	dir string
}

// Open returns the store in dir, creating the directory if needed.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("store: no directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return &Store{dir: dir}, nil
}

// FromEnv opens the store in the directory named by $CHAT_STORE_DIR.
func FromEnv() (*Store, error) {
	dir := os.Getenv(EnvDir)
	if dir == "" {
		return nil, fmt.Errorf("store: %s is not set", EnvDir)
	}
	return Open(dir)
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// path returns the file that stands for id.
func (s *Store) path(id string) string {
	return filepath.Join(s.dir, hex.EncodeToString([]byte(id)))
}

// Add records id. Adding an ID twice is not an error.
func (s *Store) Add(id string) error {
	if id == "" {
		return errors.New("store: empty connection ID")
	}
	f, err := os.OpenFile(s.path(id), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("store: add %q: %w", id, err)
	}
	return f.Close()
}

// Remove forgets id. Removing an unknown ID is not an error.
func (s *Store) Remove(id string) error {
	if id == "" {
		return errors.New("store: empty connection ID")
	}
	if err := os.Remove(s.path(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store: remove %q: %w", id, err)
	}
	return nil
}

// List returns the recorded IDs, sorted. Files whose names are not hex (not written by Add) are skipped.
func (s *Store) List() ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("store: list: %w", err)
	}
	ids := make([]string, 0, len(entries))
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		id, err := hex.DecodeString(e.Name())
		if err != nil || len(id) == 0 {
			continue
		}
		ids = append(ids, string(id))
	}
	slices.Sort(ids)
	return ids, nil
}
