// Package openapi reads and writes the OpenAPI 3.0 definitions of HTTP APIs with API Gateway's
// x-amazon-apigateway-* extensions, as ImportApi, ReimportApi and ExportApi do: Import turns a
// definition into a resource.API (routes, integrations, authorizers, CORS, tags) plus the warnings AWS
// would report; Export writes a resource.API back as the document AWS exports, in JSON or YAML.
//
// It is an edge beside configfile and cfntemplate: it produces resources and does no I/O. The rules
// follow AWS's "Working with OpenAPI definitions for HTTP APIs" and the extension reference
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-open-api.html,
// https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions.html);
// exports are written the way API Gateway writes them (Jackson's pretty printer: `"key" : value`,
// two-space indentation, arrays inline).
package openapi

import (
	"fmt"
	"strings"
)

// Extension names, as API Gateway spells them.
const (
	extIntegration      = "x-amazon-apigateway-integration"
	extIntegrations     = "x-amazon-apigateway-integrations"
	extAnyMethod        = "x-amazon-apigateway-any-method"
	extCORS             = "x-amazon-apigateway-cors"
	extAuthorizer       = "x-amazon-apigateway-authorizer"
	extAuthType         = "x-amazon-apigateway-authtype"
	extImportExport     = "x-amazon-apigateway-importexport-version"
	extEndpointConfig   = "x-amazon-apigateway-endpoint-configuration"
	extTagValue         = "x-amazon-apigateway-tag-value"
	importExportVersion = "1.0"
)

// Error is a definition Switchboard cannot import, as AWS refuses it: the whole import fails and nothing
// changes. Line is the definition's line the problem is on, or 0.
type Error struct {
	Line    int
	Message string
}

// Error returns the message, with the line when it is known.
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("Invalid OpenAPI input: %s (line %d)", e.Message, e.Line)
	}
	return "Invalid OpenAPI input: " + e.Message
}

// Basepath modes of ImportApi's basepath parameter
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-import-api-basePath.html).
const (
	BasepathIgnore  = "ignore"
	BasepathPrepend = "prepend"
	BasepathSplit   = "split"
)

// checkBasepath returns an error for a basepath mode AWS does not know.
func checkBasepath(mode string) error {
	switch mode {
	case "", BasepathIgnore, BasepathPrepend, BasepathSplit:
		return nil
	}
	return &Error{Message: fmt.Sprintf("basepath %q is not valid; use ignore, prepend or split", mode)}
}

// methods are the OpenAPI operation keys HTTP API routes can have, in the order exports list them.
var methods = []string{"get", "put", "post", "delete", "options", "head", "patch"}

// routeMethod returns the route-key method of an operation key ("get" → GET, the any-method extension →
// ANY), or "" when the key is not an operation HTTP APIs route.
func routeMethod(key string) string {
	if key == extAnyMethod {
		return "ANY"
	}
	for _, m := range methods {
		if key == m {
			return strings.ToUpper(m)
		}
	}
	return ""
}

// operationKey is routeMethod's inverse.
func operationKey(method string) string {
	if method == "ANY" {
		return extAnyMethod
	}
	return strings.ToLower(method)
}
