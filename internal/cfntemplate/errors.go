package cfntemplate

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Error is one problem in a template, located so that an editor can jump to it.
type Error struct {
	// File is the template's name as it was loaded.
	File string
	// Line and Column count from 1; zero means unknown (a problem with the file as a whole).
	Line, Column int
	// Resource is the logical ID of the resource (or the name of the parameter, condition or output)
	// the problem belongs to, as "Resources.ID", "Parameters.ID", …; empty for the file as a whole.
	Resource string
	// Message says what is wrong and what to do.
	Message string
}

// Error formats the problem as "FILE:LINE:COL: Resources.ID: MESSAGE" on one line.
func (e Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
		if e.Column > 0 {
			b.WriteString(":" + strconv.Itoa(e.Column))
		}
	}
	b.WriteString(": ")
	if e.Resource != "" {
		b.WriteString(oneLine(e.Resource))
		b.WriteString(": ")
	}
	b.WriteString(oneLine(e.Message))
	return b.String()
}

// oneLine writes control characters (which names from the file may hold) as Go escapes, so that every
// error stays on one line.
func oneLine(s string) string {
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

// Errors is every problem found in a template, in file order. A template with any Errors is rejected
// whole.
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

// maxReportedErrors bounds the errors reported: past a few hundred nobody reads them.
const maxReportedErrors = 500

// sorted puts errors in file order (errors without a position first), drops exact repeats, and bounds
// their number.
func (es Errors) sorted() Errors {
	slices.SortStableFunc(es, func(a, b Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	es = slices.Compact(es)
	if len(es) > maxReportedErrors {
		more := len(es) - maxReportedErrors
		es = append(es[:maxReportedErrors:maxReportedErrors], Error{File: es[0].File, Message: strconv.Itoa(more) + " more problems not shown"})
	}
	return es
}
