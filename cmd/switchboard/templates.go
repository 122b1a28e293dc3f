package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"go.yaml.in/yaml/v3"

	"github.com/switchboard-gw/switchboard/internal/cfntemplate"
	"github.com/switchboard-gw/switchboard/internal/dynamodbtables"
	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/resource"
	"github.com/switchboard-gw/switchboard/internal/snapshot"
)

// templateFlags are the flags that select templates, shared by serve, validate and import.
type templateFlags struct {
	paths     []string
	overrides []string
}

// add declares --template and --parameter-overrides on fs.
func (tf *templateFlags) add(fs *flag.FlagSet) {
	fs.Func("template", "CloudFormation / SAM template (YAML or JSON, or cdk.out/STACK.template.json) to serve; repeatable", func(s string) error {
		tf.paths = append(tf.paths, s)
		return nil
	})
	fs.Func("parameter-overrides", `template parameters: "Key=Value Key2=Value2" or SAM's "ParameterKey=Key,ParameterValue=Value"; repeatable`, func(s string) error {
		tf.overrides = append(tf.overrides, s)
		return nil
	})
}

// load reads every template, evaluated for region, with the overrides; each must compile on its own, so
// that its errors name places in it.
func (tf *templateFlags) load(region string) ([]*cfntemplate.Template, error) {
	if len(tf.paths) == 0 {
		if len(tf.overrides) > 0 {
			return nil, errors.New("--parameter-overrides needs a --template")
		}
		return nil, nil
	}
	overrides, err := cfntemplate.ParseOverrides(tf.overrides)
	if err != nil {
		return nil, err
	}
	var out []*cfntemplate.Template
	var errs []error
	for _, path := range tf.paths {
		t, err := cfntemplate.Load(path, cfntemplate.Options{Region: region, Parameters: overrides})
		if err == nil {
			if _, cerr := snapshot.Compile(t.Bundle); cerr != nil {
				err = t.Locate(cerr)
			} else if serr := gateway.CheckSupported(t.Bundle); serr != nil {
				err = t.Locate(serr)
			}
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, t)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := cfntemplate.CheckOverrides(out, overrides); err != nil {
		return nil, err
	}
	return out, nil
}

// gatewayTemplates logs, once, what each template does not serve and its outputs, and returns the
// bundles for gateway.Options.Templates.
func gatewayTemplates(log *slog.Logger, ts []*cfntemplate.Template) []gateway.Template {
	out := make([]gateway.Template, 0, len(ts))
	for _, t := range ts {
		log.Info("template loaded", "template", t.Name, "stack", t.StackName, "apis", len(t.Bundle.APIs), "functions", len(t.Bundle.Functions))
		for _, n := range t.Notes {
			log.Info("template resource not served", "template", t.Name, "resource", n.LogicalID, "type", n.Type, "what", n.What)
		}
		for _, o := range t.Outputs {
			log.Info("template output (as on AWS)", "template", t.Name, "output", o.Name, "value", o.Value)
		}
		out = append(out, gateway.Template{Name: t.Name, Bundle: t.Bundle})
	}
	return out
}

// validateTemplates checks templates as serve would load them and prints what each declares and does
// not serve.
func validateTemplates(tf *templateFlags, region string, stdout io.Writer) error {
	ts, err := tf.load(region)
	if err != nil {
		return err
	}
	for _, t := range ts {
		routes := 0
		for _, a := range t.Bundle.APIs {
			routes += len(a.Routes)
		}
		fmt.Fprintf(stdout, "%s: ok (%d APIs, %d routes, %d functions)\n", t.Name, len(t.Bundle.APIs), routes, len(t.Bundle.Functions))
		for _, n := range t.Notes {
			fmt.Fprintf(stdout, "  %s\n", n)
		}
	}
	return nil
}

// importTemplates writes the Switchboard config file equivalent to the templates.
func importTemplates(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var tf templateFlags
	tf.add(fs)
	region := fs.String("region", "us-east-1", "AWS region the templates are evaluated for (AWS::Region)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: switchboard import --template FILE [--template FILE…] [--parameter-overrides K=V…] > switchboard.yaml")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitError{err}
	}
	if fs.NArg() > 0 || len(tf.paths) == 0 {
		fs.Usage()
		return exitError{errors.New("import needs --template")}
	}
	ts, err := tf.load(*region)
	if err != nil {
		return err
	}
	cwd, err := os.Getwd()
	if err != nil {
		return err
	}
	var b resource.Bundle
	var header strings.Builder
	header.WriteString("# Switchboard config written by `switchboard import` from:\n")
	for _, t := range ts {
		fmt.Fprintf(&header, "#   %s (stack %s)\n", t.Name, t.StackName)
		for _, n := range t.Notes {
			fmt.Fprintf(&header, "#     %s\n", n)
		}
		b.APIs = append(b.APIs, t.Bundle.APIs...)
		b.DomainNames = append(b.DomainNames, t.Bundle.DomainNames...)
		b.APIKeys = append(b.APIKeys, t.Bundle.APIKeys...)
		b.UsagePlans = append(b.UsagePlans, t.Bundle.UsagePlans...)
		for _, fn := range t.Bundle.Functions {
			fn.CodeURI = relativeTo(cwd, fn.CodeURI)
			if filepath.IsAbs(fn.Handler) {
				fn.Handler = relativeTo(cwd, fn.Handler)
			}
			b.Functions = append(b.Functions, fn)
		}
	}
	header.WriteString("# Paths are relative to the directory this was written from: save the file there.\n")
	var out strings.Builder
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&b); err != nil {
		return fmt.Errorf("write YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("write YAML: %w", err)
	}
	_, err = io.WriteString(stdout, header.String()+out.String())
	return err
}

