package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/authorizer"
	"github.com/switchboard-gw/switchboard/internal/jwtauth"
	"github.com/switchboard-gw/switchboard/internal/proxyevent"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// IAMVerifier checks a SigV4-signed request and its signer's policy (authorizer.IAM).
type IAMVerifier interface {
	Identify(r *http.Request, body []byte, action, resourceARN string) (authorizer.Caller, error)
}

// Authorizers runs the three kinds of HTTP API route authorization: JWT (jwtauth), CUSTOM (Lambda
// REQUEST authorizers, authorizer.HTTPAuthorizer) and AWS_IAM (SigV4 and the signer's policy). Verifiers
// and Lambda authorizers come from sets that outlive snapshots, so key and result caches survive
// deployments.
type Authorizers struct {
	JWT    *jwtauth.Set
	Lambda *authorizer.HTTPSet
	// IAM checks AWS_IAM routes; nil lets them through unchecked, as WebSocket AWS_IAM routes are when
	// signatures are not enforced.
	IAM             IAMVerifier
	Region, Account string
}

var _ Authorizer = (*Authorizers)(nil)

// defaultJWTIdentity is the identity source of a JWT authorizer that names none (AWS's default).
const defaultJWTIdentity = "$request.header.Authorization"

// Authorize decides req by its route's authorization type.
func (a *Authorizers) Authorize(ctx context.Context, req *AuthRequest) Decision {
	route, ev := req.Route, req.Event
	switch route.AuthorizationType {
	case resource.AuthorizationJWT:
		return a.jwt(ctx, req)
	case "CUSTOM":
		return a.lambda(ctx, req)
	case "AWS_IAM":
		if a.IAM == nil {
			return Decision{}
		}
		arn := authorizer.RouteARN(a.Region, a.Account, ev.APIID, ev.Stage, ev.Method, req.RoutePath)
		caller, err := a.IAM.Identify(req.HTTP, ev.Body, authorizer.InvokeAction, arn)
		if err != nil {
			status, body := authorizer.HTTPIAMRefusal(err)
			return Decision{Status: status, Body: body, Reason: "AWS_IAM: " + err.Error()}
		}
		return Decision{Authorizer: &proxyevent.HTTPAuthorizer{IAM: authorizer.HTTPIAMAuthorization(caller, a.Region, a.Account)}}
	}
	return internalError(fmt.Sprintf("authorization type %q is not one of JWT, CUSTOM and AWS_IAM", route.AuthorizationType))
}

func internalError(reason string) Decision {
	return Decision{Status: http.StatusInternalServerError, Body: bodyInternalError, Reason: reason}
}

func (a *Authorizers) jwt(ctx context.Context, req *AuthRequest) Decision {
	au := req.Route.Authorizer
	if au == nil || a.JWT == nil {
		return internalError("JWT route without a JWT authorizer")
	}
	v, err := a.JWT.Verifier(au.Issuer, au.Audience)
	if err != nil {
		return internalError(fmt.Sprintf("JWT authorizer %s: %v", au.Name, err))
	}
	source := defaultJWTIdentity
	if len(au.IdentitySource) > 0 {
		source = au.IdentitySource[0]
	}
	r := v.Authorize(ctx, identityValue(source, req.Event), req.Route.Scopes)
	if !r.Allowed() {
		d := Decision{Status: r.Status, Body: r.Body, Reason: fmt.Sprintf("JWT authorizer %s: %v", au.Name, r.Err)}
		if r.WWWAuthenticate != "" {
			d.Header = http.Header{"Www-Authenticate": {r.WWWAuthenticate}}
		}
		return d
	}
	return Decision{Authorizer: &proxyevent.HTTPAuthorizer{JWT: &proxyevent.JWTAuthorization{Claims: r.Claims, Scopes: r.Scopes}}}
}

func (a *Authorizers) lambda(ctx context.Context, req *AuthRequest) Decision {
	au := req.Route.Authorizer
	if au == nil || a.Lambda == nil {
		return internalError("CUSTOM route without a Lambda authorizer")
	}
	ev := req.Event
	la, err := a.Lambda.Authorizer(ev.APIID, req.Stage.Name, req.Stage.AuthorizerCacheEpoch, authorizer.HTTPConfig{AuthorizerID: au.ID, Name: au.Name, FunctionURI: au.URI,
		IdentitySource: au.IdentitySource, PayloadFormatVersion: au.PayloadFormatVersion,
		EnableSimpleResponses: au.SimpleResponses, ResultTTL: au.ResultTTL})
	if err != nil {
		return internalError(err.Error())
	}
	d := la.Authorize(ctx, &authorizer.HTTPRequest{Event: ev,
		RouteARN: authorizer.RouteARN(a.Region, a.Account, ev.APIID, ev.Stage, ev.Method, req.RoutePath),
		Context:  func(name string) string { v, _ := ev.ContextVar(name); return v }})
	if !d.Allowed() {
		return Decision{Status: d.Status, Body: d.Body, Reason: fmt.Sprintf("Lambda authorizer %s: %v", au.Name, d.Err)}
	}
	return Decision{Authorizer: d.EventAuthorizer()}
}

// identityValue reads an identity source ($request.header.NAME, $request.querystring.NAME,
// $context.NAME, $stageVariables.NAME) from ev; "" when it has no value.
func identityValue(source string, ev *proxyevent.HTTPRequest) string {
	switch {
	case strings.HasPrefix(source, "$request.header."):
		return strings.Join(ev.Header.Values(strings.TrimPrefix(source, "$request.header.")), ",")
	case strings.HasPrefix(source, "$request.querystring."):
		return ev.QueryValue(strings.TrimPrefix(source, "$request.querystring."))
	case strings.HasPrefix(source, "$context."):
		v, _ := ev.ContextVar(strings.TrimPrefix(source, "$context."))
		return v
	case strings.HasPrefix(source, "$stageVariables."):
		return ev.StageVariables[strings.TrimPrefix(source, "$stageVariables.")]
	}
	return ""
}
