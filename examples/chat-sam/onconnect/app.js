// $connect: remember the new connection.
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";

const ddb = new DynamoDBClient({ region: process.env.AWS_REGION });

export const handler = async (event) => {
  try {
    await ddb.send(new PutItemCommand({
      TableName: process.env.TABLE_NAME,
      Item: { connectionId: { S: event.requestContext.connectionId } },
    }));
  } catch (err) {
    return { statusCode: 500, body: "Failed to connect: " + JSON.stringify(err) };
  }
  return { statusCode: 200, body: "Connected." };
};
