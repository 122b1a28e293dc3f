#!/usr/bin/env bash
# The README's HTTP API control-plane workflow with the AWS CLI v2, run by TestHTTPAPIControlPlaneWithAWSCLI:
# quick create, CORS, a JWT authorizer, route settings, export, import, reimport,
# delete-cors-configuration, reset-authorizers-cache and API mappings on a custom domain. Needs: AWS (the CLI v2 executable), ENDPOINT (the control plane URL), BACKEND
# (an HTTP backend URL), WORK (a scratch directory). Prints "API_ID=..." and "API_ENDPOINT=..."; any
# failed step exits non-zero.
set -euo pipefail

cli() { "$AWS" apigatewayv2 --endpoint-url "$ENDPOINT" --output text "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# Quick create: an HTTP_PROXY integration, a $default route and an autoDeploy $default stage.
API_ID=$(cli create-api --name pets --protocol-type HTTP --target "$BACKEND" --query ApiId)
[ -n "$API_ID" ] || fail "create-api returned no ApiId"
RSE=$(cli get-api --api-id "$API_ID" --query RouteSelectionExpression)
[ "$RSE" = '$request.method $request.path' ] || fail "routeSelectionExpression is $RSE"
MANAGED=$(cli get-integrations --api-id "$API_ID" --query 'Items[0].[ApiGatewayManaged,IntegrationType,IntegrationMethod]')
[ "$MANAGED" = "True	HTTP_PROXY	ANY" ] || fail "quick-created integration: $MANAGED"
AUTO=$(cli get-stage --api-id "$API_ID" --stage-name '$default' --query '[AutoDeploy,ApiGatewayManaged]')
[ "$AUTO" = "True	True" ] || fail "quick-created stage: $AUTO"

cli update-api --api-id "$API_ID" \
  --cors-configuration 'AllowOrigins=https://app.example.com,AllowMethods=GET,MaxAge=300' >/dev/null
ORIGIN=$(cli get-api --api-id "$API_ID" --query 'CorsConfiguration.AllowOrigins[0]')
[ "$ORIGIN" = https://app.example.com ] || fail "CORS origin is $ORIGIN"

AUTHORIZER_ID=$(cli create-authorizer --api-id "$API_ID" --name cognito --authorizer-type JWT \
  --identity-source '$request.header.Authorization' \
  --jwt-configuration Audience=pets-client,Issuer=https://issuer.example.com --query AuthorizerId)
INTEGRATION_ID=$(cli get-integrations --api-id "$API_ID" --query 'Items[0].IntegrationId')
cli create-route --api-id "$API_ID" --route-key 'GET /pets/{id}' --target "integrations/$INTEGRATION_ID" \
  --authorization-type JWT --authorizer-id "$AUTHORIZER_ID" --authorization-scopes pets/read >/dev/null
cli update-stage --api-id "$API_ID" --stage-name '$default' \
  --route-settings '{"GET /pets/{id}":{"ThrottlingBurstLimit":10,"ThrottlingRateLimit":5}}' >/dev/null
BURST=$(cli get-stage --api-id "$API_ID" --stage-name '$default' --query 'RouteSettings."GET /pets/{id}".ThrottlingBurstLimit')
[ "$BURST" = 10 ] || fail "route throttling burst is $BURST"

# HTTP APIs have proxy integrations only; AWS says so in these words.
set +e
OUT=$(cli create-integration --api-id "$API_ID" --integration-type AWS --integration-uri arn:aws:lambda:us-east-1:123456789012:function:f 2>&1)
STATUS=$?
set -e
[ "$STATUS" -ne 0 ] || fail "an AWS integration was accepted on an HTTP API"
echo "$OUT" | grep -q 'may only be associated with proxy integrations' || fail "AWS integration: $OUT"

# Export what the $default stage serves, import it as a second API, reimport a smaller definition.
cli export-api --api-id "$API_ID" --specification OAS30 --output-type YAML --stage-name '$default' "$WORK/pets.yaml" >/dev/null
grep -q '/pets/{id}:' "$WORK/pets.yaml" || fail "the export has no /pets/{id}: $(cat "$WORK/pets.yaml")"
grep -q 'x-amazon-apigateway-authorizer:' "$WORK/pets.yaml" || fail "the export has no authorizer"
COPY_ID=$(cli import-api --body "file://$WORK/pets.yaml" --fail-on-warnings --query ApiId)
ROUTES=$(cli get-routes --api-id "$COPY_ID" --query 'length(Items)')
[ "$ROUTES" = 2 ] || fail "the imported API has $ROUTES routes, want 2"
cat > "$WORK/small.yaml" <<YAML
openapi: 3.0.1
info: {title: pets-copy}
paths:
  /health:
    get:
      x-amazon-apigateway-integration: {type: http_proxy, httpMethod: GET, uri: "$BACKEND/health"}
YAML
cli reimport-api --api-id "$COPY_ID" --body "file://$WORK/small.yaml" >/dev/null
KEYS=$(cli get-routes --api-id "$COPY_ID" --query 'Items[].RouteKey')
[ "$KEYS" = "GET /health" ] || fail "routes after reimport-api: $KEYS"

cli delete-cors-configuration --api-id "$API_ID"
CORS=$(cli get-api --api-id "$API_ID" --query CorsConfiguration)
[ "$CORS" = None ] || fail "CORS after delete-cors-configuration: $CORS"

# Empty the $default stage's Lambda-authorizer cache.
cli reset-authorizers-cache --api-id "$API_ID" --stage-name '$default'

# A custom domain: HTTP API mapping keys may have several levels; a WebSocket API on the same domain is
# refused in AWS's words.
cli create-domain-name --domain-name pets.example.com >/dev/null
KEY=$(cli create-api-mapping --domain-name pets.example.com --api-id "$API_ID" --stage '$default' \
  --api-mapping-key v1/pets --query ApiMappingKey)
[ "$KEY" = v1/pets ] || fail "multi-level mapping key: $KEY"
WS_ID=$(cli create-api --name chat --protocol-type WEBSOCKET --route-selection-expression '$request.body.action' --query ApiId)
cli create-stage --api-id "$WS_ID" --stage-name prod >/dev/null
set +e
OUT=$(cli create-api-mapping --domain-name pets.example.com --api-id "$WS_ID" --stage prod --api-mapping-key chat 2>&1)
STATUS=$?
set -e
[ "$STATUS" -ne 0 ] || fail "a WebSocket API was mapped beside an HTTP API"
echo "$OUT" | grep -q 'WebSocket APIs can only be attached to a domain name with other WebSocket APIs' || fail "mixed mapping: $OUT"
cli delete-domain-name --domain-name pets.example.com
cli delete-api --api-id "$WS_ID"

echo "API_ID=$API_ID"
echo "API_ENDPOINT=$(cli get-api --api-id "$API_ID" --query ApiEndpoint)"
cli delete-api --api-id "$COPY_ID"
echo DONE
