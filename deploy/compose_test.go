package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/contracts/synth"
	"github.com/laborlink/laborlink/gateway/api"
	"github.com/laborlink/laborlink/gateway/devfed"
)

// Bounds on each step; the whole test normally takes well under a minute
// once the image is built.
const (
	buildTimeout   = 15 * time.Minute // a cold Go build cache compiles OPA and cfssl
	commandTimeout = 2 * time.Minute
	readyTimeout   = 90 * time.Second
	deliverTimeout = 60 * time.Second
)

// TestComposeFederation builds the image, brings up compose.yaml's three
// provinces, approves the sample agreements, and sends records from 51 to
// 44 across a stop and start of p44's container: every record must arrive
// exactly once, with the digest it was sent with.
func TestComposeFederation(t *testing.T) {
	c := newCompose(t)
	c.build(t)
	c.up(t)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	provinces := []string{"51", "44", "33"}
	urls := map[string]string{}
	for _, p := range provinces {
		urls[p] = c.waitReady(ctx, t, "p"+p)
	}
	l, err := devfed.ReadLayout(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := l.Connect(urls)
	if err != nil {
		t.Fatal(err)
	}
	f.Patience = deliverTimeout
	gens, err := f.Agree(ctx)
	if err != nil {
		t.Fatalf("approve the sample agreements: %v", err)
	}
	g := gens["44"]

	before := sendTransfers(ctx, t, f, g, 5)
	if err := f.WaitDelivered(ctx, "51", before); err != nil {
		t.Fatal(err)
	}

	c.compose(t, "stop", "p44")
	during := sendTransfers(ctx, t, f, g, 5)
	sys := systemClient(t, f, "51")
	for _, id := range during {
		if v, err := sys.Record(ctx, id); err != nil || v.State == "delivered" {
			t.Fatalf("record %s while p44 is stopped: state %q, err %v; want it queued", id, v.State, err)
		}
	}
	c.compose(t, "start", "p44")
	// A restarted container gets new published ports.
	urls["44"] = c.waitReady(ctx, t, "p44")
	if f, err = l.Connect(urls); err != nil {
		t.Fatal(err)
	}
	f.Patience = deliverTimeout
	after := sendTransfers(ctx, t, f, g, 3)

	sent := append(append(append([]string{}, before...), during...), after...)
	if err := f.WaitDelivered(ctx, "51", sent); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(ctx, t, f, sent)
}

// sendTransfers submits n transfers from 51 to 44 and returns their envelope ids.
func sendTransfers(ctx context.Context, t *testing.T, f *devfed.Federation, g *synth.Generator, n int) []string {
	t.Helper()
	var docs []any
	for range n {
		docs = append(docs, g.Transfer())
	}
	ids, err := f.Submit(ctx, "51", docs...)
	if err != nil {
		t.Fatalf("submit transfers to 44: %v", err)
	}
	return ids
}

// checkExactlyOnce reads p44's whole inbox: every sent envelope is there
// once, its signed payload digest is the one p51 holds a receipt for, and
// the receipt matches the envelope.
func checkExactlyOnce(ctx context.Context, t *testing.T, f *devfed.Federation, sent []string) {
	t.Helper()
	origin, dest := systemClient(t, f, "51"), systemClient(t, f, "44")
	seen := map[string]int{}
	digests := map[string]string{}
	var after uint64
	for {
		page, err := dest.Inbox(ctx, after, 100)
		if err != nil {
			t.Fatalf("p44 inbox: %v", err)
		}
		for _, it := range page.Items {
			seen[it.EnvelopeID]++
			env, err := contracts.DecodeEnvelope(it.Envelope)
			if err != nil {
				t.Fatalf("p44 inbox envelope %s: %v", it.EnvelopeID, err)
			}
			digests[it.EnvelopeID] = env.PayloadDigest
		}
		if len(page.Items) == 0 || page.Next <= after {
			break
		}
		after = page.Next
	}
	for _, id := range sent {
		if seen[id] != 1 {
			t.Errorf("envelope %s is in p44's inbox %d times, want once", id, seen[id])
			continue
		}
		v, err := origin.Record(ctx, id)
		if err != nil {
			t.Fatalf("p51 record %s: %v", id, err)
		}
		r, err := contracts.DecodeReceipt(v.Receipt)
		if err != nil {
			t.Fatalf("p51's receipt for %s: %v", id, err)
		}
		if v.State != "delivered" || r.PayloadDigest != digests[id] || r.EnvelopeID != id {
			t.Errorf("envelope %s: p51 says %s with receipt for %s digest %s; p44 holds digest %s", id, v.State, r.EnvelopeID, r.PayloadDigest, digests[id])
		}
	}
	if len(seen) != len(sent) {
		t.Errorf("p44's inbox holds %d envelopes, want the %d sent", len(seen), len(sent))
	}
}

func systemClient(t *testing.T, f *devfed.Federation, province string) *api.Client {
	t.Helper()
	cl, err := f.APIClient(province, f.Certs[province].System)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// compose runs compose.yaml as a project of its own, in a federation
// directory of its own.
type compose struct {
	cmd     []string // "docker compose" or "docker-compose"
	project string
	dir     string
	env     []string
}

// newCompose finds Docker and a compose command, or fails: CI starts a
// daemon for this test, so a missing one is an error, not a reason to skip.
func newCompose(t *testing.T) *compose {
	t.Helper()
	if out, err := run(commandTimeout, nil, "docker", "info", "--format", "{{.ServerVersion}}"); err != nil {
		t.Fatalf("Docker is not available, and this test needs a running Docker daemon (start dockerd; .ci/run does): docker info: %v\n%s", err, out)
	}
	c := &compose{project: fmt.Sprintf("lltest%d%d", os.Getpid(), time.Now().UnixNano()%1_000_000), dir: t.TempDir()}
	switch {
	case ok("docker", "compose", "version"):
		c.cmd = []string{"docker", "compose"}
	case ok("docker-compose", "version"):
		c.cmd = []string{"docker-compose"}
	default:
		t.Fatal("neither `docker compose` nor `docker-compose` works; install the compose plugin or docker-compose")
	}
	// The containers must be able to write the federation directory: as
	// root, hand it to the image's user; otherwise run them as ourselves.
	c.env = append(os.Environ(), "LABORLINK_DIR="+c.dir, "LABORLINK_IMAGE=laborlink:dev")
	if os.Getuid() == 0 {
		if err := os.Chown(c.dir, 65532, 65532); err != nil {
			t.Fatal(err)
		}
	} else {
		c.env = append(c.env, fmt.Sprintf("LABORLINK_USER=%d:%d", os.Getuid(), os.Getgid()))
	}
	return c
}

func (c *compose) build(t *testing.T) {
	t.Helper()
	start := time.Now()
	if out, err := run(buildTimeout, c.env, "sh", "./build.sh"); err != nil {
		t.Fatalf("deploy/build.sh: %v\n%s", err, out)
	}
	t.Logf("image built in %s", time.Since(start).Round(time.Second))
}

// up starts the federation and registers its teardown, which first prints
// the nodes' logs if the test failed.
func (c *compose) up(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := run(commandTimeout, c.env, c.args("logs", "--no-color", "--tail", "40")...)
			t.Logf("compose logs:\n%s", out)
		}
		if out, err := run(commandTimeout, c.env, c.args("down", "--volumes", "--timeout", "20")...); err != nil {
			t.Errorf("compose down: %v\n%s", err, out)
		}
	})
	c.compose(t, "up", "--detach")
}

