package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	apigwtypes "github.com/aws/aws-sdk-go-v2/service/apigateway/types"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
	"github.com/aws/smithy-go"
	"github.com/coder/websocket"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-gw/switchboard/internal/catalog/natskv"
	"github.com/switchboard-gw/switchboard/internal/configfile"
	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// sharedConfig is a configuration file every node of the cluster tests runs: one API the file declares.
const sharedConfig = `
apis:
  - name: fromfile
    apiId: fromfile
    protocolType: WEBSOCKET
    routeSelectionExpression: $request.body.action
    integrations:
      - integrationId: ok
        integrationType: MOCK
        requestTemplates: {"$default": '{"statusCode": 200}'}
        integrationResponses: [{integrationResponseKey: $default, responseTemplates: {"$default": "from the file"}}]
    routes:
      - {routeKey: ping, target: integrations/ok, routeResponses: [{routeResponseKey: $default}]}
    stages: [{stageName: dev}]
`

// sameRevision waits until every node serves the same catalog revision, at least min, and returns it.
func sameRevision(t *testing.T, nodes []*gatewaytest.Gateway, min uint64) uint64 {
	t.Helper()
	var rev uint64
	gatewaytest.Eventually(t, 10*time.Second, func() bool {
		rev = nodes[0].CatalogRevision()
		for _, n := range nodes[1:] {
			if n.CatalogRevision() != rev {
				return false
			}
		}
		return rev >= min
	}, "the nodes do not serve one catalog revision (at least %d)", min)
	return rev
}

