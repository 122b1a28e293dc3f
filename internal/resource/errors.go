package resource

import (
	"errors"
	"strings"
)

// FieldError says what is wrong with one field of a Bundle. Path names the field the way the config file
// and the JSON form spell it, with list indexes: "apis[0].routes[2].target". Adapters turn the path into
// their own location (a file line, a request member).
type FieldError struct {
	Path    string
	Message string
}

// Error implements error.
func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Message
	}
	return e.Path + ": " + e.Message
}

// FieldErrors is every problem found in one Bundle. A Bundle with any FieldErrors is rejected whole.
type FieldErrors []*FieldError

// Error implements error by joining every message on its own line.
func (es FieldErrors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// AsFieldErrors returns the FieldErrors inside err, if any.
func AsFieldErrors(err error) (FieldErrors, bool) {
	var fe FieldErrors
	if errors.As(err, &fe) {
		return fe, true
	}
	var one *FieldError
	if errors.As(err, &one) {
		return FieldErrors{one}, true
	}
	return nil, false
}
