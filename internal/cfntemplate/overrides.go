package cfntemplate

import (
	"fmt"
	"slices"
	"strings"
)

// ParseOverrides reads parameter overrides as the AWS and SAM CLIs take them, each argument holding one
// or more space-separated items:
//
//	Key=Value                                  (aws cloudformation deploy --parameter-overrides)
//	ParameterKey=Key,ParameterValue=Value      (sam deploy / sam local --parameter-overrides)
//
// Values may be quoted with " or ' to hold spaces. A key given twice takes its last value.
func ParseOverrides(args []string) (map[string]string, error) {
	out := map[string]string{}
	for _, arg := range args {
		items, err := splitQuoted(arg)
		if err != nil {
			return nil, fmt.Errorf("--parameter-overrides %q: %w", arg, err)
		}
		for _, item := range items {
			key, value, ok := strings.Cut(item, "=")
			if !ok || key == "" {
				return nil, fmt.Errorf("--parameter-overrides: %q is not Key=Value or ParameterKey=Key,ParameterValue=Value", item)
			}
			if key == "ParameterKey" {
				name, rest, ok := strings.Cut(value, ",")
				v, hasValue := strings.CutPrefix(rest, "ParameterValue=")
				if !ok || !hasValue || name == "" {
					return nil, fmt.Errorf("--parameter-overrides: %q is not ParameterKey=Key,ParameterValue=Value", item)
				}
				key, value = name, v
			}
			out[key] = value
		}
	}
	return out, nil
}

// splitQuoted splits s at spaces outside quotes, removing the quotes.
func splitQuoted(s string) ([]string, error) {
	var items []string
	var cur strings.Builder
	var quote rune
	inItem := false
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inItem = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inItem {
				items = append(items, cur.String())
				cur.Reset()
				inItem = false
			}
		default:
			cur.WriteRune(r)
			inItem = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unclosed %c", quote)
	}
	if inItem {
		items = append(items, cur.String())
	}
	return items, nil
}

// CheckOverrides reports overrides that name a parameter none of the templates declares (CloudFormation
// refuses them too: "Parameters: [X] do not exist in the template").
func CheckOverrides(templates []*Template, overrides map[string]string) error {
	declared := map[string]bool{}
	for _, t := range templates {
		for _, p := range t.Parameters {
			declared[p] = true
		}
	}
	var unknown []string
	for k := range overrides {
		if !declared[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	return fmt.Errorf("--parameter-overrides: parameters [%s] do not exist in the templates", strings.Join(unknown, ", "))
}
