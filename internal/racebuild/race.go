//go:build race

// Package racebuild says whether the program was built with -race. Allocation guards in tests use it:
// under the race detector sync.Pool drops items at random (on purpose), so pooled objects are allocated
// again now and then and a guard allows a few more.
package racebuild

// Enabled reports a -race build.
const Enabled = true
