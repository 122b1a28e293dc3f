package controlapi

import (
	"context"
	"errors"
	"github.com/switchboard-gw/switchboard/internal/awserr"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
)

// messageSchema is a model of a chat message with every kind of member the template generator renders.
const messageSchema = `{"$schema":"http://json-schema.org/draft-04/schema#","title":"Message","type":"object",` +
	`"required":["action"],"properties":{"action":{"type":"string"},"room":{"type":"string"},"priority":{"type":"integer"},` +
	`"urgent":{"type":"boolean"},"tags":{"type":"array","items":{"type":"string"}},` +
	`"author":{"$ref":"#/definitions/user"},"mentions":{"type":"array","items":{"$ref":"#/definitions/user"}}},` +
	`"definitions":{"user":{"type":"object","properties":{"id":{"type":"integer"},"display-name":{"type":["null","string"]}}}}}`

func TestModelsGolden(t *testing.T) {
	f := newCatalogFixture(t, nil)
	api := "/v2/apis/<api-1>"
	f.runResourceGolden("a_models.golden", []goldenStep{
		{"POST", "/v2/apis", newWebSocketAPI("chat")},
		{"POST", api + "/models", `{"name":"Message","schema":` + strconv.Quote(messageSchema) + `,"contentType":"application/json","description":"A chat message"}`},
		{"POST", api + "/models", `{"name":"Empty","schema":"{}"}`},
		{"GET", api + "/models/<model-1>", ""},
		{"GET", api + "/models/<model-1>/template", ""},
		{"GET", api + "/models/<model-2>/template", ""},
		{"GET", api + "/models", ""},
		{"GET", api + "/models?maxResults=1", ""},
		{"GET", api + "/models/nosuch", ""},
		{"GET", api + "/models/nosuch/template", ""},
		{"GET", "/v2/apis/nosuchapi/models/<model-1>/template", ""},
		// Refusals.
		{"POST", api + "/models", `{"name":"Message","schema":"{}"}`},
		{"POST", api + "/models", `{"name":"chat-message","schema":"{}"}`},
		{"POST", api + "/models", `{"schema":"{}"}`},
		{"POST", api + "/models", `{"name":"NoSchema"}`},
		{"POST", api + "/models", `{"name":"Broken","schema":"{\"type\":"}`},
		{"POST", api + "/models", `{"name":"List","schema":"[1,2]"}`},
		{"POST", "/v2/apis/nosuchapi/models", `{"name":"M","schema":"{}"}`},
		// UpdateModel.
		{"PATCH", api + "/models/<model-2>", `{"description":"Nothing at all","schema":"{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"number\"}}}"}`},
		{"GET", api + "/models/<model-2>/template", ""},
		{"PATCH", api + "/models/<model-2>", `{"name":"Message"}`},
		{"PATCH", api + "/models/<model-2>", `{"schema":null}`},
		{"PATCH", api + "/models/nosuch", `{}`},
		// A model a route names can be neither renamed nor deleted.
		{"POST", api + "/routes", `{"routeKey":"send","requestModels":{"$default":"Message"},"modelSelectionExpression":"$default"}`},
		{"PATCH", api + "/models/<model-1>", `{"name":"Chat"}`},
		{"DELETE", api + "/models/<model-1>", ""},
		{"PATCH", api + "/models/<model-1>", `{"description":"Still a chat message"}`},
		{"DELETE", api + "/models/<model-2>", ""},
		{"DELETE", api + "/models/<model-2>", ""},
		{"GET", api + "/models", ""},
	})
}

