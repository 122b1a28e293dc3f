"""The pets function of the HTTP API example: a Lambda handler for payload format 2.0."""

import base64
import json


def handler(event, context):
    method = event["requestContext"]["http"]["method"]
    if method == "POST":
        body = event.get("body") or "{}"
        if event.get("isBase64Encoded"):  # bodies that are not text/*, JSON or XML arrive base64-encoded
            body = base64.b64decode(body)
        pet = json.loads(body)
        pet["id"] = context.aws_request_id[:8]
        # The full response form: status, headers, cookies (each becomes a Set-Cookie header) and body.
        return {
            "statusCode": 201,
            "headers": {"content-type": "application/json"},
            "cookies": ["last-pet=" + pet["id"] + "; Path=/"],
            "body": json.dumps(pet),
        }
    # A bare JSON value: API Gateway answers 200 application/json with it as the body.
    return {
        "id": event["pathParameters"]["id"],
        "routeKey": event["routeKey"],
        "rawPath": event["rawPath"],
        "stage": event["requestContext"]["stage"],
        "stageVariables": event.get("stageVariables"),
    }
