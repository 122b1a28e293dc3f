// Package chatsam is the chat example as users bring it from AWS: a SAM template (template.yaml) shaped
// like AWS's simple-websockets-chat-app sample, with three Node.js ES-module handlers that use the AWS SDK
// for JavaScript v3 for DynamoDB and @connections. ../chat-sam-python is the same app with Python (boto3)
// handlers. `switchboard serve --template template.yaml --create-tables` runs either one unmodified,
// against a local DynamoDB.
//
// This package holds only the end-to-end test, which runs the switchboard binary as a user would.
package chatsam
