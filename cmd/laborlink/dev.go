package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/laborlink/laborlink/gateway/devfed"
	"github.com/laborlink/laborlink/gateway/node"
	"github.com/laborlink/laborlink/pki/durable"
)

// runDev starts the development federation and keeps it running until
// interrupted, or with --init-only prepares a federation directory for
// nodes that run elsewhere (the compose file's init service).
func runDev(ctx context.Context, m *Main, args []string) error {
	fs := m.flagSet("dev", "[--dir D [--force]] [--transfers N] [--verbose] | --init-only --dir D --node P=HOST... [--api-port N] [--raft-port N] [--ops-listen ADDR] [--force | --keep]")
	dir := fs.String("dir", "", "keep the federation's PKI, configs and data in D (default: a temporary directory, removed on exit)")
	transfers := fs.Int("transfers", 3, "sample transfers sent from the origin to each destination")
	verbose := fs.Bool("verbose", false, "print the nodes' logs")
	initOnly := fs.Bool("init-only", false, "only write the PKI, genesis and one node config per --node into --dir; start nothing")
	var nodes nodeFlags
	fs.Var(&nodes, "node", "with --init-only: province P's node listens on and is reached at HOST (repeat; the first is the origin of sample traffic)")
	force := fs.Bool("force", false, "replace a federation already in --dir, deleting its PKI and the nodes' data")
	keep := fs.Bool("keep", false, "with --init-only: if --dir already holds a federation, keep it and succeed (for an init step that runs at every start)")
	apiPort := fs.Int("api-port", devfed.DefaultAPIPort, "with --init-only: every node's HTTPS port")
	raftPort := fs.Int("raft-port", devfed.DefaultRaftPort, "with --init-only: every node's raft port")
	opsListen := fs.String("ops-listen", "0.0.0.0:9090", "with --init-only: every node's ops listener (/healthz, /readyz, /metrics); empty turns it off")
	if _, err := positional(fs, args, 0, "flags only"); err != nil {
		return err
	}
	// A flag of the other mode would be ignored: a newcomer's --api-port
	// 8443 would leave the nodes on ports of their own without a word.
	set := givenFlags(fs)
	if *initOnly {
		for _, name := range []string{"transfers", "verbose"} {
			if set[name] {
				return usageErrorf("--%s goes with a running federation: --init-only starts no node and sends no traffic", name)
			}
		}
		if *keep && *force {
			return usageErrorf("--keep and --force contradict each other")
		}
		if err := checkDevListeners(*apiPort, *raftPort, *opsListen, nodes); err != nil {
			return err
		}
		return runDevInit(m, devfed.InitOptions{Dir: *dir, Nodes: nodes.withPorts(*apiPort, *raftPort), OpsListen: *opsListen, Force: *force, Tune: devfed.TuneDelivery}, *keep)
	}
	for _, name := range []string{"node", "keep", "api-port", "raft-port", "ops-listen"} {
		if set[name] {
			return usageErrorf("--%s goes with --init-only, as do --node, --keep, --api-port, --raft-port and --ops-listen: without it, laborlink dev runs its nodes, and their ops listeners, on free loopback ports and prints them", name)
		}
	}
	if *transfers < 1 || *transfers > 1000 {
		return usageErrorf("--transfers must be between 1 and 1000, got %d", *transfers)
	}
	start := time.Now()
	// Closing the terminal it runs in (SIGHUP) stops the federation as
	// Ctrl-C does, rather than kill it where it stands and leave its
	// temporary directory, CA keys and all, behind. Not under nohup.
	if !signal.Ignored(syscall.SIGHUP) {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, syscall.SIGHUP)
		defer stop()
	}
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "laborlink-dev-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		*dir, *force = tmp, true
	} else if err := durable.MkdirAll(*dir, 0o700); err != nil {
		return fmt.Errorf("--dir: %w", err)
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	fmt.Fprintf(m.Stdout, "Starting a development federation in %s ...\n", abs)
	log.Info("go runtime", "settings", node.DefaultConfig().Runtime.Apply(len(devfed.DefaultProvinces), m.getenv))
	// An interrupt while the federation starts is the user's, not a
	// failure of the step it cut short.
	interrupted := func(err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted while starting; stopped: %w", context.Cause(ctx))
		}
		return err
	}
	f, err := devfed.Start(ctx, devfed.Options{Dir: abs, Log: log, Force: *force})
	if err != nil {
		return interrupted(err)
	}
	defer f.Close()
	if err := f.RecordIssuance(ctx); err != nil {
		return interrupted(fmt.Errorf("record the certificates' issuance: %w", err))
	}
	if err := f.Seed(ctx, *transfers); err != nil {
		return interrupted(fmt.Errorf("sample traffic: %w", err))
	}
	f.PrintReady(m.Stdout, time.Since(start))
	<-ctx.Done()
	fmt.Fprintln(m.Stdout, "Shutting down the federation ...")
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout, "Stopped.")
	return nil
}

