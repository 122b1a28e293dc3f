// Package dynamodbtables creates the DynamoDB tables a template declares (AWS::DynamoDB::Table) on the
// DynamoDB endpoint local functions use — DynamoDB Local, dynalite, LocalStack — so that an app runs
// after one command. CloudFormation's table properties are, with a few exceptions, CreateTable's
// members; Table.Input maps them and says what it leaves out.
package dynamodbtables

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Table is one AWS::DynamoDB::Table resource with its intrinsics resolved.
type Table struct {
	// LogicalID names the resource in messages.
	LogicalID string
	// Name is the table's name: the TableName property, or the name the template loader gave it.
	Name string
	// Properties are the resource's Properties.
	Properties map[string]any
}

// API is what Create needs of a DynamoDB client (*dynamodb.Client has it).
type API interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// createMembers are the CloudFormation properties that CreateTable takes as they are (after the renames
// in Input).
var createMembers = []string{"AttributeDefinitions", "BillingMode", "DeletionProtectionEnabled", "GlobalSecondaryIndexes",
	"KeySchema", "LocalSecondaryIndexes", "OnDemandThroughput", "ProvisionedThroughput",
	"SSESpecification", "StreamSpecification", "TableClass", "Tags", "WarmThroughput"}

// numeric and boolean members CloudFormation also accepts as strings.
var (
	numericMembers = []string{"ReadCapacityUnits", "WriteCapacityUnits", "MaxReadRequestUnits", "MaxWriteRequestUnits",
		"ReadUnitsPerSecond", "WriteUnitsPerSecond"}
	booleanMembers = []string{"DeletionProtectionEnabled", "Enabled", "StreamEnabled"}
)

// Input maps t's properties to CreateTable's input, and lists the properties it leaves out (they need
// other API calls, or describe things a local DynamoDB does not have).
func (t Table) Input() (*dynamodb.CreateTableInput, []string, error) {
	m := map[string]any{"TableName": t.Name}
	var skipped []string
	for k, v := range t.Properties {
		switch {
		case k == "TableName":
		case k == "ResourcePolicy":
			// CloudFormation's {PolicyDocument: {...}} is CreateTable's policy text.
			rp, _ := v.(map[string]any)
			if doc, ok := rp["PolicyDocument"]; ok {
				text, err := json.Marshal(doc)
				if err != nil {
					return nil, nil, fmt.Errorf("table %s: ResourcePolicy: %w", t.LogicalID, err)
				}
				m[k] = string(text)
			}
		case k == "SSESpecification":
			sse, _ := v.(map[string]any)
			out := map[string]any{}
			for sk, sv := range sse {
				if sk == "SSEEnabled" {
					sk = "Enabled"
				}
				out[sk] = sv
			}
			m[k] = out
		case k == "StreamSpecification":
			spec, _ := v.(map[string]any)
			out := map[string]any{"StreamEnabled": true}
			for sk, sv := range spec {
				out[sk] = sv
			}
			m[k] = out
		case k == "GlobalSecondaryIndexes":
			list, _ := v.([]any)
			var out []any
			for _, gsi := range list {
				g, _ := gsi.(map[string]any)
				c := map[string]any{}
				for gk, gv := range g {
					if gk != "ContributorInsightsSpecification" {
						c[gk] = gv
					}
				}
				out = append(out, c)
			}
			m[k] = out
		case slices.Contains(createMembers, k):
			m[k] = v
		default:
			skipped = append(skipped, k)
		}
	}
	slices.Sort(skipped)
	normalize(m)
	data, err := json.Marshal(m)
	if err != nil {
		return nil, nil, fmt.Errorf("table %s: %w", t.LogicalID, err)
	}
	var in dynamodb.CreateTableInput
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, nil, fmt.Errorf("table %s: properties do not fit CreateTable: %w", t.LogicalID, err)
	}
	if in.BillingMode == "" && in.ProvisionedThroughput == nil {
		// CloudFormation's default is PROVISIONED, which needs throughput; a template without either
		// only deploys with on-demand tables in mind.
		in.BillingMode = types.BillingModePayPerRequest
	}
	return &in, skipped, nil
}

// normalize turns CloudFormation's string forms of numbers and booleans into JSON numbers and booleans,
// throughout v.
func normalize(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok {
				switch {
				case slices.Contains(numericMembers, k):
					if n, err := strconv.ParseInt(s, 10, 64); err == nil {
						x[k] = n
					}
				case slices.Contains(booleanMembers, k):
					if b, err := strconv.ParseBool(s); err == nil {
						x[k] = b
					}
				}
				continue
			}
			normalize(e)
		}
	case []any:
		for _, e := range x {
			normalize(e)
		}
	}
}

// Create creates every table that does not exist yet and waits until all are ACTIVE (or ctx ends).
// A table that exists is left as it is. Each outcome is logged.
func Create(ctx context.Context, client API, tables []Table, log *slog.Logger) error {
	var errs []error
	var pending []string
	for _, t := range tables {
		in, skipped, err := t.Input()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		_, err = client.CreateTable(ctx, in)
		var inUse *types.ResourceInUseException
		switch {
		case errors.As(err, &inUse):
			log.Info("DynamoDB table exists; left as it is", "resource", t.LogicalID, "table", t.Name)
		case err != nil:
			errs = append(errs, fmt.Errorf("create table %s (%s): %w", t.Name, t.LogicalID, err))
			continue
		default:
			log.Info("DynamoDB table created", "resource", t.LogicalID, "table", t.Name)
			pending = append(pending, t.Name)
		}
		if len(skipped) > 0 {
			log.Info("DynamoDB table properties not applied", "resource", t.LogicalID, "properties", strings.Join(skipped, ","))
		}
	}
	for _, name := range pending {
		if err := waitActive(ctx, client, name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// waitActive polls until the table is ACTIVE.
func waitActive(ctx context.Context, client API, name string) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
		if err != nil {
			return fmt.Errorf("describe table %s: %w", name, err)
		}
		if out.Table != nil && out.Table.TableStatus == types.TableStatusActive {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("table %s not ACTIVE: %w", name, ctx.Err())
		case <-tick.C:
		}
	}
}
