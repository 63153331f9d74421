// Package docs_test keeps the guides honest: it runs their commands against
// a real development federation and checks docs/configuration.md against
// node.Config.
//
// # Fenced blocks the test reads
//
// A guide marks what the test runs in the info string of a fenced block:
//
//	```sh tested                   run it; it must exit 0
//	```sh tested exit=1            it must exit 1
//	```sh tested expect="now active"  its output (stdout and stderr) must contain the text; repeatable
//	```sh tested setup             run it, and put it in front of every later tested block of the guide
//	```yaml file=pact.yaml         write the block to pact.yaml in the guide's working directory
//
// Blocks without "tested" are shown, never run: production commands with
// your own hosts and files, and the start of `laborlink dev` itself. Each
// tested block runs in `sh` with `set -e`, in a working directory of its
// own per guide, with the laborlink binary first on PATH and D set to the
// development federation's directory, as a reader's shell would have after
// `export D=...`. PORT_1, PORT_2 and PORT_3 hold loopback ports that were
// free when the guide started, for a guide that runs a node of its own (a
// reader picks any free ports). A block that starts a process in the
// background writes its process id to a file NAME.pid in the working
// directory; after the guide the test stops every such process still
// running, so a failed block leaks no node. GitHub renders only the first
// word of an info string, so the markers stay invisible to readers.
//
// `go test -v -run TestGuides ./docs` logs every block's output: the real
// text to paste as "what you'll see".
package docs_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/laborlink/laborlink/federation/freeport"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
)

// guides are run in this order against one development federation. The
// admin guide comes first: the auditor guide must hold also after its
// denials and agreement changes. The operator guide comes last: it rotates
// a node's certificate, moves the registry's leadership and restores a
// registry backup, which the others must not see.
var guides = []string{"admin-guide.md", "auditor-guide.md", "configuration.md", "operator-guide.md"}

// mustCover are commands each guide has to run in tested blocks: the
// guides exist to show them.
var mustCover = map[string][]string{
	"admin-guide.md": {"agreement propose", "agreement approve", "agreement list", "agreement show",
		"agreement suspend", "agreement resume", "agreement amend", "agreement terminate", "records submit"},
	"auditor-guide.md": {"audit query", "audit stats", "audit export --format csv", "audit export --format jsonl",
		"audit verify", "--save-head", "--earlier", "audit reconcile --a 51 --b 44", "audit reconcile --with 44"},
	"operator-guide.md": {"registry admit", "registry issued", "registry revoke", "pki csr --province 32", "pki sign-province", "pki issue", "--out $D/p33/tls --force", "pki revoke",
		"registry members", "registry join", "registry remove", "registry status",
		"registry transfer-leadership", "registry backup", "registry restore"},
}

// block is one fenced block of a guide.
type block struct {
	guide   string
	line    int
	lang    string
	tested  bool
	setup   bool
	exit    int
	expects []string
	file    string
	body    string
}

func (b block) String() string { return fmt.Sprintf("%s:%d", b.guide, b.line) }

var attrRE = regexp.MustCompile(`(\w+)=(?:"([^"]*)"|(\S+))|(\S+)`)

// parseBlocks reads every fenced block of a markdown file.
func parseBlocks(t *testing.T, guide string) []block {
	t.Helper()
	data, err := os.ReadFile(guide)
	if err != nil {
		t.Fatal(err)
	}
	var out []block
	var cur *block
	var body []string
	for i, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == nil {
			if !strings.HasPrefix(trimmed, "```") {
				continue
			}
			cur = &block{guide: guide, line: i + 1}
			info := strings.TrimPrefix(trimmed, "```")
			for j, m := range attrRE.FindAllStringSubmatch(info, -1) {
				switch {
				case j == 0 && m[4] != "":
					cur.lang = m[4]
				case m[4] == "tested":
					cur.tested = true
				case m[4] == "setup":
					cur.setup = true
				case m[1] == "exit":
					if cur.exit, err = strconv.Atoi(m[3]); err != nil {
						t.Fatalf("%s:%d: exit=%q is not a number", guide, i+1, m[3])
					}
				case m[1] == "expect":
					cur.expects = append(cur.expects, m[2]+m[3])
				case m[1] == "file":
					cur.file = m[2] + m[3]
				default:
					t.Fatalf("%s:%d: unknown marker %q in %q", guide, i+1, m[0], info)
				}
			}
			body = nil
			continue
		}
		if trimmed == "```" {
			cur.body = strings.Join(body, "\n") + "\n"
			out = append(out, *cur)
			cur = nil
			continue
		}
		body = append(body, line)
	}
	if cur != nil {
		t.Fatalf("%s:%d: the fenced block is never closed", guide, cur.line)
	}
	return out
}

// TestGuides runs every tested command of the guides against a
// development federation started with `laborlink dev --dir D`, as a reader
// would, then stops it with Ctrl-C.
func TestGuides(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a federation")
	}
	bin := buildBinary(t)
	dir := filepath.Join(t.TempDir(), "fed")
	dev := startDev(t, bin, dir)

	t.Run("printed-commands", func(t *testing.T) {
		if len(dev.commands) == 0 {
			t.Fatalf("laborlink dev printed no commands to try:\n%s", dev.output())
		}
		for _, c := range dev.commands {
			args := strings.Fields(c)[1:]
			out, err := exec.Command(bin, args...).CombinedOutput()
			if err != nil {
				t.Errorf("%s: %v\n%s", c, err, out)
			}
		}
	})

	for _, g := range guides {
		t.Run(strings.TrimSuffix(g, ".md"), func(t *testing.T) {
			runGuide(t, g, filepath.Dir(bin), dir)
		})
	}

	t.Run("ctrl-c", func(t *testing.T) {
		start := time.Now()
		code, err := dev.interrupt(time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if code != 0 {
			t.Fatalf("laborlink dev exited %d after SIGINT:\n%s", code, dev.output())
		}
		if !strings.Contains(dev.output(), "Stopped.") {
			t.Errorf("laborlink dev did not say it stopped:\n%s", dev.output())
		}
		t.Logf("laborlink dev stopped %s after SIGINT", time.Since(start).Round(100*time.Millisecond))
	})
}

