package cfntemplate

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/resource"
)

// FuzzParse feeds arbitrary bytes to Parse as a template: it must never panic or hang, every failure must
// be Errors whose lines each name the file, and every success must be a bundle that validates and
// serialises.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/*/template.yaml", "testdata/cdk/cdk.out/*.template.json"} {
		files, _ := filepath.Glob(pattern)
		for _, name := range files {
			data, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte(exprTemplate(`!Join ["-", [!Select [0, !Split [",", !Sub "${Env},x"]], !FindInMap [Regions, us-east-1, Short]]]`)))
	f.Add([]byte("Resources:\n  A: &a {Type: AWS::SNS::Topic, Properties: {X: [*a, *a]}}\n"))
	f.Add([]byte("Conditions: {A: !Condition A}\nResources: {T: {Type: AWS::SNS::Topic, Condition: A}}\n"))
	f.Add([]byte(`{"Resources": {"Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"Name": {"Fn::Sub": "${AWS::Region}"}, "ProtocolType": "WEBSOCKET", "RouteSelectionExpression": "$request.body.action"}}}}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		tpl, err := Parse("fuzz.yaml", data, dir, Options{StackName: "fuzz"})
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error is %T, not Errors: %v", err, err)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "fuzz.yaml:") {
					t.Fatalf("error line %q does not start with the file name; all:\n%s", line, err)
				}
			}
			if tpl != nil {
				t.Fatal("Parse returned both a template and an error")
			}
			return
		}
		if errs := resource.Validate(tpl.Bundle); errs != nil {
			t.Fatalf("Parse accepted a bundle that does not validate: %v", errs)
		}
		if _, err := json.Marshal(tpl.Bundle); err != nil {
			t.Fatalf("bundle does not serialise: %v", err)
		}
	})
}
