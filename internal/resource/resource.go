// Package resource holds the apigatewayv2 resources Switchboard serves — APIs, routes, route responses,
// integrations, integration responses and stages — as plain data with AWS's JSON member names.
//
// Both configuration adapters (the YAML file and, later, the control-plane REST API) produce a Bundle;
// snapshot.Compile turns a Bundle into the immutable form the data plane reads. This package does no I/O.
// Field names and JSON names follow the apigatewayv2 model
// (https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/) so that a resource looks the same in a
// Switchboard config file, in the AWS CLI and in CloudFormation.
package resource

// Protocol types an API may declare.
const (
	ProtocolWebSocket = "WEBSOCKET"
	ProtocolHTTP      = "HTTP"
)

// Integration types (apigatewayv2 IntegrationType).
const (
	IntegrationAWSProxy  = "AWS_PROXY"
	IntegrationAWS       = "AWS"
	IntegrationHTTPProxy = "HTTP_PROXY"
	IntegrationHTTP      = "HTTP"
	IntegrationMock      = "MOCK"
)

// Reserved route keys of a WebSocket API.
const (
	RouteKeyConnect    = "$connect"
	RouteKeyDisconnect = "$disconnect"
	RouteKeyDefault    = "$default"
)

// Default values AWS fills in on create; Switchboard fills them in the same way so that what a client reads
// back matches AWS.
const (
	DefaultAPIKeySelectionExpression = "$request.header.x-api-key"
	DefaultTimeoutInMillis           = 29000
	MinTimeoutInMillis               = 50
	MaxTimeoutInMillis               = 29000
	DefaultPassthroughBehavior       = "WHEN_NO_MATCH"
	// PassthroughNever and PassthroughWhenNoTemplates are the other passthroughBehavior values.
	PassthroughNever            = "NEVER"
	PassthroughWhenNoTemplates  = "WHEN_NO_TEMPLATES"
	DefaultPayloadFormatVersion = "1.0"
	DefaultConnectionType       = "INTERNET"
	DefaultAuthorizationType    = "NONE"
	DefaultIntegrationMethod    = "POST"
	// DefaultStatusCodeSelectionExpression is what AWS fills in as integrationResponseSelectionExpression for
	// MOCK and HTTP integrations.
	DefaultStatusCodeSelectionExpression = "${integration.response.statuscode}"
)

// Bundle is a complete set of resources: every API with its routes, integrations and stages, and the
// Lambda functions Switchboard runs itself.
type Bundle struct {
	APIs []API `json:"apis" yaml:"apis"`
	// Functions are Lambda functions run locally as processes (a Switchboard extension: on AWS they
	// are Lambda resources). An AWS_PROXY integration whose function name matches one of them invokes
	// it locally; any other goes to the Lambda Invoke API.
	Functions []Function `json:"functions,omitempty" yaml:"functions,omitempty"`
	// IAM holds the credentials and policies SigV4-signed requests are checked against (a Switchboard
	// extension standing in for AWS IAM).
	IAM *IAM `json:"iam,omitempty" yaml:"iam,omitempty"`
	// APIKeys and UsagePlans are API Gateway's API keys and usage plans (apigateway v1 resources, shared
	// with WebSocket APIs): routes with apiKeyRequired need a key of a plan that covers their stage.
	APIKeys    []APIKey    `json:"apiKeys,omitempty" yaml:"apiKeys,omitempty"`
	UsagePlans []UsagePlan `json:"usagePlans,omitempty" yaml:"usagePlans,omitempty"`
	// DomainNames are custom domains with their API mappings.
	DomainNames []DomainName `json:"domainNames,omitempty" yaml:"domainNames,omitempty"`
	// ACME is where domains with automaticCertificate get their certificates (a Switchboard extension).
	ACME *ACME `json:"acme,omitempty" yaml:"acme,omitempty"`
}

