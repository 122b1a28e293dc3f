package gateway

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// lazyCredentials loads the SDK's default credential chain on first use, so that configurations without
// AWS service integrations never read the AWS configuration.
type lazyCredentials struct {
	region string
	once   sync.Once
	creds  aws.CredentialsProvider
	err    error
}

// Retrieve loads the chain once, then returns its (cached) credentials.
func (l *lazyCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	l.once.Do(func() {
		cfg, err := config.LoadDefaultConfig(context.WithoutCancel(ctx), config.WithRegion(l.region))
		if err != nil {
			l.err = fmt.Errorf("load AWS configuration: %w", err)
			return
		}
		if cfg.Credentials == nil {
			l.err = fmt.Errorf("no AWS credentials in the environment or the shared configuration files")
			return
		}
		l.creds = aws.NewCredentialsCache(cfg.Credentials)
	})
	if l.err != nil {
		return aws.Credentials{}, l.err
	}
	return l.creds.Retrieve(ctx)
}