// runGuide runs a guide's tested blocks in order in one working directory.
func runGuide(t *testing.T, guide, binDir, fedDir string) {
	work := t.TempDir()
	env := []string{"D=" + fedDir, "PATH=" + binDir + string(os.PathListSeparator) + os.Getenv("PATH")}
	for i, p := range freePorts(t, 3) {
		env = append(env, fmt.Sprintf("PORT_%d=%d", i+1, p))
	}
	defer stopBackground(t, work)
	var setup strings.Builder
	var ran strings.Builder
	for _, b := range parseBlocks(t, guide) {
		if b.file != "" {
			if err := os.WriteFile(filepath.Join(work, b.file), []byte(b.body), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if !b.tested {
			continue
		}
		if b.lang != "sh" {
			t.Fatalf("%s: only sh blocks can be tested, this one is %q", b, b.lang)
		}
		ran.WriteString(b.body)
		out, code := runBlock(t, setup.String()+b.body, work, env)
		if testing.Verbose() { // what a writer pastes as "what you'll see"
			t.Logf("%s: exit %d\n%s", b, code, out)
		}
		switch {
		case code != b.exit:
			t.Errorf("%s: exit status %d, the guide says %d\n--- block:\n%s--- output:\n%s", b, code, b.exit, b.body, out)
		default:
			for _, want := range b.expects {
				if !strings.Contains(out, want) {
					t.Errorf("%s: the output does not contain %q\n--- block:\n%s--- output:\n%s", b, want, b.body, out)
				}
			}
		}
		if b.setup {
			setup.WriteString(b.body)
		}
	}
	for _, c := range mustCover[guide] {
		if !strings.Contains(ran.String(), c) {
			t.Errorf("%s runs no %q in a tested block", guide, c)
		}
	}
}

// runBlock runs a block in sh with env added to the test's environment
// and returns its combined output and exit status.
func runBlock(t *testing.T, script, work string, env []string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", "set -e\n"+script)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	t.Fatalf("run sh: %v", err)
	return "", -1
}

// freePorts returns n loopback ports that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		var err error
		if ports[i], err = freeport.Port(); err != nil {
			t.Fatal(err)
		}
	}
	return ports
}

// stopBackground stops the processes whose ids the guide's blocks left in
// *.pid files of its working directory: SIGTERM, then SIGKILL after 10 s.
func stopBackground(t *testing.T, work string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(work, "*.pid"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Error(err)
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 1 {
			t.Errorf("%s holds no process id: %q", f, b)
			continue
		}
		if syscall.Kill(pid, syscall.SIGTERM) != nil {
			continue // already gone
		}
		deadline := time.Now().Add(10 * time.Second)
		for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if syscall.Kill(pid, 0) == nil {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("process %d of %s did not stop within 10 s of SIGTERM; killed it", pid, filepath.Base(f))
		}
	}
}

// buildBinary builds laborlink into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "laborlink")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/laborlink")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// devProcess is a running `laborlink dev`.
type devProcess struct {
	cmd      *exec.Cmd
	lines    chan string
	exited   chan struct{} // closed when the process has exited; err is then set
	err      error
	out      *gatewaytest.Buffer
	commands []string
}

// startDev starts `laborlink dev --dir dir` and waits until it has printed
// that it is ready and the commands to try.
func startDev(t *testing.T, bin, dir string) *devProcess {
	t.Helper()
	cmd := exec.Command(bin, "dev", "--dir", dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d := &devProcess{cmd: cmd, lines: make(chan string, 100), exited: make(chan struct{}), out: &gatewaytest.Buffer{}}
	cmd.Stderr = d.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			d.out.Write([]byte(sc.Text() + "\n"))
			d.lines <- sc.Text()
		}
		close(d.lines)
		d.err = cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-d.exited:
		default:
			cmd.Process.Kill()
			go func() { // unblock the reader if nobody else reads
				for range d.lines {
				}
			}()
			<-d.exited
		}
	})
	timeout := time.After(2 * time.Minute)
	ready := false
	for {
		select {
		case line, ok := <-d.lines:
			if !ok {
				t.Fatalf("laborlink dev exited before it was ready:\n%s", d.output())
			}
			switch {
			case strings.Contains(line, "ready"):
				ready = true
			case ready && strings.HasPrefix(line, "laborlink "):
				d.commands = append(d.commands, line)
			case ready && strings.Contains(line, "Ctrl-C"):
				go func() { // keep draining what it prints on the way out
					for range d.lines {
					}
				}()
				return d
			}
		case <-timeout:
			t.Fatalf("laborlink dev was not ready within 2 minutes:\n%s", d.output())
		}
	}
}

func (d *devProcess) output() string { return d.out.String() }

// interrupt sends SIGINT and returns the exit status.
func (d *devProcess) interrupt(patience time.Duration) (int, error) {
	if err := d.cmd.Process.Signal(syscall.SIGINT); err != nil {
		return -1, err
	}
	select {
	case <-d.exited:
		var ee *exec.ExitError
		if errors.As(d.err, &ee) {
			return ee.ExitCode(), nil
		}
		return 0, d.err
	case <-time.After(patience):
		return -1, fmt.Errorf("laborlink dev did not stop within %s of SIGINT:\n%s", patience, d.output())
	}
}
