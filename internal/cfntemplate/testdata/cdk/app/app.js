// A WebSocket chat API with aws-cdk-lib's WebSocketApi and WebSocketLambdaIntegration: connections in a
// DynamoDB table, messages fanned out through @connections at the API's default execute-api URL.
const cdk = require('aws-cdk-lib');
const lambda = require('aws-cdk-lib/aws-lambda');
const apigwv2 = require('aws-cdk-lib/aws-apigatewayv2');
const { WebSocketLambdaIntegration } = require('aws-cdk-lib/aws-apigatewayv2-integrations');
const dynamodb = require('aws-cdk-lib/aws-dynamodb');
const path = require('path');

const app = new cdk.App();
const stack = new cdk.Stack(app, 'ChatStack');

const table = new dynamodb.Table(stack, 'Connections', {
  partitionKey: { name: 'connectionId', type: dynamodb.AttributeType.STRING },
  billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
  removalPolicy: cdk.RemovalPolicy.DESTROY,
});

const fn = (id, dir) => new lambda.Function(stack, id, {
  runtime: lambda.Runtime.NODEJS_22_X,
  handler: 'index.handler',
  code: lambda.Code.fromAsset(path.join(__dirname, 'handlers', dir)),
  timeout: cdk.Duration.seconds(10),
  environment: { TABLE_NAME: table.tableName },
});
const connect = fn('ConnectHandler', 'connect');
const disconnect = fn('DisconnectHandler', 'disconnect');
const message = fn('MessageHandler', 'message');
table.grantReadWriteData(connect);
table.grantReadWriteData(disconnect);
table.grantReadWriteData(message);

const api = new apigwv2.WebSocketApi(stack, 'ChatApi', {
  connectRouteOptions: { integration: new WebSocketLambdaIntegration('ConnectIntegration', connect) },
  disconnectRouteOptions: { integration: new WebSocketLambdaIntegration('DisconnectIntegration', disconnect) },
  defaultRouteOptions: { integration: new WebSocketLambdaIntegration('DefaultIntegration', message) },
});
api.addRoute('sendmessage', { integration: new WebSocketLambdaIntegration('SendIntegration', message), returnResponse: true });
const stage = new apigwv2.WebSocketStage(stack, 'ProdStage', { webSocketApi: api, stageName: 'prod', autoDeploy: true });
api.grantManageConnections(message);
new cdk.CfnOutput(stack, 'WebSocketURL', { value: stage.url });
app.synth();
