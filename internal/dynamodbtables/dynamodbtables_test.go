package dynamodbtables_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/switchboard-gw/switchboard/internal/dynalitetest"
	"github.com/switchboard-gw/switchboard/internal/dynamodbtables"
)

// The AWS sample's table, as CloudFormation gives it: numbers as strings, SSEEnabled.
var connectionsTable = dynamodbtables.Table{LogicalID: "ConnectionsTable", Name: "simplechat_connections", Properties: map[string]any{
	"TableName":             "simplechat_connections",
	"AttributeDefinitions":  []any{map[string]any{"AttributeName": "connectionId", "AttributeType": "S"}},
	"KeySchema":             []any{map[string]any{"AttributeName": "connectionId", "KeyType": "HASH"}},
	"ProvisionedThroughput": map[string]any{"ReadCapacityUnits": "5", "WriteCapacityUnits": "5"},
	"SSESpecification":      map[string]any{"SSEEnabled": "true"},
}}

func TestInput(t *testing.T) {
	tests := []struct {
		name        string
		table       dynamodbtables.Table
		check       func(t *testing.T, in *dynamodb.CreateTableInput)
		wantSkipped []string
	}{
		{"the sample's table", connectionsTable, func(t *testing.T, in *dynamodb.CreateTableInput) {
			if aws.ToString(in.TableName) != "simplechat_connections" || aws.ToInt64(in.ProvisionedThroughput.ReadCapacityUnits) != 5 ||
				!aws.ToBool(in.SSESpecification.Enabled) || in.KeySchema[0].KeyType != types.KeyTypeHash {
				t.Fatalf("%+v", in)
			}
		}, nil},
		{"a generated name and on-demand by default", dynamodbtables.Table{LogicalID: "T", Name: "stack-T-ABC", Properties: map[string]any{
			"AttributeDefinitions": []any{map[string]any{"AttributeName": "pk", "AttributeType": "S"}},
			"KeySchema":            []any{map[string]any{"AttributeName": "pk", "KeyType": "HASH"}},
		}}, func(t *testing.T, in *dynamodb.CreateTableInput) {
			if aws.ToString(in.TableName) != "stack-T-ABC" || in.BillingMode != types.BillingModePayPerRequest {
				t.Fatalf("%+v", in)
			}
		}, nil},
		{"streams are enabled by their view type; other calls' properties are listed", dynamodbtables.Table{LogicalID: "T", Name: "t", Properties: map[string]any{
			"BillingMode":                      "PAY_PER_REQUEST",
			"StreamSpecification":              map[string]any{"StreamViewType": "NEW_IMAGE"},
			"TimeToLiveSpecification":          map[string]any{"AttributeName": "ttl", "Enabled": true},
			"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
			"GlobalSecondaryIndexes": []any{map[string]any{"IndexName": "byRoom", "ContributorInsightsSpecification": map[string]any{"Enabled": true},
				"KeySchema": []any{map[string]any{"AttributeName": "room", "KeyType": "HASH"}}, "Projection": map[string]any{"ProjectionType": "ALL"}}},
		}}, func(t *testing.T, in *dynamodb.CreateTableInput) {
			if !aws.ToBool(in.StreamSpecification.StreamEnabled) || in.StreamSpecification.StreamViewType != types.StreamViewTypeNewImage ||
				aws.ToString(in.GlobalSecondaryIndexes[0].IndexName) != "byRoom" {
				t.Fatalf("%+v", in)
			}
		}, []string{"PointInTimeRecoverySpecification", "TimeToLiveSpecification"}},
		{"a resource policy and warm throughput as CloudFormation writes them", dynamodbtables.Table{LogicalID: "T", Name: "t", Properties: map[string]any{
			"BillingMode":    "PAY_PER_REQUEST",
			"ResourcePolicy": map[string]any{"PolicyDocument": map[string]any{"Version": "2012-10-17"}},
			"WarmThroughput": map[string]any{"ReadUnitsPerSecond": "12000", "WriteUnitsPerSecond": "4000"},
		}}, func(t *testing.T, in *dynamodb.CreateTableInput) {
			if aws.ToString(in.ResourcePolicy) != `{"Version":"2012-10-17"}` || aws.ToInt64(in.WarmThroughput.ReadUnitsPerSecond) != 12000 {
				t.Fatalf("%+v", in)
			}
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, skipped, err := tt.table.Input()
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, in)
			if !slices.Equal(skipped, tt.wantSkipped) {
				t.Fatalf("skipped %v, want %v", skipped, tt.wantSkipped)
			}
		})
	}
}

func TestInputRefusesPropertiesOfTheWrongShape(t *testing.T) {
	_, _, err := dynamodbtables.Table{LogicalID: "Bad", Name: "bad", Properties: map[string]any{"KeySchema": "connectionId"}}.Input()
	if err == nil || !strings.Contains(err.Error(), "table Bad") {
		t.Fatalf("err = %v, want one naming the resource", err)
	}
}

func TestCreateOnDynalite(t *testing.T) {
	endpoint := dynalitetest.Start(t)
	client := dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	tables := []dynamodbtables.Table{connectionsTable, {LogicalID: "Rooms", Name: "rooms", Properties: map[string]any{
		"BillingMode":          "PAY_PER_REQUEST",
		"AttributeDefinitions": []any{map[string]any{"AttributeName": "room", "AttributeType": "S"}, map[string]any{"AttributeName": "at", "AttributeType": "N"}},
		"KeySchema":            []any{map[string]any{"AttributeName": "room", "KeyType": "HASH"}, map[string]any{"AttributeName": "at", "KeyType": "RANGE"}},
	}}}
	if err := dynamodbtables.Create(ctx, client, tables, log); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"simplechat_connections", "rooms"} {
		out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil || out.Table.TableStatus != types.TableStatusActive {
			t.Fatalf("%s: %v %v", name, out, err)
		}
	}
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("simplechat_connections"),
		Item: map[string]types.AttributeValue{"connectionId": &types.AttributeValueMemberS{Value: "abc"}}}); err != nil {
		t.Fatal(err)
	}
	// A second start finds the tables and leaves them (and their items) alone.
	if err := dynamodbtables.Create(ctx, client, tables, log); err != nil {
		t.Fatalf("second Create: %v", err)
	}
	out, err := client.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("simplechat_connections")})
	if err != nil || out.Count != 1 {
		t.Fatalf("scan after the second Create: %v %v", out, err)
	}
	// A table DynamoDB refuses is an error naming it; the others are still created.
	err = dynamodbtables.Create(ctx, client, []dynamodbtables.Table{{LogicalID: "NoKeys", Name: "nokeys", Properties: map[string]any{"BillingMode": "PAY_PER_REQUEST"}}}, log)
	if err == nil || !strings.Contains(err.Error(), "nokeys (NoKeys)") {
		t.Fatalf("err = %v, want one naming the table", err)
	}
}
