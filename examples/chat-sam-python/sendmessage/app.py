"""sendmessage: post the message's data to every connection in the table, through the API's default
execute-api URL (built here, as AWS's sample does), and forget connections that are gone."""
import json
import logging
import os

import boto3

logger = logging.getLogger()
logger.setLevel(logging.INFO)
ddb = boto3.client("dynamodb")


def handler(event, context):
    table = os.environ["TABLE_NAME"]
    items = ddb.scan(TableName=table, ProjectionExpression="connectionId")["Items"]
    ctx = event["requestContext"]
    region = os.environ["AWS_REGION"]
    api = boto3.client("apigatewaymanagementapi",
                       endpoint_url=f"https://{ctx['apiId']}.execute-api.{region}.amazonaws.com/{ctx['stage']}")
    data = json.loads(event["body"])["data"]
    for item in items:
        connection_id = item["connectionId"]["S"]
        try:
            api.post_to_connection(ConnectionId=connection_id, Data=data.encode())
        except api.exceptions.GoneException:
            logger.info("stale connection %s, deleting it", connection_id)
            ddb.delete_item(TableName=table, Key={"connectionId": {"S": connection_id}})
    return {"statusCode": 200, "body": "Data sent."}
