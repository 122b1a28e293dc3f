package cfntemplate

import (
	"maps"
	"strings"
	"testing"
)

func TestParseOverrides(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    map[string]string
		wantErr string
	}{
		{name: "CLI syntax", args: []string{"A=1 B=two"}, want: map[string]string{"A": "1", "B": "two"}},
		{name: "repeated flag", args: []string{"A=1", "B=2"}, want: map[string]string{"A": "1", "B": "2"}},
		{name: "SAM syntax", args: []string{"ParameterKey=A,ParameterValue=1 ParameterKey=B,ParameterValue=x=y"}, want: map[string]string{"A": "1", "B": "x=y"}},
		{name: "quoted value", args: []string{`A="a b" B='c d'`}, want: map[string]string{"A": "a b", "B": "c d"}},
		{name: "empty value", args: []string{"A="}, want: map[string]string{"A": ""}},
		{name: "last wins", args: []string{"A=1 A=2"}, want: map[string]string{"A": "2"}},
		{name: "no equals", args: []string{"A"}, wantErr: `"A" is not Key=Value`},
		{name: "SAM without value", args: []string{"ParameterKey=A"}, wantErr: "is not ParameterKey=Key,ParameterValue=Value"},
		{name: "unclosed quote", args: []string{`A="x`}, wantErr: `unclosed "`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOverrides(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCheckOverrides(t *testing.T) {
	ts := []*Template{{Parameters: []string{"A"}}, {Parameters: []string{"B"}}}
	if err := CheckOverrides(ts, map[string]string{"A": "1", "B": "2"}); err != nil {
		t.Errorf("declared parameters refused: %v", err)
	}
	err := CheckOverrides(ts, map[string]string{"A": "1", "Z": "2", "Y": "3"})
	if err == nil || !strings.Contains(err.Error(), "parameters [Y, Z] do not exist") {
		t.Errorf("error %v, want one naming Y and Z", err)
	}
}

// FuzzParseOverrides: any argument either parses into non-empty keys or fails with a message, and what
// it parses into, written back as Key='Value' items, parses the same again.
func FuzzParseOverrides(f *testing.F) {
	for _, s := range []string{"A=1 B=two", "ParameterKey=A,ParameterValue=1", `A="a b" B='c'`, "A=", "=x", `A="x`, "ParameterKey=A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		got, err := ParseOverrides([]string{arg})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		var items []string
		for k, v := range got {
			if k == "" {
				t.Fatalf("empty key from %q", arg)
			}
			if strings.ContainsAny(k+v, `'"`) || strings.ContainsAny(k, " \t\n") || strings.HasPrefix(k, "ParameterKey") {
				return // not representable in the round trip below
			}
			items = append(items, k+"='"+v+"'")
		}
		again, err := ParseOverrides([]string{strings.Join(items, " ")})
		if err != nil || !maps.Equal(got, again) {
			t.Fatalf("%q → %v → %q → %v (%v)", arg, got, items, again, err)
		}
	})
}
