"""$connect: remember the new connection."""
import json
import os

import boto3

ddb = boto3.client("dynamodb")


def handler(event, context):
    try:
        ddb.put_item(TableName=os.environ["TABLE_NAME"],
                     Item={"connectionId": {"S": event["requestContext"]["connectionId"]}})
    except Exception as err:  # the client sees the failed $connect; the log says why
        print(f"put_item failed: {err!r}")
        return {"statusCode": 500, "body": "Failed to connect: " + json.dumps(str(err))}
    return {"statusCode": 200, "body": "Connected."}