func (c *compose) args(args ...string) []string {
	return append(append(append([]string{}, c.cmd...), "--project-name", c.project, "--file", "compose.yaml"), args...)
}

func (c *compose) compose(t *testing.T, args ...string) string {
	t.Helper()
	out, err := run(commandTimeout, c.env, c.args(args...)...)
	if err != nil {
		t.Fatalf("compose %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// port is the host address a service's container port is published on.
func (c *compose) port(t *testing.T, service string, port int) string {
	t.Helper()
	addr := strings.TrimSpace(c.compose(t, "port", service, fmt.Sprint(port)))
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("%s's port %d is published on %q, want 127.0.0.1 only", service, port, addr)
	}
	return addr
}

// waitReady polls a node's /readyz on its published ops port and returns
// the URL of its API.
func (c *compose) waitReady(ctx context.Context, t *testing.T, service string) string {
	t.Helper()
	ops := c.port(t, service, 9090)
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ops+"/readyz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			var b bytes.Buffer
			b.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return "https://" + c.port(t, service, 8443)
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(b.String()))
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s not ready within %s: %s", service, readyTimeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func run(timeout time.Duration, env []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %s: %w", timeout, err)
	}
	return out.String(), err
}

func ok(args ...string) bool {
	_, err := run(30*time.Second, nil, args...)
	return err == nil
}
