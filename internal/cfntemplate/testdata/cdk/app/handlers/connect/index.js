// $connect: remember the connection (CommonJS, the SDK as the Lambda runtime provides it).
const { DynamoDBClient, PutItemCommand } = require('@aws-sdk/client-dynamodb');

const ddb = new DynamoDBClient({});

exports.handler = async (event) => {
  await ddb.send(new PutItemCommand({
    TableName: process.env.TABLE_NAME,
    Item: { connectionId: { S: event.requestContext.connectionId } },
  }));
  return { statusCode: 200 };
};
