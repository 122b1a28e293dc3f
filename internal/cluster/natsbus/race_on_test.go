//go:build race

package natsbus

// raceEnabled reports a -race build: sync.Pool then drops items at random (on purpose), so pooled
// objects are allocated again now and then, and the allocation guards allow a few more.
const raceEnabled = true
