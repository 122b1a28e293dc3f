#!/usr/bin/env bash
# The README's AWS CLI workflow, run against a Switchboard control plane by TestControlPlaneWithAWSCLI.
# Needs: AWS (the AWS CLI v2 executable), ENDPOINT (the control plane URL), BACKEND (an HTTP backend URL).
# Prints "API_ID=..." and "API_ENDPOINT=..." for the test to dial; any failed step exits non-zero.
set -euo pipefail

cli() { "$AWS" apigatewayv2 --endpoint-url "$ENDPOINT" --output text "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

API_ID=$(cli create-api --name chat --protocol-type WEBSOCKET \
  --route-selection-expression '$request.body.action' --query ApiId)
[ -n "$API_ID" ] || fail "create-api returned no ApiId"

INTEGRATION_ID=$(cli create-integration --api-id "$API_ID" --integration-type HTTP_PROXY \
  --integration-method POST --integration-uri "$BACKEND/sendmessage" --query IntegrationId)
TIMEOUT=$(cli get-integration --api-id "$API_ID" --integration-id "$INTEGRATION_ID" --query TimeoutInMillis)
[ "$TIMEOUT" = 29000 ] || fail "default timeoutInMillis is $TIMEOUT, want 29000"

ROUTE_ID=$(cli create-route --api-id "$API_ID" --route-key sendmessage \
  --target "integrations/$INTEGRATION_ID" --query RouteId)
AUTH=$(cli get-route --api-id "$API_ID" --route-id "$ROUTE_ID" --query AuthorizationType)
[ "$AUTH" = NONE ] || fail "default authorizationType is $AUTH, want NONE"

# A second route with the same key is a ConflictException, exit status 254 from CLI v2.
set +e
OUT=$(cli create-route --api-id "$API_ID" --route-key sendmessage --target "integrations/$INTEGRATION_ID" 2>&1)
STATUS=$?
set -e
[ "$STATUS" -ne 0 ] || fail "a duplicate route key was accepted"
echo "$OUT" | grep -q ConflictException || fail "duplicate route key: $OUT"

cli create-stage --api-id "$API_ID" --stage-name dev --stage-variables backend=unused >/dev/null
DEPLOYMENT_ID=$(cli create-deployment --api-id "$API_ID" --stage-name dev --query DeploymentId)
STAGE_DEPLOYMENT=$(cli get-stage --api-id "$API_ID" --stage-name dev --query DeploymentId)
[ "$STAGE_DEPLOYMENT" = "$DEPLOYMENT_ID" ] || fail "stage points at $STAGE_DEPLOYMENT, want $DEPLOYMENT_ID"

NAMES=$(cli get-apis --query 'Items[].Name')
echo "$NAMES" | grep -qw chat || fail "get-apis lists $NAMES"
API_ENDPOINT=$(cli get-api --api-id "$API_ID" --query ApiEndpoint)

# The seeds' custom domain: exanub.es/chat serves the dev stage.
cli create-domain-name --domain-name exanub.es \
  --domain-name-configurations EndpointType=REGIONAL,SecurityPolicy=TLS_1_2 >/dev/null
cli create-api-mapping --domain-name exanub.es --api-mapping-key chat --api-id "$API_ID" --stage dev >/dev/null
KEY=$(cli get-api-mappings --domain-name exanub.es --query 'Items[0].ApiMappingKey')
[ "$KEY" = chat ] || fail "mapping key is $KEY, want chat"

echo "API_ID=$API_ID"
echo "API_ENDPOINT=$API_ENDPOINT"

# Wait for the test to have used the API, then take it down again.
read -r _
MAPPING_ID=$(cli get-api-mappings --domain-name exanub.es --query 'Items[0].ApiMappingId')
cli delete-api-mapping --domain-name exanub.es --api-mapping-id "$MAPPING_ID"
cli delete-api --api-id "$API_ID"
set +e
OUT=$(cli get-api --api-id "$API_ID" 2>&1)
STATUS=$?
set -e
[ "$STATUS" -ne 0 ] || fail "get-api found the deleted API"
echo "$OUT" | grep -q NotFoundException || fail "get-api after delete-api: $OUT"
echo DELETED