// ACME configures automatic certificates: the ACME directory (e.g. Let's Encrypt's) and the account email.
// Nothing is requested unless a domain asks for automaticCertificate.
type ACME struct {
	Directory string `json:"directory" yaml:"directory"`
	Email     string `json:"email,omitempty" yaml:"email,omitempty"`
}

// DomainName is an apigatewayv2 DomainName with its ApiMappings. A handshake or @connections call for
// this host is routed by its first path segment, the mapping key.
type DomainName struct {
	DomainName               string                    `json:"domainName" yaml:"domainName"`
	DomainNameConfigurations []DomainNameConfiguration `json:"domainNameConfigurations,omitempty" yaml:"domainNameConfigurations,omitempty"`
	MutualTLSAuthentication  *MutualTLSAuthentication  `json:"mutualTlsAuthentication,omitempty" yaml:"mutualTlsAuthentication,omitempty"`
	APIMappings              []APIMapping              `json:"apiMappings,omitempty" yaml:"apiMappings,omitempty"`
	Tags                     map[string]string         `json:"tags,omitempty" yaml:"tags,omitempty"`
}

// DomainNameConfiguration is apigatewayv2 DomainNameConfiguration. Instead of an ACM certificateArn, a
// self-hosted gateway takes the certificate and key files (Switchboard members).
type DomainNameConfiguration struct {
	EndpointType   string `json:"endpointType,omitempty" yaml:"endpointType,omitempty"`
	SecurityPolicy string `json:"securityPolicy,omitempty" yaml:"securityPolicy,omitempty"`
	CertificateArn string `json:"certificateArn,omitempty" yaml:"certificateArn,omitempty"`
	// CertificateName, IPAddressType and OwnershipVerificationCertificateARN are kept and echoed as AWS
	// does; they change nothing in how Switchboard serves the domain.
	CertificateName                     string `json:"certificateName,omitempty" yaml:"certificateName,omitempty"`
	IPAddressType                       string `json:"ipAddressType,omitempty" yaml:"ipAddressType,omitempty"`
	OwnershipVerificationCertificateARN string `json:"ownershipVerificationCertificateArn,omitempty" yaml:"ownershipVerificationCertificateArn,omitempty"`
	CertificateFile                     string `json:"certificateFile,omitempty" yaml:"certificateFile,omitempty"`
	PrivateKeyFile                      string `json:"privateKeyFile,omitempty" yaml:"privateKeyFile,omitempty"`
	// AutomaticCertificate obtains and renews the domain's certificate over ACME (see Bundle.ACME).
	AutomaticCertificate bool `json:"automaticCertificate,omitempty" yaml:"automaticCertificate,omitempty"`
}

// MutualTLSAuthentication is apigatewayv2 MutualTlsAuthenticationInput: truststoreUri names a PEM
// bundle of CA certificates — a file path or file:// URI here, where AWS takes s3://.
type MutualTLSAuthentication struct {
	TruststoreURI     string `json:"truststoreUri" yaml:"truststoreUri"`
	TruststoreVersion string `json:"truststoreVersion,omitempty" yaml:"truststoreVersion,omitempty"`
}

// APIMapping is an apigatewayv2 ApiMapping: the domain's path {apiMappingKey} serves stage of apiId.
type APIMapping struct {
	APIMappingID  string `json:"apiMappingId,omitempty" yaml:"apiMappingId,omitempty"`
	APIID         string `json:"apiId" yaml:"apiId"`
	Stage         string `json:"stage" yaml:"stage"`
	APIMappingKey string `json:"apiMappingKey,omitempty" yaml:"apiMappingKey,omitempty"`
}

