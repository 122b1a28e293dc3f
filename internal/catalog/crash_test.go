package catalog_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/catalog"
	"github.com/switchboard-gw/switchboard/internal/resource"
)

// crashFileEnv names the catalog file TestHelperProcess writes to; set only in the child process.
const crashFileEnv = "SWITCHBOARD_CATALOG_CRASH_FILE"

// crashRoutes is how many routes each write's API has: enough to make every save write a good deal.
const crashRoutes = 10

// crashAPIID is the id of the API that write number n adds.
func crashAPIID(n int) string { return "w" + strconv.Itoa(n) }

// announcingStore is the child's FileStore: it says on stdout when a save starts, so that the parent can
// kill the child in the middle of one.
type announcingStore struct {
	*catalog.FileStore
	next *int
}

func (s announcingStore) Save(ctx context.Context, data []byte, revision uint64) (uint64, error) {
	fmt.Printf("saving %d\n", *s.next)
	return s.FileStore.Save(ctx, data, revision)
}

// TestHelperProcess is not a test: TestCrashSafety runs the test binary again with only this function and
// crashFileEnv set. It opens the catalog in that file and adds one API per Write, forever, printing
// "done N" after Write number N returns (and "saving N" when its save starts), until it is killed.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(crashFileEnv)
	if path == "" {
		return
	}
	fail := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
		os.Exit(2)
	}
	next := 0
	c, err := catalog.Open(context.Background(), catalog.Options{Store: announcingStore{&catalog.FileStore{Path: path}, &next}}, nil)
	if err != nil {
		fail("open: %v", err)
	}
	c.Read(func(st *catalog.State) { next = len(st.APIs) + 1 })
	for ; ; next++ {
		err := c.Write(context.Background(), func(st *catalog.State) error {
			a := &catalog.API{API: crashAPI(crashAPIID(next)), Source: catalog.SourceAPI}
			a.Stages = []resource.Stage{{StageName: "s", AutoDeploy: true}}
			st.APIs = append(st.APIs, a)
			return nil
		})
		if err != nil {
			fail("write %d: %v", next, err)
		}
		fmt.Printf("done %d\n", next) // os.Stdout is not buffered: the line is out when Printf returns
	}
}

// crashAPI is an API with crashRoutes routes, each with its own integration.
func crashAPI(id string) resource.API {
	a := resource.API{APIID: id, Name: id, ProtocolType: resource.ProtocolWebSocket, RouteSelectionExpression: "$request.body.action"}
	for i := range crashRoutes {
		in := fmt.Sprintf("i%d", i)
		a.Integrations = append(a.Integrations, resource.Integration{IntegrationID: in, IntegrationType: resource.IntegrationMock,
			RequestTemplates: map[string]string{"$default": fmt.Sprintf(`{"statusCode": 200, "route": %d, "padding": %q}`, i, strings.Repeat("x", 256))}})
		a.Routes = append(a.Routes, resource.Route{RouteID: fmt.Sprintf("r%d", i), RouteKey: fmt.Sprintf("action%d", i), Target: "integrations/" + in})
	}
	return a
}

// TestCrashSafety kills a process that keeps writing the catalog, at different moments of a write (in
// the middle of a save, between writes), several times over; after every kill the catalog must open and
// hold at least every write the process reported complete, each one whole.
func TestCrashSafety(t *testing.T) {
	if os.Getenv(crashFileEnv) != "" {
		t.Skip("in the helper process")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "catalog.json")
	completed := 0 // the highest write any child reported complete
	const rounds = 8
	for round := range rounds {
		// Kill during the save of a write, or right after a write returned; a few writes into the round.
		trigger := "saving"
		if round%2 == 1 {
			trigger = "done"
		}
		killAt := completed + 2 + round%3
		last := runUntilKilled(t, path, trigger, killAt)
		if last < completed {
			t.Fatalf("round %d: the child reported write %d, fewer than the %d completed before", round, last, completed)
		}
		completed = last

		c, err := catalog.Open(t.Context(), catalog.Options{Store: &catalog.FileStore{Path: path}}, nil)
		if err != nil {
			t.Fatalf("round %d: open after a kill with %d writes complete: %v", round, completed, err)
		}
		c.Read(func(st *catalog.State) {
			if n := len(st.APIs); n < completed || n > completed+1 {
				t.Fatalf("round %d: %d APIs, want %d (or one more, written but not yet reported)", round, n, completed)
			}
			for i, a := range st.APIs {
				if want := crashAPIID(i + 1); a.APIID != want || len(a.Routes) != crashRoutes || len(a.Integrations) != crashRoutes ||
					len(a.Deployments) != 1 || len(a.Deployments[0].Routes) != crashRoutes {
					t.Fatalf("round %d: API %d is %s with %d routes, %d integrations, %d deployments; want %s whole", round, i, a.APIID,
						len(a.Routes), len(a.Integrations), len(a.Deployments), want)
				}
			}
		})
		if got := dirNames(t, dir); len(got) != 1 {
			t.Errorf("round %d: directory holds %v, want only catalog.json", round, got)
		}
	}
}

// runUntilKilled runs TestHelperProcess on path and kills it with SIGKILL as soon as it prints
// "{trigger} {killAt}". It returns the number of the last write the child reported complete before it
// died.
func runUntilKilled(t *testing.T, path, trigger string, killAt int) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), crashFileEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	last, killed := 0, false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		word, num, ok := strings.Cut(sc.Text(), " ")
		n, err := strconv.Atoi(num)
		if !ok || err != nil {
			continue // not ours (the testing package's own output)
		}
		if word == "done" {
			last = n
		}
		if !killed && word == trigger && n == killAt {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
			// Reading goes on until the pipe closes: the child may have gone on writing (and reporting)
			// between the line read here and the kill, on a loaded machine several writes.
		}
	}
	_, _ = io.Copy(io.Discard, stdout)
	err = cmd.Wait()
	if !killed {
		t.Fatalf("the child stopped before write %d (%v): %s", killAt, err, stderr.Bytes())
	}
	// Reading on past the trigger, a child that failed a write on its own (exit 2) between the trigger
	// and the kill would otherwise pass for one the kill stopped.
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the child ended by itself, not by the kill (%v): %s", err, stderr.Bytes())
	}
	return last
}