// TestClusterSharedCatalog: three nodes with embedded NATS; the file's API is saved once and served by
// all; an API made through node 1's control plane (AWS SDK v2) is served by node 3 to a real WebSocket
// client and listed by node 2's control plane; the file's resources stay read-only on every node, and a
// file reloaded on node 2 changes them on every node, keeping the control plane's API.
func TestClusterSharedCatalog(t *testing.T) {
	nodes := gatewaytest.StartCluster(t, sharedConfig, gatewaytest.ClusterAddrs(t, 3), gatewaytest.WithControlPlane)
	ctx := t.Context()
	start := sameRevision(t, nodes, 1)
	for i, n := range nodes {
		if got := ping(t, n.WSURL+"/fromfile/dev"); got != "from the file" {
			t.Fatalf("node %d: the file's API answers %q", i+1, got)
		}
	}

	cp1 := controlClient(nodes[0].ControlURL)
	apiID, _, _, _ := buildEchoAPI(ctx, t, cp1, `{"from":"node 1"}`)
	if _, err := cp1.CreateDeployment(ctx, &apigatewayv2.CreateDeploymentInput{ApiId: &apiID, StageName: aws.String("dev")}); err != nil {
		t.Fatalf("CreateDeployment: %v", err)
	}
	rev := sameRevision(t, nodes, start+1)
	if got := ping(t, nodes[2].WSURL+"/"+apiID+"/dev"); got != `{"from":"node 1"}` {
		t.Fatalf("node 3 answers %q for the API made through node 1", got)
	}
	apis, err := controlClient(nodes[1].ControlURL).GetApis(ctx, &apigatewayv2.GetApisInput{})
	if err != nil {
		t.Fatalf("GetApis on node 2: %v", err)
	}
	var names []string
	for _, a := range apis.Items {
		names = append(names, *a.ApiId)
	}
	if len(names) != 2 || (names[0] != apiID && names[1] != apiID) {
		t.Fatalf("node 2 lists %v, want fromfile and %s", names, apiID)
	}

	_, err = controlClient(nodes[2].ControlURL).UpdateApi(ctx, &apigatewayv2.UpdateApiInput{ApiId: aws.String("fromfile"), Name: aws.String("renamed")})
	var bad *types.BadRequestException
	if !errors.As(err, &bad) {
		t.Fatalf("UpdateApi of the file's API through node 3: err = %v, want BadRequestException", err)
	}
	if got := sameRevision(t, nodes, rev); got != rev {
		t.Fatalf("a refused change moved the catalog from %d to %d", rev, got)
	}

	f, err := configfile.Parse("reloaded.yaml", []byte(strings.Replace(sharedConfig, "from the file", "from the reloaded file", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := nodes[1].Reload(ctx, f.Bundle); err != nil {
		t.Fatalf("Reload on node 2: %v", err)
	}
	sameRevision(t, nodes, rev+1)
	for i, n := range nodes {
		if got := ping(t, n.WSURL+"/fromfile/dev"); got != "from the reloaded file" {
			t.Fatalf("node %d after node 2 reloaded its file answers %q", i+1, got)
		}
	}
	if got := ping(t, nodes[0].WSURL+"/"+apiID+"/dev"); got != `{"from":"node 1"}` {
		t.Fatalf("the control plane's API after a reload answers %q", got)
	}
}

// TestClusterConcurrentWrites makes routes on one API through two nodes at once: the compare-and-set
// conflicts are retried on the newer revision, so every call succeeds and no route is lost.
func TestClusterConcurrentWrites(t *testing.T) {
	nodes := gatewaytest.StartCluster(t, "apis: []\n", gatewaytest.ClusterAddrs(t, 3), gatewaytest.WithControlPlane)
	ctx := t.Context()
	cp1, cp2 := controlClient(nodes[0].ControlURL), controlClient(nodes[1].ControlURL)
	api, err := cp1.CreateApi(ctx, &apigatewayv2.CreateApiInput{
		Name: aws.String("busy"), ProtocolType: types.ProtocolTypeWebsocket, RouteSelectionExpression: aws.String("$request.body.action"),
	})
	if err != nil {
		t.Fatal(err)
	}
	sameRevision(t, nodes, 1)
	const each = 10
	var wg sync.WaitGroup
	errs := make(chan error, 2*each)
	for n, cp := range []*apigatewayv2.Client{cp1, cp2} {
		wg.Go(func() {
			for i := range each {
				_, err := cp.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: api.ApiId, RouteKey: aws.String(fmt.Sprintf("n%dr%d", n+1, i))})
				if err != nil {
					errs <- fmt.Errorf("CreateRoute through node %d: %w", n+1, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	sameRevision(t, nodes, 2)
	routes, err := controlClient(nodes[2].ControlURL).GetRoutes(ctx, &apigatewayv2.GetRoutesInput{ApiId: api.ApiId, MaxResults: aws.String("100")})
	if err != nil {
		t.Fatal(err)
	}
	if len(routes.Items) != 2*each {
		t.Fatalf("node 3 lists %d routes after %d were made through each of two nodes", len(routes.Items), each)
	}
}

// TestClusterCorruptCatalogEntry writes something that is not a catalog over the shared catalog's key:
// every node keeps serving (and stays ready), and the next change through any node replaces it.
func TestClusterCorruptCatalogEntry(t *testing.T) {
	nodes := gatewaytest.StartCluster(t, sharedConfig, gatewaytest.ClusterAddrs(t, 3), gatewaytest.WithControlPlane)
	ctx := t.Context()
	good := sameRevision(t, nodes, 1)
	js, err := jetstream.New(nodes[0].NATS())
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, natskv.DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := kv.Put(ctx, natskv.DefaultKey, []byte("this is not a catalog"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "foreign.key", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	// Nothing to wait for on the nodes but their answers: they must go on as they were.
	for i, n := range nodes {
		gatewaytest.Eventually(t, 10*time.Second, func() bool { return n.Gateway.ClusterStatus() == "" }, "node %d not ready", i+1)
		if got := ping(t, n.WSURL+"/fromfile/dev"); got != "from the file" {
			t.Fatalf("node %d after a corrupted revision answers %q", i+1, got)
		}
		if got := n.CatalogRevision(); got != good {
			t.Fatalf("node %d serves revision %d, want the last good %d", i+1, got, good)
		}
	}
	api, err := controlClient(nodes[1].ControlURL).CreateApi(ctx, &apigatewayv2.CreateApiInput{
		Name: aws.String("after"), ProtocolType: types.ProtocolTypeWebsocket, RouteSelectionExpression: aws.String("$request.body.action"),
	})
	if err != nil {
		t.Fatalf("CreateApi after a corrupted revision: %v", err)
	}
	sameRevision(t, nodes, bad+1)
	if _, err := controlClient(nodes[0].ControlURL).GetApi(ctx, &apigatewayv2.GetApiInput{ApiId: api.ApiId}); err != nil {
		t.Fatalf("node 1 does not know the API made after the corrupted revision: %v", err)
	}
}

// TestClusterQuota: a usage plan made through node 1 (the apigateway SDK) limits a key to 10 requests a
// day; node 2 uses them all; node 3, which has counted nothing itself, refuses the key too.
func TestClusterQuota(t *testing.T) {
	nodes := gatewaytest.StartCluster(t, meteredConfig, gatewaytest.ClusterAddrs(t, 3), gatewaytest.WithControlPlane)
	ctx := t.Context()
	v1 := apigateway.New(apigateway.Options{Region: "us-east-1", BaseEndpoint: aws.String(nodes[0].ControlURL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")})
	const value, limit = "cluster-quota-key-0123456789", 10
	key, err := v1.CreateApiKey(ctx, &apigateway.CreateApiKeyInput{Name: aws.String("k"), Value: aws.String(value), Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := v1.CreateUsagePlan(ctx, &apigateway.CreateUsagePlanInput{Name: aws.String("p"),
		Quota:     &apigwtypes.QuotaSettings{Limit: limit, Period: apigwtypes.QuotaPeriodTypeDay},
		ApiStages: []apigwtypes.ApiStage{{ApiId: aws.String("metered"), Stage: aws.String("dev")}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v1.CreateUsagePlanKey(ctx, &apigateway.CreateUsagePlanKeyInput{UsagePlanId: plan.Id, KeyId: key.Id, KeyType: aws.String("API_KEY")}); err != nil {
		t.Fatal(err)
	}
	sameRevision(t, nodes, 3)
	header := &websocket.DialOptions{HTTPHeader: http.Header{"X-Api-Key": {value}}}

	c := gatewaytest.Dial(t, nodes[1].WSURL+"/metered/dev", header) // 1 of 10
	for i := 1; i < limit; i++ {
		c.Send(`{"action":"ping"}`)
		if got := c.Read(); got != "pong" {
			t.Fatalf("ping %d on node 2, within the quota: %q", i, got)
		}
	}
	c.Send(`{"action":"ping"}`)
	if got := c.Read(); !frameRE("Limit Exceeded").MatchString(got) {
		t.Fatalf("ping on node 2 over the quota: %q", got)
	}
	// Node 2 reports its count to the usage bucket; wait until it is there.
	js, err := jetstream.New(nodes[2].NATS())
	if err != nil {
		t.Fatal(err)
	}
	gatewaytest.Eventually(t, 10*time.Second, func() bool { return reportedUsage(ctx, js) == limit }, "node 2's %d requests not reported", limit)
	// Node 3 follows the bucket: at most the few requests it takes before its watch delivers node 2's
	// report pass; without sharing it would take the whole quota again.
	// One handshake every 100 ms: a watch that delivers the report within a few of them lets a few pass;
	// a node that does not share counts lets all ten pass (a second) before its own count refuses.
	passed := 0
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	for deadline := time.Now().Add(20 * time.Second); ; <-poll.C {
		if time.Now().After(deadline) {
			t.Fatal("node 3 never refused the key whose quota node 2 used")
		}
		c, err := gatewaytest.TryDial(t, nodes[2].WSURL+"/metered/dev", header)
		if err == nil {
			passed++
			_ = c.Conn.Close(websocket.StatusNormalClosure, "")
			continue
		}
		if c.Response == nil || c.Response.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("handshake on node 3: %v, want 429 once the quota is used", err)
		}
		break
	}
	if passed >= limit {
		t.Fatalf("node 3 let %d handshakes through after node 2 used the quota of %d", passed, limit)
	}
	t.Logf("node 3 let %d handshakes through before its watch delivered node 2's report", passed)
}

// reportedUsage sums the counts in the usage bucket.
func reportedUsage(ctx context.Context, js jetstream.JetStream) int {
	kv, err := js.KeyValue(ctx, "switchboard_usage")
	if err != nil {
		return -1
	}
	keys, err := kv.Keys(ctx)
	if err != nil {
		return -1
	}
	total := 0
	for _, k := range keys {
		e, err := kv.Get(ctx, k)
		if err != nil {
			return -1
		}
		n, _ := strconv.Atoi(string(e.Value()))
		total += n
	}
	return total
}

// TestClusterNATSAway runs one node against an external NATS server that then stops: control-plane
// changes are refused with 503 ServiceUnavailableException at once, while reads and the data plane (a
// connection made before; new ones wait for NATS) keep serving the last catalog. When NATS is back,
// changes go through again, and the node follows another node's changes again.
func TestClusterNATSAway(t *testing.T) {
	storeDir := t.TempDir()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: storeDir, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS not ready")
	}
	defer ns.Shutdown()
	addr := ns.Addr().(*net.TCPAddr)
	g := gatewaytest.Start(t, sharedConfig, gatewaytest.WithControlPlane, func(o *gateway.Options) {
		o.Node = 7
		o.Cluster = &gateway.ClusterOptions{NATS: "nats://" + addr.String()}
	})
	gatewaytest.Eventually(t, 10*time.Second, func() bool { return g.ClusterStatus() == "" }, "the node did not join")
	cp := apigatewayv2.New(apigatewayv2.Options{Region: "us-east-1", BaseEndpoint: aws.String(g.ControlURL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")})
	ctx := t.Context()
	if _, err := cp.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("before"), ProtocolType: types.ProtocolTypeWebsocket,
		RouteSelectionExpression: aws.String("$request.body.action")}); err != nil {
		t.Fatalf("CreateApi with NATS there: %v", err)
	}

	c := gatewaytest.Dial(t, g.WSURL+"/fromfile/dev", nil)
	ns.Shutdown()
	gatewaytest.Eventually(t, 10*time.Second, func() bool { return !g.NATS().IsConnected() }, "the node did not notice NATS going")
	_, err = cp.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("refused"), ProtocolType: types.ProtocolTypeWebsocket,
		RouteSelectionExpression: aws.String("$request.body.action")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ServiceUnavailableException" {
		t.Fatalf("CreateApi with NATS away: err = %v, want ServiceUnavailableException", err)
	}
	apis, err := cp.GetApis(ctx, &apigatewayv2.GetApisInput{})
	if err != nil || len(apis.Items) != 2 {
		t.Fatalf("GetApis with NATS away = %v, %v; want the file's API and the one made before", apis, err)
	}
	c.Send(`{"action":"ping"}`)
	if got := c.Read(); got != "from the file" {
		t.Fatalf("the data plane with NATS away answers %q", got)
	}

	// NATS back, on the same port with the same storage.
	ns2, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: addr.Port, JetStream: true,
		StoreDir: storeDir, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns2.Start()
	defer ns2.Shutdown()
	gatewaytest.Eventually(t, 20*time.Second, func() bool { return g.ClusterStatus() == "" }, "the node did not come back: %s", g.ClusterStatus())
	var last error
	gatewaytest.Eventually(t, 20*time.Second, func() bool {
		_, err := cp.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("after"), ProtocolType: types.ProtocolTypeWebsocket,
			RouteSelectionExpression: aws.String("$request.body.action")})
		last = err
		return err == nil
	}, "changes are still refused with NATS back: %v", &last)
	other := gatewaytest.Start(t, sharedConfig, gatewaytest.WithControlPlane, func(o *gateway.Options) {
		o.Node = 8
		o.Cluster = &gateway.ClusterOptions{NATS: "nats://" + addr.String()}
	})
	gatewaytest.Eventually(t, 10*time.Second, func() bool { return other.ClusterStatus() == "" }, "the second node did not join")
	made, err := controlClient(other.ControlURL).CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("elsewhere"),
		ProtocolType: types.ProtocolTypeWebsocket, RouteSelectionExpression: aws.String("$request.body.action")})
	if err != nil {
		t.Fatal(err)
	}
	gatewaytest.Eventually(t, 10*time.Second, func() bool {
		_, err := cp.GetApi(ctx, &apigatewayv2.GetApiInput{ApiId: made.ApiId})
		return err == nil
	}, "the first node does not follow the other node's changes after NATS came back")
}

// TestClusterSameResourceThroughTwoNodes creates the same route keys and the same stage names through
// two nodes at once: for each, exactly one node succeeds and the other answers ConflictException after
// running its change again on the winner's revision; every node then lists each resource once.
func TestClusterSameResourceThroughTwoNodes(t *testing.T) {
	nodes := gatewaytest.StartCluster(t, "apis: []\n", gatewaytest.ClusterAddrs(t, 3), gatewaytest.WithControlPlane)
	ctx := t.Context()
	cps := []*apigatewayv2.Client{controlClient(nodes[0].ControlURL), controlClient(nodes[1].ControlURL)}
	api, err := cps[0].CreateApi(ctx, &apigatewayv2.CreateApiInput{
		Name: aws.String("contested"), ProtocolType: types.ProtocolTypeWebsocket, RouteSelectionExpression: aws.String("$request.body.action"),
	})
	if err != nil {
		t.Fatal(err)
	}
	sameRevision(t, nodes, 1)
	const each = 8
	for _, kind := range []string{"route", "stage"} {
		t.Run(kind, func(t *testing.T) {
			var mu sync.Mutex
			wins := map[string]int{}
			var wg sync.WaitGroup
			for _, cp := range cps {
				wg.Go(func() {
					for i := range each {
						name := fmt.Sprintf("%s%d", kind, i)
						var err error
						if kind == "route" {
							_, err = cp.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: api.ApiId, RouteKey: aws.String(name)})
						} else {
							_, err = cp.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: api.ApiId, StageName: aws.String(name)})
						}
						var ae smithy.APIError
						switch {
						case err == nil:
							mu.Lock()
							wins[name]++
							mu.Unlock()
						case errors.As(err, &ae) && ae.ErrorCode() == "ConflictException":
						default:
							t.Errorf("create %s %s: %v, want success or ConflictException", kind, name, err)
						}
					}
				})
			}
			wg.Wait()
			for i := range each {
				if name := fmt.Sprintf("%s%d", kind, i); wins[name] != 1 {
					t.Errorf("%s %s created %d times through two nodes at once, want exactly once", kind, name, wins[name])
				}
			}
			rev := sameRevision(t, nodes, 2)
			for j, n := range nodes {
				cp := controlClient(n.ControlURL)
				got := map[string]int{}
				if kind == "route" {
					out, err := cp.GetRoutes(ctx, &apigatewayv2.GetRoutesInput{ApiId: api.ApiId, MaxResults: aws.String("100")})
					if err != nil {
						t.Fatal(err)
					}
					for _, r := range out.Items {
						got[aws.ToString(r.RouteKey)]++
					}
				} else {
					out, err := cp.GetStages(ctx, &apigatewayv2.GetStagesInput{ApiId: api.ApiId, MaxResults: aws.String("100")})
					if err != nil {
						t.Fatal(err)
					}
					for _, s := range out.Items {
						got[aws.ToString(s.StageName)]++
					}
				}
				if len(got) != each {
					t.Errorf("node %d at revision %d lists %d %ss, want %d: %v", j+1, rev, len(got), kind, each, got)
				}
				for name, n := range got {
					if n != 1 {
						t.Errorf("node %d lists %s %s %d times", j+1, kind, name, n)
					}
				}
			}
		})
	}
}