// APIKey is an API Gateway ApiKey. As with CreateApiKey, a key must be enabled to be accepted.
type APIKey struct {
	ID          string `json:"id" yaml:"id"`
	Name        string `json:"name,omitempty" yaml:"name,omitempty"`
	Value       string `json:"value" yaml:"value"`
	Enabled     bool   `json:"enabled,omitempty" yaml:"enabled,omitempty"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
}

// UsagePlan is an API Gateway UsagePlan. KeyIDs stands for its UsagePlanKey resources.
type UsagePlan struct {
	ID          string             `json:"id" yaml:"id"`
	Name        string             `json:"name,omitempty" yaml:"name,omitempty"`
	Description string             `json:"description,omitempty" yaml:"description,omitempty"`
	APIStages   []UsagePlanStage   `json:"apiStages,omitempty" yaml:"apiStages,omitempty"`
	Throttle    *UsagePlanThrottle `json:"throttle,omitempty" yaml:"throttle,omitempty"`
	Quota       *UsagePlanQuota    `json:"quota,omitempty" yaml:"quota,omitempty"`
	KeyIDs      []string           `json:"keyIds,omitempty" yaml:"keyIds,omitempty"`
}

// UsagePlanStage is one API stage a usage plan covers.
type UsagePlanStage struct {
	APIID string `json:"apiId" yaml:"apiId"`
	Stage string `json:"stage" yaml:"stage"`
}

// UsagePlanThrottle is a usage plan's per-key token bucket.
type UsagePlanThrottle struct {
	BurstLimit int     `json:"burstLimit,omitempty" yaml:"burstLimit,omitempty"`
	RateLimit  float64 `json:"rateLimit,omitempty" yaml:"rateLimit,omitempty"`
}

// UsagePlanQuota is a usage plan's per-key request quota per period (DAY, WEEK or MONTH).
type UsagePlanQuota struct {
	Limit  int    `json:"limit" yaml:"limit"`
	Offset int    `json:"offset,omitempty" yaml:"offset,omitempty"`
	Period string `json:"period" yaml:"period"`
}

// IAM is Switchboard's stand-in for AWS IAM: access keys and the policies of their users. With Enforce
// off (the default, for local development) signatures are not checked anywhere; with it on, the
// @connections API and $connect routes with authorizationType AWS_IAM require valid SigV4 signatures whose
// user's policy allows the call (execute-api:ManageConnections / execute-api:Invoke).
type IAM struct {
	Enforce bool      `json:"enforce,omitempty" yaml:"enforce,omitempty"`
	Users   []IAMUser `json:"users,omitempty" yaml:"users,omitempty"`
}

// IAMUser is one access key with the policy of its user.
type IAMUser struct {
	Name            string `json:"name,omitempty" yaml:"name,omitempty"`
	AccessKeyID     string `json:"accessKeyId" yaml:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey" yaml:"secretAccessKey"`
	// Policy is an IAM policy document as JSON text.
	Policy string `json:"policy" yaml:"policy"`
}