// runDevInit writes a federation directory and says what is in it.
func runDevInit(m *Main, opts devfed.InitOptions, keep bool) error {
	if opts.Dir == "" {
		return usageErrorf("--init-only needs --dir")
	}
	if n := len(opts.Nodes); n < 3 || n%2 == 0 {
		return usageErrorf("--init-only needs an odd number of --node P=HOST, three or more, for the registry's raft voters (it has %d), e.g. --node 51=p51 --node 44=p44 --node 33=p33", n)
	}
	if keep {
		if _, err := devfed.ReadLayout(opts.Dir); err == nil {
			fmt.Fprintf(m.Stdout, "%s already holds a federation; kept it.\n", opts.Dir)
			return nil
		}
	}
	l, err := devfed.Init(opts)
	if errors.Is(err, devfed.ErrOptions) {
		return &exitError{code: 2, err: err}
	} else if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "Prepared a federation of %s in %s:\n", strings.Join(l.Provinces, ", "), l.Dir)
	for _, n := range opts.Nodes {
		fmt.Fprintf(m.Stdout, "  p%s  %s  config %s\n", n.Province, n.Host, l.Config(n.Province))
	}
	fmt.Fprintf(m.Stdout, "Certificates (keep this directory private: it holds the CA keys): %s\n", filepath.Join(l.Dir, "pki"))
	return nil
}

// checkDevListeners refuses, by flag, the listeners the nodes would refuse
// in the configs --init-only writes, by the node's own rules
// (node.CheckAddr, node.SharePort): the node names only its config keys,
// and an init step that keeps what it finds (--keep) would keep a
// federation none of whose nodes starts. The API and raft ports go into
// the genesis for the other nodes to dial, so they are checked as dialed
// addresses (port 0, which devfed would take for its default, is refused).
// devfed.Init checks the configs themselves too.
func checkDevListeners(apiPort, raftPort int, opsListen string, nodes nodeFlags) error {
	for _, n := range nodes {
		// The dialed addresses join --node's host to the port flags: a
		// problem may be either's.
		withHost := fmt.Sprintf(" (on the host of --node %s=%s)", n.Province, n.Host)
		listeners := []struct {
			flag, addr string
			dialed     bool
		}{
			{"--api-port" + withHost, net.JoinHostPort(n.Host, strconv.Itoa(apiPort)), true},
			{"--raft-port" + withHost, net.JoinHostPort(n.Host, strconv.Itoa(raftPort)), true},
			{"--ops-listen", opsListen, false},
		}
		if opsListen == "" {
			listeners = listeners[:2] // turned off
		}
		for i, a := range listeners {
			if p := node.CheckAddr(a.addr, a.dialed); p != "" {
				return usageErrorf("%s: %s", a.flag, p)
			}
			for _, b := range listeners[:i] {
				if node.SharePort(a.addr, b.addr) {
					return usageErrorf("%s: %q takes the port of %s %q of the node of %s; each listener needs its own port", a.flag, a.addr, b.flag, b.addr, n.Province)
				}
			}
		}
	}
	return nil
}

// nodeFlags collect repeated --node P=HOST flags.
type nodeFlags []devfed.NodeAddr

func (n *nodeFlags) String() string {
	var s []string
	for _, a := range *n {
		s = append(s, a.Province+"="+a.Host)
	}
	return strings.Join(s, ",")
}

func (n *nodeFlags) Set(v string) error {
	p, host, ok := strings.Cut(v, "=")
	if !ok || p == "" || host == "" {
		return fmt.Errorf("%q is not PROVINCE=HOST, e.g. 51=p51", v)
	}
	// A colon outside an IPv6 address is a port (p51:9000), which the
	// configs would join to the ports as a host ("[p51:9000]:8443"): a
	// federation written whole whose nodes cannot listen.
	if strings.Contains(host, ":") && net.ParseIP(host) == nil {
		return fmt.Errorf("%q: %q is not a host name or IP address; the ports are --api-port and --raft-port", v, host)
	}
	*n = append(*n, devfed.NodeAddr{Province: p, Host: host})
	return nil
}

func (n nodeFlags) withPorts(api, raft int) []devfed.NodeAddr {
	out := make([]devfed.NodeAddr, len(n))
	for i, a := range n {
		a.APIPort, a.RaftPort = api, raft
		out[i] = a
	}
	return out
}
