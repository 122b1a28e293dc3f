// Package policy parses and evaluates IAM policy documents, the small subset API Gateway needs: the
// policyDocument a Lambda authorizer returns (execute-api:Invoke on a $connect method ARN) and the
// policies of IAM users configured in Switchboard (execute-api:Invoke on $connect,
// execute-api:ManageConnections on @connections). It is pure: no I/O, no clock.
//
// What is reproduced from IAM, because authorizers written for AWS depend on it:
//   - member names are matched exactly ("Effect", not "effect"; encoding/json's case-insensitive
//     matching is deliberately not used), and Effect is exactly "Allow" or "Deny";
//   - Action, NotAction, Resource and NotResource are a string or an array of strings;
//     Statement is an array or a single object;
//   - '*' and '?' wildcards in actions and resources; actions compare case-insensitively, resources
//     case-sensitively;
//   - an explicit Deny beats any Allow, and nothing matching means an implicit deny.
//
// What is not: policy variables (${aws:username} is literal text) and condition operators. A statement
// with a Condition is evaluated fail-closed: an Allow with a Condition never applies, a Deny with a
// Condition applies whenever its actions and resources match (its condition is assumed to hold). Principal and NotPrincipal are accepted and ignored (identity-based policies
// have none, and the caller is already the principal).
package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrMalformed reports a policy document that cannot be evaluated. API Gateway answers such an
// authorizer result with 500.
var ErrMalformed = errors.New("malformed policy document")

// Effect is the outcome of evaluating policies for one request.
type Effect int

// Evaluation outcomes. NotMatched is the zero value: no statement applies, which IAM treats as an
// implicit deny; callers keep it apart from Deny only for logs.
const (
	NotMatched Effect = iota
	Allow
	Deny
)

// String returns "NotMatched", "Allow" or "Deny".
func (e Effect) String() string {
	switch e {
	case Allow:
		return "Allow"
	case Deny:
		return "Deny"
	}
	return "NotMatched"
}

// Versions IAM accepts in a policy's Version; a document without Version is read as the older one, as IAM
// does (the difference, policy variables, does not matter here).
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// Document is a parsed policy.
type Document struct {
	Version    string
	ID         string
	Statements []Statement
}

// Statement is one statement of a Document. Exactly one of Actions/NotActions and one of
// Resources/NotResources is set.
type Statement struct {
	Sid    string
	Effect Effect // Allow or Deny
	// Actions or NotActions: "service:Action" patterns.
	Actions, NotActions []string
	// Resources or NotResources: ARN patterns.
	Resources, NotResources []string
	// HasCondition says the statement carries a Condition, which this package cannot evaluate; see the
	// package documentation for how such statements are treated.
	HasCondition bool
}

// Parse reads a policy document. Errors wrap ErrMalformed.
func Parse(data []byte) (*Document, error) {
	members, err := object(data, "policy document")
	if err != nil {
		return nil, err
	}
	doc := &Document{}
	for name, raw := range members {
		switch name {
		case "Version":
			if err := json.Unmarshal(raw, &doc.Version); err != nil {
				return nil, fmt.Errorf("%w: Version is not a string", ErrMalformed)
			}
			if doc.Version != Version2012 && doc.Version != Version2008 {
				return nil, fmt.Errorf("%w: unsupported Version %q", ErrMalformed, doc.Version)
			}
		case "Id":
			if err := json.Unmarshal(raw, &doc.ID); err != nil {
				return nil, fmt.Errorf("%w: Id is not a string", ErrMalformed)
			}
		case "Statement":
			if doc.Statements, err = statements(raw); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%w: unknown member %q", ErrMalformed, name)
		}
	}
	if _, ok := members["Statement"]; !ok {
		return nil, fmt.Errorf("%w: no Statement", ErrMalformed)
	}
	return doc, nil
}

func statements(raw json.RawMessage) ([]Statement, error) {
	raw = bytes.TrimSpace(raw)
	var items []json.RawMessage
	switch {
	case len(raw) > 0 && raw[0] == '[':
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, fmt.Errorf("%w: Statement: %w", ErrMalformed, err)
		}
	case len(raw) > 0 && raw[0] == '{':
		items = []json.RawMessage{raw}
	default:
		return nil, fmt.Errorf("%w: Statement is neither an array nor an object", ErrMalformed)
	}
	out := make([]Statement, 0, len(items))
	for i, item := range items {
		st, err := statement(item)
		if err != nil {
			return nil, fmt.Errorf("Statement[%d]: %w", i, err)
		}
		out = append(out, st)
	}
	return out, nil
}