// Function is a Lambda function run as a local process against Switchboard's Lambda Runtime API, the way
// AWS runs a custom runtime's bootstrap (for Go: the aws-lambda-go handler binary).
type Function struct {
	// FunctionName is the Lambda function name AWS_PROXY integration URIs refer to.
	FunctionName string `json:"functionName" yaml:"functionName"`
	// Runtime is Lambda's runtime identifier. Empty, provided.al2, provided.al2023 or go1.x: Handler is
	// an executable (an aws-lambda-go binary, a custom runtime's bootstrap). nodejs18.x–nodejs22.x and
	// python3.9–python3.13: Handler is AWS's handler string (file.export, module.function) resolved in
	// CodeURI, run with the machine's node or python3 by a bootstrap shipped inside Switchboard.
	Runtime string `json:"runtime,omitempty" yaml:"runtime,omitempty"`
	// Handler is the executable to run (relative paths are relative to the config file's directory), or,
	// for the node and python runtimes, the handler string.
	Handler string `json:"handler" yaml:"handler"`
	// CodeURI is the directory holding the function's code (Lambda's task root, LAMBDA_TASK_ROOT),
	// relative to the config file's directory; for executables it defaults to the handler's directory.
	CodeURI string `json:"codeUri,omitempty" yaml:"codeUri,omitempty"`
	// Args are passed to the executable.
	Args []string `json:"args,omitempty" yaml:"args,omitempty"`
	// Environment holds the function's environment variables (Lambda's Environment.Variables).
	Environment map[string]string `json:"environment,omitempty" yaml:"environment,omitempty"`
	// Timeout is the function timeout in seconds (Lambda's default: 3).
	Timeout int `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	// MemorySize is reported to the function in AWS_LAMBDA_FUNCTION_MEMORY_SIZE (default 128).
	MemorySize int `json:"memorySize,omitempty" yaml:"memorySize,omitempty"`
	// ReservedConcurrentExecutions bounds how many processes of the function run at once (default 10).
	ReservedConcurrentExecutions int `json:"reservedConcurrentExecutions,omitempty" yaml:"reservedConcurrentExecutions,omitempty"`
}

// API is an apigatewayv2 Api together with the resources that belong to it.
type API struct {
	APIID                     string `json:"apiId,omitempty" yaml:"apiId,omitempty"`
	Name                      string `json:"name" yaml:"name"`
	ProtocolType              string `json:"protocolType" yaml:"protocolType"`
	RouteSelectionExpression  string `json:"routeSelectionExpression" yaml:"routeSelectionExpression"`
	APIKeySelectionExpression string `json:"apiKeySelectionExpression,omitempty" yaml:"apiKeySelectionExpression,omitempty"`
	Description               string `json:"description,omitempty" yaml:"description,omitempty"`
	DisableSchemaValidation   bool   `json:"disableSchemaValidation,omitempty" yaml:"disableSchemaValidation,omitempty"`
	DisableExecuteAPIEndpoint bool   `json:"disableExecuteApiEndpoint,omitempty" yaml:"disableExecuteApiEndpoint,omitempty"`
	// IPAddressType is ipv4 or dualstack (what the endpoint listens on at AWS); empty reads as ipv4,
	// AWS's default. Switchboard stores and reports it; its listeners decide what is really served.
	IPAddressType string `json:"ipAddressType,omitempty" yaml:"ipAddressType,omitempty"`
	// Version is the API's version label, informational only.
	Version string `json:"version,omitempty" yaml:"version,omitempty"`
	// CorsConfiguration is an HTTP API's CORS configuration: with it the gateway answers preflight
	// requests itself and adds the configured headers to every response (HTTP APIs only).
	CorsConfiguration *Cors             `json:"corsConfiguration,omitempty" yaml:"corsConfiguration,omitempty"`
	Tags              map[string]string `json:"tags,omitempty" yaml:"tags,omitempty"`
	Routes            []Route           `json:"routes,omitempty" yaml:"routes,omitempty"`
	Integrations      []Integration     `json:"integrations,omitempty" yaml:"integrations,omitempty"`
	Stages            []Stage           `json:"stages,omitempty" yaml:"stages,omitempty"`
	Authorizers       []Authorizer      `json:"authorizers,omitempty" yaml:"authorizers,omitempty"`
	Models            []Model           `json:"models,omitempty" yaml:"models,omitempty"`
	// Deployments are the API's deployments: frozen copies of its routes, integrations, authorizers and
	// models. Only the control plane makes them; a config file's stages serve the API as written.
	Deployments []Deployment `json:"deployments,omitempty" yaml:"-"`
}

// Model is an apigatewayv2 Model: a JSON Schema (draft 4) that routes name in requestModels.
type Model struct {
	ModelID     string `json:"modelId,omitempty" yaml:"modelId,omitempty"`
	Name        string `json:"name" yaml:"name"`
	Schema      string `json:"schema" yaml:"schema"`
	ContentType string `json:"contentType,omitempty" yaml:"contentType,omitempty"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
}

