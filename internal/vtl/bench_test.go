package vtl

import (
	"encoding/json"
	"testing"
)

// benchTemplate is a realistic request template: fields from the body, context variables, a loop.
const benchTemplate = `#set($body = $input.path('$'))
{
  "action": "$input.path('$.action')",
  "connectionId": "$context.connectionId",
  "requestId": "$context.requestId",
  "user": "$util.escapeJavaScript($body.user.name)",
  "items": [#foreach($i in $body.items)"$i.id"#if($foreach.hasNext),#end#end],
  "raw": $input.json('$.user')
}`

const benchBody = `{"action":"send","user":{"name":"O'Brien","id":42},"items":[{"id":"a"},{"id":"b"},{"id":"c"}]}`

func BenchmarkRender(b *testing.B) {
	tp, err := Parse(benchTemplate)
	if err != nil {
		b.Fatal(err)
	}
	ctx := ContextMap(map[string]string{"connectionId": "L0SM9cOFvHcCIhw=", "requestId": "Lq8VcF3hoAMF1tQ="})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tp.Render(&Vars{Body: benchBody, Context: ctx}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStatic(b *testing.B) {
	tp, err := Parse(`{"statusCode": 200}`)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tp.Render(&Vars{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(benchTemplate); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseJSON reads a chat message with ParseJSON and, as the baseline in the same run, with
// encoding/json into generic values.
func BenchmarkParseJSON(b *testing.B) {
	msg := []byte(`{"action":"sendmessage","room":"général","message":"Hello, \"world\"\nsecond line \u263a","seq":1234567,"ts":1733580000.125,"meta":{"client":"web","tags":["a","b","c"],"retry":false,"parent":null}}`)
	b.Run("ParseJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ParseJSON(msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v any
			if err := json.Unmarshal(msg, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
