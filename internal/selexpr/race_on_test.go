//go:build race

package selexpr

// raceEnabled reports a -race build: sync.Pool then drops items at random (on purpose), so pooled
// objects such as encoding/json's scanner are allocated again now and then.
const raceEnabled = true