func statement(raw json.RawMessage) (Statement, error) {
	var st Statement
	members, err := object(raw, "statement")
	if err != nil {
		return st, err
	}
	for name, v := range members {
		switch name {
		case "Sid":
			if err := json.Unmarshal(v, &st.Sid); err != nil {
				return st, fmt.Errorf("%w: Sid is not a string", ErrMalformed)
			}
		case "Effect":
			var e string
			if err := json.Unmarshal(v, &e); err != nil {
				return st, fmt.Errorf("%w: Effect is not a string", ErrMalformed)
			}
			switch e {
			case "Allow":
				st.Effect = Allow
			case "Deny":
				st.Effect = Deny
			default:
				return st, fmt.Errorf("%w: Effect %q is neither \"Allow\" nor \"Deny\"", ErrMalformed, e)
			}
		case "Action":
			st.Actions, err = stringOrArray(name, v)
		case "NotAction":
			st.NotActions, err = stringOrArray(name, v)
		case "Resource":
			st.Resources, err = stringOrArray(name, v)
		case "NotResource":
			st.NotResources, err = stringOrArray(name, v)
		case "Condition":
			if _, err := object(v, "Condition"); err != nil {
				return st, err
			}
			st.HasCondition = true
		case "Principal", "NotPrincipal":
			// Ignored; see the package documentation.
		default:
			return st, fmt.Errorf("%w: unknown statement member %q", ErrMalformed, name)
		}
		if err != nil {
			return st, err
		}
	}
	if st.Effect == NotMatched {
		return st, fmt.Errorf("%w: statement has no Effect", ErrMalformed)
	}
	if (st.Actions == nil) == (st.NotActions == nil) {
		return st, fmt.Errorf("%w: statement needs exactly one of Action and NotAction", ErrMalformed)
	}
	if (st.Resources == nil) == (st.NotResources == nil) {
		return st, fmt.Errorf("%w: statement needs exactly one of Resource and NotResource", ErrMalformed)
	}
	return st, nil
}

// object decodes a JSON object into its members, keeping their names exactly.
func object(data []byte, what string) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMalformed, what, err)
	}
	if m == nil {
		return nil, fmt.Errorf("%w: %s is null", ErrMalformed, what)
	}
	return m, nil
}

// stringOrArray decodes a member that is a string or a non-empty array of strings. The result is never
// nil on success, so "absent" and "present" stay distinguishable.
func stringOrArray(name string, raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrMalformed, name, err)
		}
		return []string{s}, nil
	}
	var list []string
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &list) != nil {
		return nil, fmt.Errorf("%w: %s is neither a string nor an array of strings", ErrMalformed, name)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%w: %s is an empty array", ErrMalformed, name)
	}
	return list, nil
}

// Evaluate returns the effect of d for action on resource: Deny if any applicable statement denies,
// else Allow if any allows, else NotMatched.
func (d *Document) Evaluate(action, resource string) Effect {
	if d == nil {
		return NotMatched
	}
	action = strings.ToLower(action)
	result := NotMatched
	for i := range d.Statements {
		st := &d.Statements[i]
		if !st.applies(action, resource) {
			continue
		}
		if st.Effect == Deny {
			return Deny
		}
		result = Allow
	}
	return result
}

// Evaluate combines several documents the way IAM combines the policies attached to one principal: an
// explicit Deny in any of them wins, else an Allow in any, else NotMatched.
func Evaluate(action, resource string, docs ...*Document) Effect {
	result := NotMatched
	for _, d := range docs {
		switch d.Evaluate(action, resource) {
		case Deny:
			return Deny
		case Allow:
			result = Allow
		}
	}
	return result
}

// applies reports whether st covers action (already lower-cased) on resource.
func (st *Statement) applies(action, resource string) bool {
	if st.HasCondition && st.Effect == Allow {
		// Fail closed: a conditional Allow is assumed not to hold (and a conditional Deny to hold).
		return false
	}
	if st.Actions != nil {
		if !anyMatch(st.Actions, action, true) {
			return false
		}
	} else if anyMatch(st.NotActions, action, true) {
		return false
	}
	if st.Resources != nil {
		return anyMatch(st.Resources, resource, false)
	}
	return !anyMatch(st.NotResources, resource, false)
}

func anyMatch(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if fold {
			p = strings.ToLower(p)
		}
		if Match(p, s) {
			return true
		}
	}
	return false
}
