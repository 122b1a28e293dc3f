package configfile

import (
	"fmt"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/selexpr"
)

// Warnings returns what is valid in the file but almost certainly not what its author meant, located like
// errors and in file order. The gateway serves such a file; `switchboard validate` and the start-up log
// show the warnings. Each check is one function below, so that new ones are added in one place.
func (f *File) Warnings() Errors {
	var ws Errors
	for i := range f.Bundle.APIs {
		ws = append(ws, f.routeSelectionWarnings(i)...)
	}
	// APIs behind a mutual-TLS domain whose default endpoint still serves them without a client
	// certificate.
	if located, ok := f.Locate(resource.MutualTLSWarnings(f.Bundle)).(Errors); ok {
		ws = append(ws, located...)
	}
	sortErrors(ws)
	return ws
}

// routeSelectionWarnings warns about an API whose routeSelectionExpression can never select one of its
// custom routes: an expression without variables ("request.body.action", the $ forgotten) evaluates to
// the same text for every message, so when that text is no route key every message goes to $default
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-selection-expressions.html).
func (f *File) routeSelectionWarnings(i int) Errors {
	a := &f.Bundle.APIs[i]
	var custom []string
	for _, r := range a.Routes {
		if r.RouteKey != "" && !strings.HasPrefix(r.RouteKey, "$") {
			custom = append(custom, r.RouteKey)
		}
	}
	if len(custom) == 0 || a.RouteSelectionExpression == "" {
		return nil
	}
	e, err := selexpr.Parse(a.RouteSelectionExpression)
	if err != nil || !e.IsStatic() {
		return nil // a syntax error is validation's to report; variables can select any route
	}
	value := e.Eval(nil)
	for _, k := range custom {
		if k == value {
			return nil
		}
	}
	msg := fmt.Sprintf("routeSelectionExpression %q has no variable, so every message selects the route key %q, which no route has: the custom routes %s can never be selected and every message goes to $default",
		a.RouteSelectionExpression, value, strings.Join(custom, ", "))
	if looksLikeVariable(value) {
		msg += fmt.Sprintf("; did you mean $%s?", value)
	}
	path := resource.FieldPath(resource.IndexPath("apis", i), "routeSelectionExpression")
	pos, _ := f.Position(path)
	return Errors{{File: f.Name, Pos: pos, Path: path, Message: msg}}
}

// looksLikeVariable reports whether s is a variable reference written without its $.
func looksLikeVariable(s string) bool {
	for _, p := range []string{"request.", "context.", "stageVariables."} {
		if strings.HasPrefix(s, p) && !strings.ContainsAny(s, " $") {
			return true
		}
	}
	return false
}