// Deployment is an apigatewayv2 Deployment: an immutable copy of what an API's stages serve. A stage with a
// deploymentId serves its deployment's routes, integrations and authorizers, whatever the API's working
// copy says since.
type Deployment struct {
	DeploymentID string `json:"deploymentId"`
	Description  string `json:"description,omitempty"`
	// AutoDeployed marks a deployment made automatically for a stage with autoDeploy.
	AutoDeployed bool `json:"autoDeployed,omitempty"`
	// RouteSelectionExpression and APIKeySelectionExpression are the API's when it was deployed; empty
	// means the API's current one.
	RouteSelectionExpression  string        `json:"routeSelectionExpression,omitempty"`
	APIKeySelectionExpression string        `json:"apiKeySelectionExpression,omitempty"`
	Routes                    []Route       `json:"routes,omitempty"`
	Integrations              []Integration `json:"integrations,omitempty"`
	Authorizers               []Authorizer  `json:"authorizers,omitempty"`
	Models                    []Model       `json:"models,omitempty"`
}

// Authorizer is an apigatewayv2 Authorizer. WebSocket APIs have Lambda REQUEST authorizers only; they run
// on $connect for routes with authorizationType CUSTOM. HTTP APIs have REQUEST (Lambda, payload 1.0 or 2.0)
// and JWT authorizers, run on every request of a route that names them.
type Authorizer struct {
	AuthorizerID   string   `json:"authorizerId" yaml:"authorizerId"`
	Name           string   `json:"name" yaml:"name"`
	AuthorizerType string   `json:"authorizerType" yaml:"authorizerType"`
	AuthorizerURI  string   `json:"authorizerUri" yaml:"authorizerUri"`
	IdentitySource []string `json:"identitySource,omitempty" yaml:"identitySource,omitempty"`
	// AuthorizerCredentialsARN is the IAM role API Gateway assumes to invoke the authorizer function.
	AuthorizerCredentialsARN string `json:"authorizerCredentialsArn,omitempty" yaml:"authorizerCredentialsArn,omitempty"`
	// IdentityValidationExpression is stored and reported only: AWS documents it as not used.
	IdentityValidationExpression string `json:"identityValidationExpression,omitempty" yaml:"identityValidationExpression,omitempty"`
	// AuthorizerPayloadFormatVersion is the event format of an HTTP API's Lambda authorizer: 1.0 or 2.0
	// (required for REQUEST authorizers of HTTP APIs).
	AuthorizerPayloadFormatVersion string `json:"authorizerPayloadFormatVersion,omitempty" yaml:"authorizerPayloadFormatVersion,omitempty"`
	// AuthorizerResultTTLInSeconds is how long an HTTP API's Lambda authorizer's answer is cached, keyed by
	// its identity sources (0 to 3600; 0 turns caching off).
	AuthorizerResultTTLInSeconds int `json:"authorizerResultTtlInSeconds,omitempty" yaml:"authorizerResultTtlInSeconds,omitempty"`
	// EnableSimpleResponses lets a payload 2.0 Lambda authorizer answer {"isAuthorized": bool, "context":
	// {...}} instead of an IAM policy.
	EnableSimpleResponses bool `json:"enableSimpleResponses,omitempty" yaml:"enableSimpleResponses,omitempty"`
	// JWTConfiguration is the issuer and audiences of a JWT authorizer (HTTP APIs only).
	JWTConfiguration *JWTConfiguration `json:"jwtConfiguration,omitempty" yaml:"jwtConfiguration,omitempty"`
}

// JWTConfiguration is apigatewayv2 JWTConfiguration: a token is accepted when its iss is Issuer and its
// aud (or client_id) is one of Audience. The issuer's keys are found through OpenID Connect discovery.
type JWTConfiguration struct {
	Audience []string `json:"audience,omitempty" yaml:"audience,omitempty"`
	Issuer   string   `json:"issuer,omitempty" yaml:"issuer,omitempty"`
}

