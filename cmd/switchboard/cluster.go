package main

import (
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/cluster/membership"
	"github.com/switchboard-gw/switchboard/internal/gateway"
)

// clusterFlags are serve's --cluster* flags.
type clusterFlags struct {
	nats, listen, routes, store string
	creds, nkey, ca, cert, key  string
	replicas, claimWorkers      int
	heartbeat                   time.Duration
}

func (c *clusterFlags) declare(fs *flag.FlagSet) {
	fs.StringVar(&c.nats, "cluster", "", `join a cluster of nodes over NATS: "embedded" runs a NATS server in this process, or nats://host:4222,… names an existing NATS cluster (needs --node, unique in the cluster); empty: this node is alone`)
	fs.StringVar(&c.listen, "cluster-listen", "", "with --cluster embedded: host:port the other nodes' --cluster-routes connect to")
	fs.StringVar(&c.routes, "cluster-routes", "", "with --cluster embedded: comma-separated host:port of the other nodes' --cluster-listen")
	fs.StringVar(&c.store, "cluster-store", "", "with --cluster embedded: JetStream directory (default: nats-<node> under the state directory)")
	fs.StringVar(&c.creds, "cluster-creds", "", "NATS credentials file (user JWT and nkey seed)")
	fs.StringVar(&c.nkey, "cluster-nkey", "", "NATS nkey seed file")
	fs.StringVar(&c.ca, "cluster-tls-ca", "", "PEM file of the CAs that sign the NATS servers' certificates")
	fs.StringVar(&c.cert, "cluster-tls-cert", "", "PEM client certificate for NATS servers that verify clients (with --cluster-tls-key)")
	fs.StringVar(&c.key, "cluster-tls-key", "", "PEM private key for --cluster-tls-cert")
	fs.IntVar(&c.replicas, "cluster-replicas", 0, "copies of the cluster's JetStream buckets; 0: one per NATS server known, up to 3")
	fs.DurationVar(&c.heartbeat, "cluster-heartbeat", time.Second, "how often the node tells the cluster it is alive; three missed and the others declare it gone")
	fs.IntVar(&c.claimWorkers, "cluster-claim-workers", membership.DefaultClaimWorkers, "how many $disconnects of a dead node's connections this node runs at once when it takes them over (1-1024)")
}

// check refuses cluster flags that cannot work together.
func (c *clusterFlags) check(fs *flag.FlagSet) error {
	if c.nats == "" {
		var set []string
		fs.Visit(func(f *flag.Flag) {
			if strings.HasPrefix(f.Name, "cluster-") {
				set = append(set, "--"+f.Name)
			}
		})
		if len(set) > 0 {
			return fmt.Errorf("%s need --cluster (embedded or nats://…)", strings.Join(set, ", "))
		}
		return nil
	}
	nodeSet := false
	fs.Visit(func(f *flag.Flag) { nodeSet = nodeSet || f.Name == "node" })
	if !nodeSet {
		return errors.New("--cluster needs --node: each node of a cluster has its own ID (0-65535), checked unique when it joins")
	}
	if c.nats != gateway.EmbeddedNATS && !strings.Contains(c.nats, "://") {
		return fmt.Errorf("--cluster %q: want embedded or nats://host:port[,nats://host:port…]", c.nats)
	}
	if c.nats != gateway.EmbeddedNATS && (c.listen != "" || c.routes != "" || c.store != "") {
		return errors.New("--cluster-listen, --cluster-routes and --cluster-store are for --cluster embedded")
	}
	if c.routes != "" && c.listen == "" {
		return errors.New("--cluster-routes needs --cluster-listen: the address the other nodes' routes connect to")
	}
	if c.replicas < 0 || c.replicas > 5 {
		return fmt.Errorf("--cluster-replicas %d: want 0 (automatic) to 5", c.replicas)
	}
	if c.heartbeat < 100*time.Millisecond {
		return fmt.Errorf("--cluster-heartbeat %s: want at least 100ms", c.heartbeat)
	}
	if c.claimWorkers < 1 || c.claimWorkers > 1024 {
		return fmt.Errorf("--cluster-claim-workers %d: want 1 to 1024", c.claimWorkers)
	}
	return nil
}

// options is the gateway's ClusterOptions, nil without --cluster.
func (c *clusterFlags) options(stateDir string, node uint) *gateway.ClusterOptions {
	if c.nats == "" {
		return nil
	}
	o := &gateway.ClusterOptions{NATS: c.nats, Listen: c.listen, StoreDir: c.store, CredsFile: c.creds,
		NKeySeedFile: c.nkey, CAFile: c.ca, CertFile: c.cert, KeyFile: c.key, Replicas: c.replicas, Heartbeat: c.heartbeat,
		ClaimWorkers: c.claimWorkers}
	for _, r := range strings.Split(c.routes, ",") {
		if r = strings.TrimSpace(r); r != "" {
			o.Routes = append(o.Routes, r)
		}
	}
	if c.nats == gateway.EmbeddedNATS && o.StoreDir == "" {
		o.StoreDir = filepath.Join(stateDir, "nats-"+strconv.FormatUint(uint64(node), 10))
	}
	return o
}
