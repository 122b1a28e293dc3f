package mgmtapi_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/awserr"
	"github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/apigatewaymanagementapi"
	"github.com/coder/websocket"
)

// TestSDKv1Lifecycle runs post, get, delete and the calls after the close with aws-sdk-go v1, the SDK the
// project's Sparta handlers use.
func TestSDKv1Lifecycle(t *testing.T) {
	f := newFixture(t)
	hc := httpClient(f.g, false)
	t.Cleanup(hc.CloseIdleConnections)
	sess, err := session.NewSession(&aws.Config{
		Credentials: credentials.NewStaticCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""),
		HTTPClient:  hc,
		MaxRetries:  aws.Int(0),
	})
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	api := apigatewaymanagementapi.New(sess, aws.NewConfig().WithEndpoint(f.g.HTTPURL+"/chat/dev").WithRegion("us-east-1"))
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()

	before := time.Now()
	client, id := f.connect(t, "sparta")

	msg := `{"message":"from v1","id":"` + id + `"}`
	if _, err := api.PostToConnectionWithContext(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte(msg)}); err != nil {
		t.Fatalf("PostToConnection: %v", err)
	}
	if got := client.Read(); got != msg {
		t.Fatalf("client got %q, want %q", got, msg)
	}

	out, err := api.GetConnectionWithContext(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
	if err != nil {
		t.Fatalf("GetConnection: %v", err)
	}
	after := time.Now()
	connectedAt, lastActiveAt := aws.TimeValue(out.ConnectedAt), aws.TimeValue(out.LastActiveAt)
	if connectedAt.Before(before.Truncate(time.Millisecond)) || lastActiveAt.Before(connectedAt) || lastActiveAt.After(after) {
		t.Errorf("connectedAt %v, lastActiveAt %v: want %v ≤ connectedAt ≤ lastActiveAt ≤ %v", connectedAt, lastActiveAt, before, after)
	}
	if out.Identity == nil || aws.StringValue(out.Identity.SourceIp) != "127.0.0.1" || aws.StringValue(out.Identity.UserAgent) != userAgent("sparta") {
		t.Errorf("identity = %v, want sourceIp 127.0.0.1 and userAgent %q", out.Identity, userAgent("sparta"))
	}

	if _, err := api.DeleteConnectionWithContext(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)}); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	if code := client.ExpectClose(); code != websocket.StatusNormalClosure {
		t.Errorf("client close code = %d, want 1000", code)
	}
	f.waitDisconnect(t, id)

	calls := []struct {
		name string
		call func() error
	}{
		{"PostToConnection", func() error {
			_, err := api.PostToConnectionWithContext(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("late")})
			return err
		}},
		{"GetConnection", func() error {
			_, err := api.GetConnectionWithContext(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
			return err
		}},
		{"DeleteConnection", func() error {
			_, err := api.DeleteConnectionWithContext(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)})
			return err
		}},
	}
	for _, c := range calls {
		t.Run(c.name+" after close", func(t *testing.T) {
			err := c.call()
			var ae awserr.Error
			if !errors.As(err, &ae) || ae.Code() != apigatewaymanagementapi.ErrCodeGoneException {
				t.Fatalf("err = %v (%T), want awserr.Error with code GoneException", err, err)
			}
			var rf awserr.RequestFailure
			if errors.As(err, &rf) && rf.StatusCode() != http.StatusGone {
				t.Errorf("status %d, want 410", rf.StatusCode())
			}
		})
	}

	t.Run("malformed ID", func(t *testing.T) {
		_, err := api.GetConnectionWithContext(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String("abc")})
		var rf awserr.RequestFailure
		if !errors.As(err, &rf) || rf.Code() != "BadRequestException" || rf.StatusCode() != http.StatusBadRequest {
			t.Fatalf("err = %v (%T), want BadRequestException with status 400", err, err)
		}
	})
}
