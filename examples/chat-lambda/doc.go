// Package chatlambda is the chat example with Lambda functions: the AWS simple chat sample as the Sparta
// WebSocket sample writes it — three aws-lambda-go handlers behind AWS_PROXY integrations — served by
// Switchboard, which runs the handlers as local processes (switchboard.yaml's functions:) or invokes them
// through the Lambda Invoke API.
//
//   - handlers/connect, handlers/disconnect, handlers/sendmessage: the three Lambda functions;
//   - chat: their logic, plain aws-lambda-go and AWS SDK for Go v1 code with nothing Switchboard-specific;
//   - store: the set of connection IDs in a directory, standing in for the samples' DynamoDB table.
//
// This package holds only the end-to-end test; README.md walks through running the example.
package chatlambda
