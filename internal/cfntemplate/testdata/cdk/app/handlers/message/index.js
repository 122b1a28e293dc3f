// sendmessage: post the message's data to every connection through the API's default execute-api URL,
// and answer the sender (a two-way route) with how many received it.
const { DynamoDBClient, ScanCommand, DeleteItemCommand } = require('@aws-sdk/client-dynamodb');
const { ApiGatewayManagementApiClient, PostToConnectionCommand, GoneException } = require('@aws-sdk/client-apigatewaymanagementapi');

const ddb = new DynamoDBClient({});

exports.handler = async (event) => {
  const { apiId, stage } = event.requestContext;
  const api = new ApiGatewayManagementApiClient({
    endpoint: `https://${apiId}.execute-api.${process.env.AWS_REGION}.amazonaws.com/${stage}`,
  });
  const data = JSON.parse(event.body).data;
  const { Items } = await ddb.send(new ScanCommand({ TableName: process.env.TABLE_NAME }));
  let delivered = 0;
  for (const item of Items) {
    const id = item.connectionId.S;
    try {
      await api.send(new PostToConnectionCommand({ ConnectionId: id, Data: data }));
      delivered++;
    } catch (err) {
      if (!(err instanceof GoneException)) throw err;
      await ddb.send(new DeleteItemCommand({ TableName: process.env.TABLE_NAME, Key: { connectionId: { S: id } } }));
    }
  }
  return { statusCode: 200, body: JSON.stringify({ delivered }) };
};
