// $disconnect: forget the connection.
import { DynamoDBClient, DeleteItemCommand } from "@aws-sdk/client-dynamodb";

const ddb = new DynamoDBClient({ region: process.env.AWS_REGION });

export const handler = async (event) => {
  try {
    await ddb.send(new DeleteItemCommand({
      TableName: process.env.TABLE_NAME,
      Key: { connectionId: { S: event.requestContext.connectionId } },
    }));
  } catch (err) {
    return { statusCode: 500, body: "Failed to disconnect: " + JSON.stringify(err) };
  }
  return { statusCode: 200, body: "Disconnected." };
};
