package resource

// SubtypeParameter is one parameter of an AWS service integration subtype.
type SubtypeParameter struct {
	Name     string
	Required bool
}

// Subtype is an HTTP API AWS service integration subtype: the service action it calls and the
// parameters it takes
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-aws-services-reference.html).
// Every subtype also takes Region, which picks the service's region.
type Subtype struct {
	// Service is the endpoint prefix (sqs, events, kinesis, states, appconfig); Action the API action.
	Service, Action string
	Parameters      []SubtypeParameter
}

func req(names ...string) []SubtypeParameter {
	out := make([]SubtypeParameter, len(names))
	for i, n := range names {
		out[i] = SubtypeParameter{Name: n, Required: true}
	}
	return out
}

func opt(names ...string) []SubtypeParameter {
	out := make([]SubtypeParameter, len(names))
	for i, n := range names {
		out[i] = SubtypeParameter{Name: n}
	}
	return out
}

// Subtypes are the integration subtypes by name, as AWS's reference lists them.
var Subtypes = map[string]Subtype{
	"EventBridge-PutEvents": {Service: "events", Action: "PutEvents",
		Parameters: append(req("Detail", "DetailType", "Source"), opt("Time", "EventBusName", "Resources", "TraceHeader")...)},
	"SQS-SendMessage": {Service: "sqs", Action: "SendMessage",
		Parameters: append(req("QueueUrl", "MessageBody"), opt("DelaySeconds", "MessageAttributes", "MessageDeduplicationId", "MessageGroupId", "MessageSystemAttributes")...)},
	"SQS-ReceiveMessage": {Service: "sqs", Action: "ReceiveMessage",
		Parameters: append(req("QueueUrl"), opt("AttributeNames", "MaxNumberOfMessages", "MessageAttributeNames", "ReceiveRequestAttemptId", "VisibilityTimeout", "WaitTimeSeconds")...)},
	"SQS-DeleteMessage": {Service: "sqs", Action: "DeleteMessage", Parameters: req("ReceiptHandle", "QueueUrl")},
	"SQS-PurgeQueue":    {Service: "sqs", Action: "PurgeQueue", Parameters: req("QueueUrl")},
	"AppConfig-GetConfiguration": {Service: "appconfig", Action: "GetConfiguration",
		Parameters: append(req("Application", "Environment", "Configuration", "ClientId"), opt("ClientConfigurationVersion")...)},
	"Kinesis-PutRecord": {Service: "kinesis", Action: "PutRecord",
		Parameters: append(req("StreamName", "Data", "PartitionKey"), opt("SequenceNumberForOrdering", "ExplicitHashKey")...)},
	"StepFunctions-StartExecution": {Service: "states", Action: "StartExecution",
		Parameters: append(req("StateMachineArn"), opt("Name", "Input", "TraceHeader")...)},
	"StepFunctions-StartSyncExecution": {Service: "states", Action: "StartSyncExecution",
		Parameters: append(req("StateMachineArn"), opt("Name", "Input", "TraceHeader")...)},
	"StepFunctions-StopExecution": {Service: "states", Action: "StopExecution",
		Parameters: append(req("ExecutionArn"), opt("Cause", "Error")...)},
}

// subtypeParameters checks an AWS service integration's requestParameters against its subtype.
func (v *validator) subtypeParameters(p string, in *Integration) {
	st, ok := Subtypes[in.IntegrationSubtype]
	if !ok {
		return // reported with integrationSubtype
	}
	known := map[string]bool{"Region": true}
	for _, prm := range st.Parameters {
		known[prm.Name] = true
		if _, set := in.RequestParameters[prm.Name]; prm.Required && !set {
			v.addf(FieldPath(FieldPath(p, "requestParameters"), prm.Name), "integrationSubtype %s requires the request parameter %s", in.IntegrationSubtype, prm.Name)
		}
	}
	for _, k := range sortedKeys(in.RequestParameters) {
		if !known[k] {
			v.addf(FieldPath(FieldPath(p, "requestParameters"), k), "request parameter %s is not a parameter of integrationSubtype %s", k, in.IntegrationSubtype)
		}
	}
}