// Cors is apigatewayv2 Cors, an HTTP API's CORS configuration
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-cors.html). MaxAge is a pointer
// because 0 is a value AWS keeps (and -1 turns caching off); AllowCredentials likewise echoes false.
type Cors struct {
	AllowCredentials *bool    `json:"allowCredentials,omitempty" yaml:"allowCredentials,omitempty"`
	AllowHeaders     []string `json:"allowHeaders,omitempty" yaml:"allowHeaders,omitempty"`
	AllowMethods     []string `json:"allowMethods,omitempty" yaml:"allowMethods,omitempty"`
	AllowOrigins     []string `json:"allowOrigins,omitempty" yaml:"allowOrigins,omitempty"`
	ExposeHeaders    []string `json:"exposeHeaders,omitempty" yaml:"exposeHeaders,omitempty"`
	MaxAge           *int     `json:"maxAge,omitempty" yaml:"maxAge,omitempty"`
}

// Route is an apigatewayv2 Route with its route responses.
type Route struct {
	RouteID           string `json:"routeId,omitempty" yaml:"routeId,omitempty"`
	RouteKey          string `json:"routeKey" yaml:"routeKey"`
	Target            string `json:"target,omitempty" yaml:"target,omitempty"`
	AuthorizationType string `json:"authorizationType,omitempty" yaml:"authorizationType,omitempty"`
	AuthorizerID      string `json:"authorizerId,omitempty" yaml:"authorizerId,omitempty"`
	// AuthorizationScopes are checked by an HTTP API's JWT authorizer: the token's scope (or scp) claim
	// must hold one of them. WebSocket APIs store and report them only.
	AuthorizationScopes              []string                       `json:"authorizationScopes,omitempty" yaml:"authorizationScopes,omitempty"`
	APIKeyRequired                   bool                           `json:"apiKeyRequired,omitempty" yaml:"apiKeyRequired,omitempty"`
	ModelSelectionExpression         string                         `json:"modelSelectionExpression,omitempty" yaml:"modelSelectionExpression,omitempty"`
	RequestModels                    map[string]string              `json:"requestModels,omitempty" yaml:"requestModels,omitempty"`
	RequestParameters                map[string]ParameterConstraint `json:"requestParameters,omitempty" yaml:"requestParameters,omitempty"`
	RouteResponseSelectionExpression string                         `json:"routeResponseSelectionExpression,omitempty" yaml:"routeResponseSelectionExpression,omitempty"`
	OperationName                    string                         `json:"operationName,omitempty" yaml:"operationName,omitempty"`
	RouteResponses                   []RouteResponse                `json:"routeResponses,omitempty" yaml:"routeResponses,omitempty"`
}

// ParameterConstraint is apigatewayv2 ParameterConstraints: whether a route request parameter is required.
type ParameterConstraint struct {
	Required bool `json:"required" yaml:"required"`
}

// RouteResponse is an apigatewayv2 RouteResponse. For WebSocket APIs the only key is $default; its
// presence makes a route two-way.
type RouteResponse struct {
	RouteResponseID          string                         `json:"routeResponseId,omitempty" yaml:"routeResponseId,omitempty"`
	RouteResponseKey         string                         `json:"routeResponseKey" yaml:"routeResponseKey"`
	ModelSelectionExpression string                         `json:"modelSelectionExpression,omitempty" yaml:"modelSelectionExpression,omitempty"`
	ResponseModels           map[string]string              `json:"responseModels,omitempty" yaml:"responseModels,omitempty"`
	ResponseParameters       map[string]ParameterConstraint `json:"responseParameters,omitempty" yaml:"responseParameters,omitempty"`
}

