package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// Version is the release version, set at build time with
// -ldflags "-X main.Version=v1.2.3".
var Version = "dev"

// Main is the program: its streams and environment are fields so that tests
// drive the same code the binary runs.
type Main struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// LookupEnv reads the environment (os.LookupEnv); tests replace it,
	// and nil is none.
	LookupEnv func(string) (string, bool)
	// Environ lists the environment ("NAME=value" each); nil for none.
	Environ func() []string
	// Now is the clock synth dates an agreement by (its default --today);
	// tests replace it, and nil is time.Now. Other commands read
	// time.Now themselves.
	Now func() time.Time
}

// now is the time by m's clock.
func (m *Main) now() time.Time {
	if m.Now == nil {
		return time.Now()
	}
	return m.Now()
}

// NewMain returns a Main wired to the process's standard streams.
func NewMain() *Main {
	return &Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, LookupEnv: os.LookupEnv, Environ: os.Environ}
}

// getenv is the value of an environment variable, "" if it is not set.
func (m *Main) getenv(name string) string {
	if m.LookupEnv == nil {
		return ""
	}
	v, _ := m.LookupEnv(name)
	return v
}

// command is one subcommand: its name, a one-line summary for help, and what it runs.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, m *Main, args []string) error
}

// commands lists every subcommand, in the order help shows them.
func commands() []command {
	return []command{
		{"dev", "run a development federation of three provinces on this machine", runDev},
		{"node", "run a gateway node from its config file", runNode},
		{"records", "submit records and follow their delivery, receipts and confirmations", runRecords},
		{"inbox", "read what arrived from other provinces", runInbox},
		{"cases", "list the rights-case referrals, sent and received: status, deadline, overdue and diverged", runCases},
		{"status", "a node's peers, queues, dead letters, breakers, registry and policy", runStatus},
		{"deadletters", "list, requeue or discard the envelopes delivery gave up on (operators)", runDeadLetters},
		{"agreement", "propose, approve, suspend, resume, terminate, amend and list agreements", runAgreement},
		{"registry", "federation registry: status, members, levels, admit, expel, join, promote, demote, remove, revoke, issued, transfer-leadership, backup, restore", runRegistry},
		{"policy", "test, dry-run, push and show the policies that decide what crosses", runPolicy},
		{"audit", "query, verify, export and reconcile audit logs (auditors)", runAudit},
		{"pki", "federation PKI: root, province CAs, certificates, revocation", runPKI},
		{"synth", "write valid synthetic records as JSON lines", runSynth},
		{"validate", "check records in a file against their contracts", runValidate},
		{"bench", "measure records per second over the real path against a bare mTLS ceiling", runBench},
		{"version", "print the version", runVersion},
		{"help", "show the commands, or one command's flags", runHelp},
	}
}

// exitError carries an exit status other than 1 out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErrorf reports a misuse of the command line; it exits with status 2.
func usageErrorf(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

// Run executes the subcommand named by args[0] and returns the process exit status.
func (m *Main) Run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		m.usage(m.Stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help": // what a newcomer types first
		name = "help"
	}
	cmd, ok := lookup(name)
	if !ok {
		fmt.Fprintf(m.Stderr, "laborlink: unknown command %q; run 'laborlink help' for the list\n", args[0])
		return 2
	}
	err := cmd.run(ctx, m, args[1:])
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(m.Stderr, "laborlink %s: %v\n", cmd.name, err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// flagSet returns a FlagSet for a subcommand that writes its usage to stderr
// and returns errors instead of exiting.
func (m *Main) flagSet(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("laborlink "+name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(m.Stderr, "usage: laborlink %s %s\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}

// givenFlags are the names of the flags of fs given on the command line,
// not those left at their defaults.
func givenFlags(fs *flag.FlagSet) map[string]bool {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	return given
}

// flagsAmong are those of names that were given (givenFlags), as --name,
// in the order of names.
func flagsAmong(given map[string]bool, names ...string) []string {
	var set []string
	for _, name := range names {
		if given[name] {
			set = append(set, "--"+name)
		}
	}
	return set
}

// parseFlags parses args and turns flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{code: 2, err: err}
	}
	return nil
}

func (m *Main) usage(w io.Writer) {
	fmt.Fprintln(w, "LaborLink: federated data exchange for inter-provincial labor cooperation.")
	fmt.Fprintln(w, "\nusage: laborlink <command> [flags]\n\ncommands:")
	cmds := commands()
	width := 0
	for _, c := range cmds {
		width = max(width, len(c.name))
	}
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'laborlink help <command> [<subcommand>]' for a command's flags.")
}

func runVersion(_ context.Context, m *Main, args []string) error {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintln(m.Stderr, "usage: laborlink version\n  prints the release of this binary")
		return nil
	}
	if len(args) > 0 {
		return usageErrorf("version takes no arguments")
	}
	fmt.Fprintf(m.Stdout, "laborlink %s\n", Version)
	return nil
}

func runHelp(ctx context.Context, m *Main, args []string) error {
	if len(args) == 0 || args[0] == "help" { // help's own help is the list
		m.usage(m.Stdout)
		return nil
	}
	c, ok := lookup(args[0])
	if !ok {
		names := make([]string, 0)
		for _, c := range commands() {
			names = append(names, c.name)
		}
		sort.Strings(names)
		return usageErrorf("no command %q; commands are: %s", args[0], strings.Join(names, ", "))
	}
	// Every command answers -h with its usage on stderr; send it to stdout
	// here. A subcommand named after a group's (help registry status) gets
	// its own flags rather than the group's list.
	sub := *m
	sub.Stderr = m.Stdout
	return c.run(ctx, &sub, append(args[1:len(args):len(args)], "-h"))
}
