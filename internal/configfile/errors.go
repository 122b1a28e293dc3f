package configfile

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Pos is a place in a config file. Line and Column count from 1; zero means unknown (a problem with the
// file as a whole, or a YAML syntax error, for which the parser reports only the line).
type Pos struct {
	Line, Column int
}

// String returns "LINE:COL", "LINE" when the column is unknown, or "" when the line is.
func (p Pos) String() string {
	switch {
	case p.Line <= 0:
		return ""
	case p.Column <= 0:
		return strconv.Itoa(p.Line)
	default:
		return strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Column)
	}
}

// Error is one problem in a config file, located so that an editor can jump to it.
type Error struct {
	// File is the name the file was parsed under.
	File string
	// Pos is where the problem is; for a missing member it is the mapping that should hold it.
	Pos Pos
	// Path is the field path in resource.FieldError convention ("apis[0].routes[2].target"); empty for
	// problems with the file as a whole.
	Path string
	// Message says what is wrong and what is allowed.
	Message string
}

// Error formats the problem as "FILE:LINE:COL: PATH: MESSAGE" on one line, leaving out the parts that are
// unknown.
func (e Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if p := e.Pos.String(); p != "" {
		if b.Len() > 0 {
			b.WriteByte(':')
		}
		b.WriteString(p)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(escapeControls(e.Path))
		b.WriteString(": ")
	}
	b.WriteString(escapeControls(e.Message))
	return b.String()
}

// escapeControls writes control characters (which a map key or route key from the file may hold) as Go
// escapes, so that every error stays on one line of output.
func escapeControls(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Errors is every problem found in a config file, in file order. A file with any Errors is rejected
// whole, so that a half-valid configuration never reaches the gateway.
type Errors []Error

// Error prints one problem per line.
func (es Errors) Error() string {
	if len(es) == 0 {
		return "no errors"
	}
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems one by one so that errors.As finds an Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// sortErrors puts errors in file order; errors without a position come first, ties keep their order.
func sortErrors(es Errors) {
	slices.SortStableFunc(es, func(a, b Error) int {
		return cmp.Or(cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Column, b.Pos.Column))
	})
}
