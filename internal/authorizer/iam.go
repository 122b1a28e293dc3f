package authorizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/authorizer/policy"
	"github.com/switchboard-gw/switchboard/internal/proxyevent"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/sigv4"
)

// ErrAccessDenied reports a correctly signed request whose user's policy does not allow the call.
var ErrAccessDenied = errors.New("not authorized")

// IAM stands in for AWS IAM on the gateway's own APIs: it verifies SigV4 signatures (service execute-api)
// against the configured access keys and evaluates the key's user policy for the action and resource.
type IAM struct {
	verifier *sigv4.Verifier
	users    map[string]iamUser
}

type iamUser struct {
	name   string
	policy *policy.Document
}

// NewIAM builds the checker from the config's users. Policies that do not parse are an error naming the
// user.
func NewIAM(users []resource.IAMUser, region string) (*IAM, error) {
	creds := sigv4.StaticCredentials{}
	byKey := make(map[string]iamUser, len(users))
	for i, u := range users {
		doc, err := policy.Parse([]byte(u.Policy))
		if err != nil {
			return nil, &resource.FieldError{Path: resource.FieldPath(resource.IndexPath("iam.users", i), "policy"), Message: err.Error()}
		}
		creds[u.AccessKeyID] = u.SecretAccessKey
		name := u.Name
		if name == "" {
			name = u.AccessKeyID
		}
		byKey[u.AccessKeyID] = iamUser{name: name, policy: doc}
	}
	return &IAM{
		verifier: &sigv4.Verifier{Service: "execute-api", Region: region, Credentials: creds, Now: time.Now},
		users:    byKey,
	}, nil
}

// ForService returns a checker with the same users for requests signed for another service: "apigateway"
// for the control plane.
func (a *IAM) ForService(service string) *IAM {
	v := *a.verifier
	v.Service = service
	return &IAM{verifier: &v, users: a.users}
}

// Check verifies r's signature over body and that its user may perform action on resource. Errors wrap
// the sigv4 sentinels or ErrAccessDenied.
func (a *IAM) Check(r *http.Request, body []byte, action, resourceARN string) error {
	_, err := a.Identify(r, body, action, resourceARN)
	return err
}

// Refusal says how AWS answers a failed Check: the error type and message of its 403. The two types that
// differ between AWS's APIs are the caller's: missing for a request without a signature (message "Missing
// Authentication Token"), denied for a signature whose user's policy refuses the call.
func Refusal(err error, missing, denied string) (errType, message string) {
	var se *sigv4.Error
	message = err.Error()
	if errors.As(err, &se) {
		message = se.Message
	}
	switch {
	case errors.Is(err, sigv4.ErrMissingAuthentication):
		return missing, "Missing Authentication Token"
	case errors.Is(err, sigv4.ErrUnknownAccessKey):
		return "UnrecognizedClientException", message
	case errors.Is(err, sigv4.ErrIncompleteSignature):
		return "IncompleteSignatureException", message
	case errors.Is(err, sigv4.ErrInvalidSignature), errors.Is(err, sigv4.ErrExpired), errors.Is(err, sigv4.ErrWrongScope):
		return "InvalidSignatureException", message
	case errors.Is(err, ErrAccessDenied):
		return denied, message
	}
	return denied, "Forbidden"
}

// ManageConnectionsARN is the resource an @connections call acts on.
func ManageConnectionsARN(region, account, apiID, stage, method, connectionID string) string {
	if apiID == "" {
		apiID = "*"
	}
	return fmt.Sprintf("arn:%s:execute-api:%s:%s:%s/%s/%s/@connections/%s", Partition(region), region, account, apiID, stage, method, connectionID)
}

// Caller is who signed a request that Identify accepted.
type Caller struct {
	AccessKeyID string
	// UserName is the configured user's name (its access key ID when it has none).
	UserName string
}

// Identify is Check that also says who signed, for requestContext.authorizer.iam of HTTP API events.
func (a *IAM) Identify(r *http.Request, body []byte, action, resourceARN string) (Caller, error) {
	id, err := a.verifier.Verify(r, body)
	if err != nil {
		return Caller{}, err
	}
	u, ok := a.users[id.AccessKeyID]
	if !ok || u.policy.Evaluate(action, resourceARN) != policy.Allow {
		return Caller{}, fmt.Errorf("%w: User: arn:aws:iam::user/%s is not authorized to perform: %s on resource: %s", ErrAccessDenied, u.name, action, resourceARN)
	}
	return Caller{AccessKeyID: id.AccessKeyID, UserName: u.name}, nil
}

// HTTPIAMAuthorization is requestContext.authorizer.iam of an HTTP API event for c in account: the access
// key, the account, and the user as IAM names an IAM user (callerId and userId are the access key ID, the
// only stable identifier Switchboard's users have; userArn is arn:{partition}:iam::{account}:user/{name}).
func HTTPIAMAuthorization(c Caller, region, account string) *proxyevent.IAMAuthorization {
	return &proxyevent.IAMAuthorization{AccessKey: c.AccessKeyID, AccountID: account, CallerID: c.AccessKeyID,
		UserARN: "arn:" + Partition(region) + ":iam::" + account + ":user/" + c.UserName, UserID: c.AccessKeyID}
}

// HTTPIAMRefusal is how an HTTP API answers a failed AWS_IAM check: 403 with {"message":"Forbidden"} for
// a request without a signature, else 403 with the signature error's message in the same shape.
func HTTPIAMRefusal(err error) (status int, body string) {
	_, message := Refusal(err, "MissingAuthenticationTokenException", "AccessDeniedException")
	switch {
	case errors.Is(err, sigv4.ErrMissingAuthentication):
		message = "Forbidden"
	case errors.Is(err, ErrAccessDenied):
		message = strings.TrimPrefix(message, ErrAccessDenied.Error()+": ")
	}
	b, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{message})
	return http.StatusForbidden, string(b)
}