// relativeTo writes path relative to dir when that is shorter to read, else leaves it absolute.
func relativeTo(dir, path string) string {
	if path == "" {
		return ""
	}
	rel, err := filepath.Rel(dir, path)
	if err != nil || strings.HasPrefix(rel, "../../../") {
		return path
	}
	return rel
}

// createTables creates the templates' DynamoDB tables on the DynamoDB endpoint local functions use
// (AWS_ENDPOINT_URL_DYNAMODB, else AWS_ENDPOINT_URL, which functions inherit). Without one it refuses:
// --create-tables is for a local DynamoDB, never for AWS itself.
func createTables(ctx context.Context, templates []*cfntemplate.Template, region string, getenv func(string) string, log *slog.Logger) error {
	var tables []dynamodbtables.Table
	for _, t := range templates {
		for _, tb := range t.Tables {
			tables = append(tables, dynamodbtables.Table{LogicalID: tb.LogicalID, Name: tb.Name, Properties: tb.Properties})
		}
	}
	if len(tables) == 0 {
		log.Info("--create-tables: the templates declare no DynamoDB table")
		return nil
	}
	endpoint := getenv("AWS_ENDPOINT_URL_DYNAMODB")
	if endpoint == "" {
		endpoint = getenv("AWS_ENDPOINT_URL")
	}
	if endpoint == "" {
		return errors.New("--create-tables needs AWS_ENDPOINT_URL_DYNAMODB (or AWS_ENDPOINT_URL) naming the local DynamoDB " +
			"(DynamoDB Local, dynalite, LocalStack) that functions use; it does not create tables in AWS")
	}
	opts := []func(*config.LoadOptions) error{config.WithRegion(region), config.WithEC2IMDSClientEnableState(imds.ClientDisabled)}
	if getenv("AWS_ACCESS_KEY_ID") == "" {
		// The same placeholder credentials local functions sign with.
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("switchboard", "switchboard", "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return fmt.Errorf("--create-tables: %w", err)
	}
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(endpoint) })
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	log.Info("creating the templates' DynamoDB tables", "endpoint", endpoint, "tables", len(tables))
	if err := dynamodbtables.Create(ctx, client, tables, log); err != nil {
		return fmt.Errorf("--create-tables on %s: %w", endpoint, err)
	}
	return nil
}