// Integration is an apigatewayv2 Integration with its integration responses.
type Integration struct {
	IntegrationID     string `json:"integrationId" yaml:"integrationId"`
	IntegrationType   string `json:"integrationType" yaml:"integrationType"`
	IntegrationURI    string `json:"integrationUri,omitempty" yaml:"integrationUri,omitempty"`
	IntegrationMethod string `json:"integrationMethod,omitempty" yaml:"integrationMethod,omitempty"`
	ConnectionType    string `json:"connectionType,omitempty" yaml:"connectionType,omitempty"`
	// ConnectionID is the VPC link of a VPC_LINK integration; stored and reported (Switchboard reaches
	// backends directly).
	ConnectionID string `json:"connectionId,omitempty" yaml:"connectionId,omitempty"`
	// IntegrationSubtype names an AWS service action of an HTTP API's AWS_PROXY integration
	// (SQS-SendMessage, EventBridge-PutEvents, …); its requestParameters are the action's parameters.
	IntegrationSubtype string `json:"integrationSubtype,omitempty" yaml:"integrationSubtype,omitempty"`
	// TLSConfig is the TLS configuration of an HTTP API's HTTP_PROXY integration: the name the backend's
	// certificate is verified against.
	TLSConfig               *TLSConfig `json:"tlsConfig,omitempty" yaml:"tlsConfig,omitempty"`
	ContentHandlingStrategy string     `json:"contentHandlingStrategy,omitempty" yaml:"contentHandlingStrategy,omitempty"`
	CredentialsARN          string     `json:"credentialsArn,omitempty" yaml:"credentialsArn,omitempty"`
	Description             string     `json:"description,omitempty" yaml:"description,omitempty"`
	PassthroughBehavior     string     `json:"passthroughBehavior,omitempty" yaml:"passthroughBehavior,omitempty"`
	PayloadFormatVersion    string     `json:"payloadFormatVersion,omitempty" yaml:"payloadFormatVersion,omitempty"`
	// RequestParameters map integration request parameters. WebSocket APIs use
	// integration.request.{header,querystring,path}.NAME keys; HTTP APIs use parameter mapping keys
	// ({append,overwrite,remove}:{header,querystring}.NAME, overwrite:path) or, with an
	// integrationSubtype, the AWS action's parameter names.
	RequestParameters map[string]string `json:"requestParameters,omitempty" yaml:"requestParameters,omitempty"`
	// ResponseParameters map an HTTP API backend's response per status code ("200" … "599") with keys
	// {append,overwrite,remove}:header.NAME and overwrite:statuscode (HTTP APIs only).
	ResponseParameters                     map[string]map[string]string `json:"responseParameters,omitempty" yaml:"responseParameters,omitempty"`
	RequestTemplates                       map[string]string            `json:"requestTemplates,omitempty" yaml:"requestTemplates,omitempty"`
	TemplateSelectionExpression            string                       `json:"templateSelectionExpression,omitempty" yaml:"templateSelectionExpression,omitempty"`
	IntegrationResponseSelectionExpression string                       `json:"integrationResponseSelectionExpression,omitempty" yaml:"integrationResponseSelectionExpression,omitempty"`
	TimeoutInMillis                        int                          `json:"timeoutInMillis,omitempty" yaml:"timeoutInMillis,omitempty"`
	IntegrationResponses                   []IntegrationResponse        `json:"integrationResponses,omitempty" yaml:"integrationResponses,omitempty"`
}

// TLSConfig is apigatewayv2 TlsConfig: the host name the backend's certificate is verified against.
type TLSConfig struct {
	ServerNameToVerify string `json:"serverNameToVerify,omitempty" yaml:"serverNameToVerify,omitempty"`
}