func TestModelsSDK(t *testing.T) {
	ctx := context.Background()
	f := newCatalogFixture(t, nil)
	c := f.client
	apiOut, err := c.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("chat"), ProtocolType: types.ProtocolTypeWebsocket,
		RouteSelectionExpression: aws.String("$request.body.action")})
	if err != nil {
		t.Fatal(err)
	}
	api := apiOut.ApiId
	created, err := c.CreateModel(ctx, &apigatewayv2.CreateModelInput{ApiId: api, Name: aws.String("Message"), Schema: aws.String(messageSchema),
		ContentType: aws.String("application/json")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(created.Name) != "Message" || aws.ToString(created.Schema) != messageSchema || aws.ToString(created.ContentType) != "application/json" {
		t.Errorf("CreateModel output: %+v", created)
	}
	id := created.ModelId
	upd, err := c.UpdateModel(ctx, &apigatewayv2.UpdateModelInput{ApiId: api, ModelId: id, Description: aws.String("Chat")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(upd.Description) != "Chat" || aws.ToString(upd.Schema) != messageSchema {
		t.Errorf("UpdateModel output: %+v", upd)
	}
	tmpl, err := c.GetModelTemplate(ctx, &apigatewayv2.GetModelTemplateInput{ApiId: api, ModelId: id})
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := modelTemplate(messageSchema); aws.ToString(tmpl.Value) != want {
		t.Errorf("GetModelTemplate value:\n%s\nwant\n%s", aws.ToString(tmpl.Value), want)
	}
	for _, name := range []string{"B", "C"} {
		if _, err := c.CreateModel(ctx, &apigatewayv2.CreateModelInput{ApiId: api, Name: aws.String(name), Schema: aws.String("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	var token *string
	for {
		out, err := c.GetModels(ctx, &apigatewayv2.GetModelsInput{ApiId: api, MaxResults: aws.String("2"), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			names = append(names, aws.ToString(it.Name))
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	if len(names) != 3 || names[0] != "Message" || names[2] != "C" {
		t.Errorf("GetModels listed %v", names)
	}

	cases := []struct {
		name string
		call func() error
		want string
	}{
		{"duplicate name", func() error {
			_, err := c.CreateModel(ctx, &apigatewayv2.CreateModelInput{ApiId: api, Name: aws.String("B"), Schema: aws.String("{}")})
			return err
		}, "ConflictException"},
		{"rename onto an existing name", func() error {
			_, err := c.UpdateModel(ctx, &apigatewayv2.UpdateModelInput{ApiId: api, ModelId: id, Name: aws.String("C")})
			return err
		}, "ConflictException"},
		{"invalid schema", func() error {
			_, err := c.CreateModel(ctx, &apigatewayv2.CreateModelInput{ApiId: api, Name: aws.String("D"), Schema: aws.String("{")})
			return err
		}, "BadRequestException"},
		{"invalid name", func() error {
			_, err := c.CreateModel(ctx, &apigatewayv2.CreateModelInput{ApiId: api, Name: aws.String("d_e"), Schema: aws.String("{}")})
			return err
		}, "BadRequestException"},
		{"unknown model", func() error {
			_, err := c.GetModel(ctx, &apigatewayv2.GetModelInput{ApiId: api, ModelId: aws.String("nosuch")})
			return err
		}, "NotFoundException"},
		{"template of unknown model", func() error {
			_, err := c.GetModelTemplate(ctx, &apigatewayv2.GetModelTemplateInput{ApiId: api, ModelId: aws.String("nosuch")})
			return err
		}, "NotFoundException"},
		{"model of unknown API", func() error {
			_, err := c.GetModels(ctx, &apigatewayv2.GetModelsInput{ApiId: aws.String("nosuchapi")})
			return err
		}, "NotFoundException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := errorCode(tc.call()); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}

	route, err := c.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: api, RouteKey: aws.String("send"), RequestModels: map[string]string{"$default": "Message"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteModel(ctx, &apigatewayv2.DeleteModelInput{ApiId: api, ModelId: id}); awsErrorCode(err) != "ConflictException" {
		t.Errorf("DeleteModel of a model in use: %v", err)
	}
	if _, err := c.DeleteRoute(ctx, &apigatewayv2.DeleteRouteInput{ApiId: api, RouteId: route.RouteId}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteModel(ctx, &apigatewayv2.DeleteModelInput{ApiId: api, ModelId: id}); err != nil {
		t.Fatalf("DeleteModel once no route uses it: %v", err)
	}
	if _, err := c.GetModel(ctx, &apigatewayv2.GetModelInput{ApiId: api, ModelId: id}); errorCode(err) != "NotFoundException" {
		t.Errorf("GetModel after DeleteModel: %v", err)
	}
}

func TestModelTemplate(t *testing.T) {
	cases := []struct {
		name, schema, want string
	}{
		{"empty schema", `{}`, "#set($inputRoot = $input.path('$'))\n$inputRoot\n"},
		{"string root", `{"type":"string"}`, "#set($inputRoot = $input.path('$'))\n\"$inputRoot\"\n"},
		{"object without properties", `{"type":"object"}`, "#set($inputRoot = $input.path('$'))\n{}\n"},
		{"scalars in schema order", `{"type":"object","properties":{"b":{"type":"number"},"a":{"type":"string"},"c":{"type":"boolean"},"d":{"type":"null"},"e":{}}}`,
			"#set($inputRoot = $input.path('$'))\n{\n" +
				"  \"b\" : $inputRoot.b,\n" +
				"  \"a\" : \"$inputRoot.a\",\n" +
				"  \"c\" : $inputRoot.c,\n" +
				"  \"d\" : null,\n" +
				"  \"e\" : $inputRoot.e\n" +
				"}\n"},
		{"names that are not identifiers", `{"properties":{"display-name":{"type":"string"},"it's":{"type":"integer"}}}`,
			"#set($inputRoot = $input.path('$'))\n{\n" +
				"  \"display-name\" : \"$inputRoot.get('display-name')\",\n" +
				"  \"it's\" : $inputRoot.get('it''s')\n" +
				"}\n"},
		{"array root of objects", `{"type":"array","items":{"type":"object","properties":{"id":{"type":"integer"},"type":{"type":"string"}}}}`,
			"#set($inputRoot = $input.path('$'))\n[\n" +
				"#foreach($elem in $inputRoot)\n" +
				"  {\n" +
				"    \"id\" : $elem.id,\n" +
				"    \"type\" : \"$elem.type\"\n" +
				"  }#if($foreach.hasNext),#end\n" +
				"#end\n" +
				"]\n"},
		{"nested arrays get their own loop variables", `{"type":"object","properties":{"grid":{"type":"array","items":{"type":"array","items":{"type":"integer"}}}}}`,
			"#set($inputRoot = $input.path('$'))\n{\n" +
				"  \"grid\" : [\n" +
				"#foreach($elem in $inputRoot.grid)\n" +
				"    [\n" +
				"#foreach($elem1 in $elem)\n" +
				"      $elem1#if($foreach.hasNext),#end\n" +
				"#end\n" +
				"    ]#if($foreach.hasNext),#end\n" +
				"#end\n" +
				"  ]\n" +
				"}\n"},
		{"local reference and nullable type", `{"properties":{"user":{"$ref":"#/definitions/user"}},"definitions":{"user":{"properties":{"name":{"type":["null","string"]}}}}}`,
			"#set($inputRoot = $input.path('$'))\n{\n" +
				"  \"user\" : {\n" +
				"    \"name\" : \"$inputRoot.user.name\"\n" +
				"  }\n" +
				"}\n"},
		{"external reference", `{"properties":{"user":{"$ref":"https://example.com/user.json"}}}`,
			"#set($inputRoot = $input.path('$'))\n{\n  \"user\" : $inputRoot.user\n}\n"},
		{"recursive reference stops", `{"$ref":"#/definitions/node","definitions":{"node":{"$ref":"#/definitions/node"}}}`,
			"#set($inputRoot = $input.path('$'))\n$inputRoot\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := modelTemplate(tc.schema)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// TestModelTemplateRecursion checks that schemas whose objects contain themselves, many times over, give
// templates of bounded size.
func TestModelTemplateRecursion(t *testing.T) {
	var props []string
	for i := range 20 {
		props = append(props, `"p`+strconv.Itoa(i)+`":{"$ref":"#/definitions/tree"}`)
	}
	for _, fanOut := range []int{2, 20} {
		schema := `{"$ref":"#/definitions/tree","definitions":{"tree":{"type":"object","properties":{` +
			strings.Join(props[:fanOut], ",") + `}}}}`
		got, err := modelTemplate(schema)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > 1<<20 {
			t.Errorf("fan-out %d: template of %d bytes", fanOut, len(got))
		}
	}
}

// TestModelTemplateSize: long member names that recurse make references grow with depth; the template
// stops at maxTemplateBytes and the request is a BadRequestException, not hundreds of megabytes.
func TestModelTemplateSize(t *testing.T) {
	long := strings.Repeat("n", 9000)
	var props []string
	for i := range 100 {
		props = append(props, `"`+long+strconv.Itoa(i)+`":{"$ref":"#"}`)
	}
	schema := `{"type":"object","properties":{` + strings.Join(props, ",") + `}}`
	got, err := modelTemplate(schema)
	var ae *awserr.Error
	if !errors.As(err, &ae) || ae.Type != awserr.TypeBadRequest {
		t.Fatalf("template of %d bytes, err %v; want a BadRequestException", len(got), err)
	}
	if _, err := modelTemplate(`{"type":"object","properties":{"` + long + `":{"type":"string"}}}`); err != nil {
		t.Fatalf("one long name is fine: %v", err)
	}
}
