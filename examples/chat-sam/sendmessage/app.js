// sendmessage: post the message's data to every connection in the table, through the API's default
// execute-api URL (built here, as AWS's sample does), and forget connections that are gone.
import { DynamoDBClient, DeleteItemCommand } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";

const ddb = new DynamoDBClient({ region: process.env.AWS_REGION });
const docClient = DynamoDBDocumentClient.from(ddb);

export const handler = async (event) => {
  let connections;
  try {
    connections = await docClient.send(new ScanCommand({ TableName: process.env.TABLE_NAME, ProjectionExpression: "connectionId" }));
  } catch (err) {
    return { statusCode: 500, body: err.stack };
  }

  const { apiId, stage } = event.requestContext;
  const api = new ApiGatewayManagementApiClient({
    endpoint: `https://${apiId}.execute-api.${process.env.AWS_REGION}.amazonaws.com/${stage}`,
  });
  const data = JSON.parse(event.body).data;

  const posts = connections.Items.map(async ({ connectionId }) => {
    try {
      await api.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: data }));
    } catch (err) {
      if (err.$metadata?.httpStatusCode !== 410) {
        throw err;
      }
      console.log(`stale connection ${connectionId}, deleting it`);
      await ddb.send(new DeleteItemCommand({ TableName: process.env.TABLE_NAME, Key: { connectionId: { S: connectionId } } }));
    }
  });
  try {
    await Promise.all(posts);
  } catch (err) {
    return { statusCode: 500, body: err.stack };
  }
  return { statusCode: 200, body: "Data sent." };
};