// IntegrationResponse is an apigatewayv2 IntegrationResponse (non-proxy integrations only). The key is
// $default or a regular expression wrapped in slashes, matched against the integration's status code.
type IntegrationResponse struct {
	IntegrationResponseID       string            `json:"integrationResponseId,omitempty" yaml:"integrationResponseId,omitempty"`
	IntegrationResponseKey      string            `json:"integrationResponseKey" yaml:"integrationResponseKey"`
	ContentHandlingStrategy     string            `json:"contentHandlingStrategy,omitempty" yaml:"contentHandlingStrategy,omitempty"`
	ResponseParameters          map[string]string `json:"responseParameters,omitempty" yaml:"responseParameters,omitempty"`
	ResponseTemplates           map[string]string `json:"responseTemplates,omitempty" yaml:"responseTemplates,omitempty"`
	TemplateSelectionExpression string            `json:"templateSelectionExpression,omitempty" yaml:"templateSelectionExpression,omitempty"`
}

// Stage is an apigatewayv2 Stage. A stage without deploymentId serves the API as the bundle declares it (an
// implicit deployment: what a config file's stages do); one with a deploymentId serves that deployment.
type Stage struct {
	StageName string `json:"stageName" yaml:"stageName"`
	// DeploymentID is set by the control plane only. AutoDeploy makes the control plane deploy every
	// change at once; a config file's stages always serve the API as written, so there it is accepted
	// (SAM and CDK templates set it on $default stages) and changes nothing.
	DeploymentID   string            `json:"deploymentId,omitempty" yaml:"-"`
	AutoDeploy     bool              `json:"autoDeploy,omitempty" yaml:"autoDeploy,omitempty"`
	Description    string            `json:"description,omitempty" yaml:"description,omitempty"`
	StageVariables map[string]string `json:"stageVariables,omitempty" yaml:"stageVariables,omitempty"`
	// AccessLogSettings are written by the gateway (to files or stdout, not CloudWatch; package
	// accesslog). ClientCertificateID is kept and echoed as AWS does; Switchboard presents no client
	// certificate to HTTP backends.
	AccessLogSettings    *AccessLogSettings       `json:"accessLogSettings,omitempty" yaml:"accessLogSettings,omitempty"`
	ClientCertificateID  string                   `json:"clientCertificateId,omitempty" yaml:"clientCertificateId,omitempty"`
	DefaultRouteSettings *RouteSettings           `json:"defaultRouteSettings,omitempty" yaml:"defaultRouteSettings,omitempty"`
	RouteSettings        map[string]RouteSettings `json:"routeSettings,omitempty" yaml:"routeSettings,omitempty"`
	Tags                 map[string]string        `json:"tags,omitempty" yaml:"tags,omitempty"`
	// AuthorizerCacheEpoch counts ResetAuthorizersCache calls on the stage. It is state, not
	// configuration (no member of AWS's Stage, never in a config file): the compiled stage carries it,
	// and an HTTP API Lambda authorizer's cached results hold only while it is unchanged.
	AuthorizerCacheEpoch uint64 `json:"authorizerCacheEpoch,omitempty" yaml:"-"`
}

// AccessLogSettings is apigatewayv2 AccessLogSettings: where access logs go (a CloudWatch Logs group ARN)
// and the format of one line.
type AccessLogSettings struct {
	DestinationARN string `json:"destinationArn,omitempty" yaml:"destinationArn,omitempty"`
	Format         string `json:"format,omitempty" yaml:"format,omitempty"`
}

// RouteSettings is apigatewayv2 RouteSettings. Throttling is enforced by the authorization issue's work;
// the fields are carried now so configs written today keep working.
type RouteSettings struct {
	DataTraceEnabled       bool    `json:"dataTraceEnabled,omitempty" yaml:"dataTraceEnabled,omitempty"`
	DetailedMetricsEnabled bool    `json:"detailedMetricsEnabled,omitempty" yaml:"detailedMetricsEnabled,omitempty"`
	LoggingLevel           string  `json:"loggingLevel,omitempty" yaml:"loggingLevel,omitempty"`
	ThrottlingBurstLimit   int     `json:"throttlingBurstLimit,omitempty" yaml:"throttlingBurstLimit,omitempty"`
	ThrottlingRateLimit    float64 `json:"throttlingRateLimit,omitempty" yaml:"throttlingRateLimit,omitempty"`
}
