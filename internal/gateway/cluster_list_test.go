package gateway_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/gateway"
	"github.com/switchboard-gw/switchboard/internal/gatewaytest"
)

// listPage fetches one ListConnections page through base: the IDs listed and the next token.
func listPage(t *testing.T, base, query string) ([]string, string) {
	t.Helper()
	resp, err := http.Get(base + "/c/dev/@connections" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ListConnections%s: %d %s", query, resp.StatusCode, body)
	}
	var out struct {
		Items []struct {
			ConnectionID string `json:"connectionId"`
			Identity     struct {
				SourceIP string `json:"sourceIp"`
			} `json:"identity"`
		} `json:"items"`
		NextToken string `json:"nextToken"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("ListConnections%s: %v in %s", query, err, body)
	}
	var ids []string
	for _, it := range out.Items {
		if it.Identity.SourceIP != "127.0.0.1" {
			t.Fatalf("ListConnections%s: item %s has sourceIp %q", query, it.ConnectionID, it.Identity.SourceIP)
		}
		ids = append(ids, it.ConnectionID)
	}
	return ids, out.NextToken
}

// TestClusterListConnections: three nodes, two connections on each; ListConnections through any node
// pages through all six in connection ID order, whichever node owns them, and the nextToken one node
// hands out is honoured by another.
func TestClusterListConnections(t *testing.T) {
	cl := startClusterWith(t, gatewaytest.NewBackend(t, nil), clusterWith{})
	nodes := cl.nodes
	var want []string
	for _, n := range nodes {
		_, ids := cl.dialN(t, n, 2)
		want = append(want, ids...)
	}
	slices.Sort(want)

	for i, via := range nodes {
		ids, next := listPage(t, via.HTTPURL, "")
		if !slices.Equal(ids, want) || next != "" {
			t.Fatalf("one page via node %d: %v (next %q), want %v", i+1, ids, next, want)
		}
	}
	// Pages of two, each asked of the next node with the previous node's token.
	var got []string
	query := "?maxResults=2"
	for page := 0; ; page++ {
		if page > len(want) {
			t.Fatalf("more pages than connections: %v", got)
		}
		ids, next := listPage(t, nodes[page%3].HTTPURL, query)
		got = append(got, ids...)
		if next == "" {
			break
		}
		if last, _ := base64.RawURLEncoding.DecodeString(next); string(last) != ids[len(ids)-1] {
			t.Fatalf("page %d: nextToken %q is not the last ID listed (%s)", page, next, ids[len(ids)-1])
		}
		query = "?maxResults=2&nextToken=" + next
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged via every node: %v, want %v", got, want)
	}
}

// TestClusterConsole: the development console of one node lists every node's connections and its Post
// and Disconnect actions reach a connection on another node.
func TestClusterConsole(t *testing.T) {
	cl := startClusterWith(t, gatewaytest.NewBackend(t, nil), clusterWith{options: []func(*gateway.Options){gatewaytest.WithControlPlane}})
	nodes := cl.nodes
	clients, ids := cl.dialEach(t, nodes)
	console := nodes[0].ControlURL + "/console/"
	resp, err := http.Get(console + "api/state")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var state struct {
		Connections []struct {
			ID    string `json:"connectionId"`
			APIID string `json:"apiId"`
			Stage string `json:"stage"`
		} `json:"connections"`
	}
	if err := json.Unmarshal(body, &state); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("console state: %d %v %s", resp.StatusCode, err, body)
	}
	var listed []string
	for _, c := range state.Connections {
		if c.APIID != "c" || c.Stage != "dev" {
			t.Fatalf("console lists %s in %s/%s", c.ID, c.APIID, c.Stage)
		}
		listed = append(listed, c.ID)
	}
	slices.Sort(listed)
	want := slices.Sorted(slices.Values(ids))
	if !slices.Equal(listed, want) {
		t.Fatalf("console of node 1 lists %v, want every node's %v", listed, want)
	}

	action := func(id, act, data string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, console+"api/connections/"+id+"/"+act, strings.NewReader(data))
		req.Header.Set("X-Switchboard-Console", "1")
		return sendRequest(t, req)
	}
	if code, body := action(ids[2], "post", "from node 1's console"); code != http.StatusOK {
		t.Fatalf("console post to node 3's connection: %d %s", code, body)
	}
	if got := clients[2].Read(); got != "from node 1's console" {
		t.Fatalf("node 3's client read %q", got)
	}
	if code, body := action(ids[1], "disconnect", ""); code != http.StatusOK {
		t.Fatalf("console disconnect of node 2's connection: %d %s", code, body)
	}
	if code := clients[1].ExpectClose(); code != 1000 {
		t.Fatalf("node 2's client closed with %d, want 1000", code)
	}
	if code, body := action(ids[1], "post", "too late"); code != http.StatusGone {
		t.Fatalf("console post to the disconnected connection: %d %s", code, body)
	}
}
