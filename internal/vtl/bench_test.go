package vtl

import "testing"

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
