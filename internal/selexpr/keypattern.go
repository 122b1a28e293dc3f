package selexpr

import (
	"regexp"
	"strconv"
)

// DefaultKey is the $default route and integration response key, which API Gateway uses when nothing
// else matches.
const DefaultKey = "$default"

// KeyPattern is a parsed integration response key: a /regex/ that is matched against the value of the
// integration response selection expression (typically the status code), or $default.
type KeyPattern struct {
	src       string
	re        *regexp.Regexp
	isDefault bool
}

// ParseKeyPattern parses an integration response key. "$default" gives a pattern whose IsDefault is
// true and which matches nothing, because falling back to the default is the caller's decision after
// every regex failed. "/re/" compiles re as a Go regexp anchored to the whole value (^(?:re)$), since API
// Gateway matches full status codes: /2\d\d/ matches "200" but not "1200". Anything else is an error.
func ParseKeyPattern(s string) (*KeyPattern, error) {
	if s == DefaultKey {
		return &KeyPattern{src: s, isDefault: true}, nil
	}
	if len(s) < 2 || s[0] != '/' || s[len(s)-1] != '/' {
		return nil, errorf(0, "integration response key "+strconv.Quote(s)+` is neither "$default" nor a /regex/`)
	}
	re, err := regexp.Compile(`^(?:` + s[1:len(s)-1] + `)$`)
	if err != nil {
		return nil, errorf(1, "invalid regex in integration response key "+strconv.Quote(s)+": "+err.Error())
	}
	return &KeyPattern{src: s, re: re}, nil
}

// Match reports whether value matches the whole regex. It is false for $default and for a nil pattern.
func (p *KeyPattern) Match(value string) bool {
	return p != nil && p.re != nil && p.re.MatchString(value)
}

// IsDefault reports whether the key is $default.
func (p *KeyPattern) IsDefault() bool { return p != nil && p.isDefault }

// String returns the key as written, so it can be echoed back in API responses.
func (p *KeyPattern) String() string {
	if p == nil {
		return ""
	}
	return p.src
}
