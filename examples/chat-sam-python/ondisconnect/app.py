"""$disconnect: forget the connection."""
import os

import boto3

ddb = boto3.client("dynamodb")


def handler(event, context):
    ddb.delete_item(TableName=os.environ["TABLE_NAME"],
                    Key={"connectionId": {"S": event["requestContext"]["connectionId"]}})
    return {"statusCode": 200, "body": "Disconnected."}
