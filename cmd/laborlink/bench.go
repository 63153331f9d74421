package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/laborlink/laborlink/gateway/api"
	"github.com/laborlink/laborlink/gateway/devfed"
	"github.com/laborlink/laborlink/gateway/loadgen"
	"github.com/laborlink/laborlink/gateway/node"
	"github.com/laborlink/laborlink/gateway/procstat"
	"github.com/laborlink/laborlink/pki"
)

// runBench pushes synthetic records from Sichuan's node to Guangdong's over
// the real path (local API, validation, policy, signing, durable outbox,
// mTLS delivery, import, durable inbox, audit) and through a bare mTLS echo
// server in the same pattern, and reports both.
func runBench(ctx context.Context, m *Main, args []string) error {
	fs := m.flagSet("bench", "[--records N] [--concurrency C] [--batch-clients C] [--connections K] [--http 2|1.1] [--batch B] [--modes single,batch] [--processes [--memory-limit MiB]] [--json] [--cpuprofile F] [--blockprofile F] [--mutexprofile F] [--memprofile F] [--trace F]")
	records := fs.Int("records", 10000, "records per mode")
	concurrency := fs.Int("concurrency", 32, "concurrent clients in single-record mode")
	batchClients := fs.Int("batch-clients", 4, "concurrent clients in batch mode")
	conns := fs.Int("connections", 4, "client connections (each its own mutual TLS connection) the clients share, for the gateway and the echo alike")
	batch := fs.Int("batch", 100, "records per request in batch mode")
	proto := fs.String("http", "2", "HTTP version of the clients, for the gateway and the echo alike: 2, or 1.1 (one request at a time per connection, so each client holds its own)")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	modes := fs.String("modes", "single,batch", "which modes to run, comma-separated")
	processes := fs.Bool("processes", false, "run each node as its own process (laborlink node), as deployed, and report each node's peak memory; profiles then cover the load generator, and each node writes its own, from its start to its shutdown, to FILE.pPROVINCE")
	memLimit := fs.Int("memory-limit", 0, "with --processes: run each node in a memory cgroup of its own capped at this many MiB, as a container's limit caps it (its heap and stacks and the page cache it brings in, its database's pages among it), and report what the kernel charged and any OOM kill; needs permission to write /sys/fs/cgroup")
	var prof profiles
	prof.flags(fs)
	if _, err := positional(fs, args, 0, "flags only"); err != nil {
		return err
	}
	if *records < 1 || *concurrency < 1 || *batchClients < 1 || *conns < 1 || *batch < 2 || *batch > 1000 {
		return usageErrorf("--records, --concurrency, --batch-clients and --connections must be positive, --batch between 2 and 1000")
	}
	if *memLimit < 0 || *memLimit > 0 && !*processes {
		return usageErrorf("--memory-limit must be a positive number of MiB, and needs --processes")
	}
	var clientOpts []api.ClientOption
	switch *proto {
	case "2":
	case "1.1":
		clientOpts = append(clientOpts, api.HTTP1)
	default:
		return usageErrorf("--http: unknown HTTP version %q (2, 1.1)", *proto)
	}
	var runs []loadgen.Options
	for _, name := range strings.Split(*modes, ",") {
		switch name {
		case "single":
			runs = append(runs, loadgen.Options{Records: *records, Batch: 1, Concurrency: *concurrency})
		case "batch":
			runs = append(runs, loadgen.Options{Records: *records, Batch: *batch, Concurrency: *batchClients})
		default:
			return usageErrorf("--modes: unknown mode %q (single, batch)", name)
		}
	}
	fed, err := startBenchFederation(ctx, m, *processes, int64(*memLimit)<<20, prof, *conns, clientOpts)
	if err != nil {
		return err
	}
	defer fed.close()
	f, procs, origin, gateways, echoes, nodesCPU := fed.f, fed.procs, fed.origin, fed.gateways, fed.echoes, fed.nodesCPU

	stopProfiles, err := prof.start()
	if err != nil {
		return err
	}
	defer stopProfiles()
	stop := make(chan struct{})
	peak := procstat.PeakRSS(100*time.Millisecond, stop)
	var nodesAnon map[string]*procstat.PeakReading
	if procs != nil {
		nodesAnon = procs.sampleAnon(100*time.Millisecond, stop)
	}
	var report benchReport
	for i, mode := range runs {
		mode.Origin, mode.Destination, mode.Seed, mode.Progress = "51", "44", uint64(time.Now().UnixNano())+uint64(i), m.Stderr
		reqs, err := loadgen.Generate(mode)
		if err != nil {
			return err
		}
		connections := min(*conns, mode.Concurrency)
		if *proto == "1.1" {
			connections = mode.Concurrency
		}
		fmt.Fprintf(m.Stderr, "gateway, %d records, %d per request, %d clients on %d HTTP/%s connections:\n", mode.Records, mode.Batch, mode.Concurrency, connections, *proto)
		cpu0 := procstat.CPUTime() + nodesCPU()
		gw := loadgen.Push(ctx, gateways, reqs, mode)
		drained, err := loadgen.Drain(ctx, origin)
		if err != nil {
			return err
		}
		cpu := procstat.CPUTime() + nodesCPU() - cpu0
		fmt.Fprintln(m.Stderr, "bare mTLS echo, same payloads and pattern:")
		ceiling := loadgen.Push(ctx, echoes, reqs, mode)
		mo := benchMode{Gateway: gw, Echo: ceiling, Delivered: drained,
			EndToEnd:     float64(gw.Accepted) / (gw.Elapsed + drained).Seconds(),
			CPUPerRecord: cpu / time.Duration(max(gw.Accepted, 1))}
		if ceiling.PerSecond > 0 { // an echo that failed every request has no ceiling to compare with
			mo.Fraction = gw.PerSecond / ceiling.PerSecond
		}
		report.Modes = append(report.Modes, mo)
	}
	close(stop)
	if err := stopProfiles(); err != nil {
		return err
	}
	report.PeakRSSMB = float64(peak.Max()) / (1 << 20)
	if procs != nil {
		report.NodePeakRSSMB = procs.peaks()
		report.NodePeakAnonMB = map[string]float64{}
		for p, v := range nodesAnon {
			report.NodePeakAnonMB[p] = float64(v.Max()) / (1 << 20)
		}
		report.provinces = f.Provinces
	}
	if *memLimit > 0 {
		report.MemoryLimitMiB = *memLimit
		if report.NodeCgroupPeakMB, report.NodeOOMKills, err = procs.cgroupPeaks(); err != nil {
			// The run's other figures stand without these.
			fmt.Fprintf(m.Stderr, "laborlink bench: --memory-limit: %v\n", err)
		}
	}
	if *asJSON {
		return printJSON(m.Stdout, report)
	}
	report.print(m)
	return nil
}

// benchFederation is what a bench run pushes records through: the
// development federation, its nodes in this process or as processes, the
// origin's API clients and the echo's.
type benchFederation struct {
	f                *devfed.Federation
	procs            *nodeProcesses // nil with the nodes in this process
	origin           *api.Client
	gateways, echoes []loadgen.Submitter
	nodesCPU         func() time.Duration // the node processes' CPU time, or 0
	closers          []func() error
}

// startBenchFederation starts the federation in a temporary directory with
// conns clients each to the origin's API and to an echo server, made with
// opts; an HTTP/2 client holds one connection, an HTTP/1.1 client one per
// request in flight.
func startBenchFederation(ctx context.Context, m *Main, processes bool, memLimit int64, prof profiles, conns int, opts []api.ClientOption) (_ *benchFederation, err error) {
	b := &benchFederation{nodesCPU: func() time.Duration { return 0 }}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	dir, err := os.MkdirTemp("", "laborlink-bench-")
	if err != nil {
		return nil, err
	}
	b.closers = append(b.closers, func() error { return os.RemoveAll(dir) })
	// The nodes run with a node's runtime settings (GOGC and GOMEMLIMIT
	// in the environment win, as for a node).
	settings := node.DefaultConfig().Runtime.Apply(len(devfed.DefaultProvinces), m.getenv)
	where := "all nodes in this process; " + settings
	if processes {
		where = "then each node in its own process"
	}
	fmt.Fprintf(m.Stderr, "starting a development federation (%s) ...\n", where)
	if b.f, err = devfed.Start(ctx, devfed.Options{Dir: dir}); err != nil {
		return nil, err
	}
	closeNodes := b.f.Close
	b.closers = append(b.closers, func() error { return closeNodes() })
	if err := b.f.Seed(ctx, 1); err != nil {
		return nil, err
	}
	if processes {
		if err := b.f.Close(); err != nil {
			return nil, err
		}
		if b.procs, err = startNodeProcesses(ctx, b.f, memLimit, prof); err != nil {
			return nil, err
		}
		closeNodes, b.nodesCPU = b.procs.stop, b.procs.cpu
	}
	if b.origin, err = b.f.APIClient("51", b.f.Certs["51"].System); err != nil {
		return nil, err
	}
	echo, echoTLS, err := startEcho(b.f)
	if err != nil {
		return nil, err
	}
	b.closers = append(b.closers, echo.Close)
	for range conns {
		c, err := b.f.APIClient("51", b.f.Certs["51"].System, opts...)
		if err != nil {
			return nil, err
		}
		b.gateways = append(b.gateways, loadgen.Gateway{Client: c})
		b.echoes = append(b.echoes, loadgen.EchoClient{URL: echo.URL, HTTP: loadgen.NewHTTPClient(echoTLS, opts...)})
	}
	return b, nil
}

// close stops what startBenchFederation started, last first.
func (b *benchFederation) close() {
	for i := len(b.closers) - 1; i >= 0; i-- {
		b.closers[i]()
	}
}

type benchMode struct {
	Gateway   loadgen.Result `json:"gateway"`
	Echo      loadgen.Result `json:"echo"`
	Delivered time.Duration  `json:"drain_after_last_accept"`
	EndToEnd  float64        `json:"end_to_end_records_per_second"`
	Fraction  float64        `json:"fraction_of_echo"`
	// CPUPerRecord is the CPU time (user and system) of every node and the
	// load generator, in this process or, with --processes, in theirs, from
	// the first submit to the drained outbox,
	// per accepted record: on a shared machine it varies less than rates do.
	CPUPerRecord time.Duration `json:"cpu_per_record"`
}

type benchReport struct {
	Modes []benchMode `json:"modes"`
	// PeakRSSMB is this process: with the nodes in it, three nodes and the
	// load generator; with --processes, the load generator and the echo.
	PeakRSSMB float64 `json:"peak_rss_mb"`
	// NodePeakRSSMB is each node process's peak resident memory, by
	// province (with --processes).
	NodePeakRSSMB map[string]float64 `json:"node_peak_rss_mb,omitempty"`
	// NodePeakAnonMB is the highest anonymous resident memory (heap and
	// stacks, no file pages) of each node process sampled every 100 ms.
	NodePeakAnonMB map[string]float64 `json:"node_peak_anon_mb,omitempty"`
	// With --memory-limit: the limit, the most memory the kernel charged
	// each node's cgroup at once (page cache included), and its OOM kills.
	MemoryLimitMiB   int                `json:"memory_limit_mib,omitempty"`
	NodeCgroupPeakMB map[string]float64 `json:"node_cgroup_peak_mb,omitempty"`
	NodeOOMKills     map[string]int64   `json:"node_oom_kills,omitempty"`
	provinces        []string
}

func (r benchReport) print(m *Main) {
	w := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "MODE\tPATH\tRECORDS/S\tP50\tP90\tP99\tERRORS\tEND-TO-END/S\tOF ECHO\tCPU/RECORD")
	for _, mo := range r.Modes {
		g, e := mo.Gateway, mo.Echo
		fmt.Fprintf(w, "%s\tgateway\t%.0f\t%s\t%s\t%s\t%d\t%.0f\t%.0f%%\t%s\n", g.Mode, g.PerSecond, g.P50.Round(time.Microsecond), g.P90.Round(time.Microsecond), g.P99.Round(time.Microsecond), g.Errors, mo.EndToEnd, 100*mo.Fraction, mo.CPUPerRecord.Round(time.Microsecond))
		fmt.Fprintf(w, "%s\techo\t%.0f\t%s\t%s\t%s\t%d\t\t\t\n", e.Mode, e.PerSecond, e.P50.Round(time.Microsecond), e.P90.Round(time.Microsecond), e.P99.Round(time.Microsecond), e.Errors)
	}
	w.Flush()
	for _, mo := range r.Modes {
		for _, res := range []struct {
			path string
			r    loadgen.Result
		}{{"gateway", mo.Gateway}, {"echo", mo.Echo}} {
			if res.r.Errors > 0 {
				fmt.Fprintf(m.Stdout, "%s %s: %d failed requests, the first: %s\n", res.r.Mode, res.path, res.r.Errors, res.r.FirstError)
			}
		}
	}
	if r.NodePeakRSSMB != nil {
		fmt.Fprintf(m.Stdout, "peak resident memory of each node process: %s; of the load generator: %.0f MB\n", formatPeaks(r.provinces, r.NodePeakRSSMB, r.NodePeakAnonMB), r.PeakRSSMB)
		if r.NodeCgroupPeakMB != nil {
			fmt.Fprintf(m.Stdout, "memory charged to each node's cgroup (limit %d MiB; heap, stacks and page cache): %s; OOM kills: %s\n", r.MemoryLimitMiB, formatPeaks(r.provinces, r.NodeCgroupPeakMB, nil), formatKills(r.provinces, r.NodeOOMKills))
		}
		return
	}
	fmt.Fprintf(m.Stdout, "peak resident memory of the process (three nodes and the load generator): %.0f MB\n", r.PeakRSSMB)
}

// startEcho serves the echo with the p44 node's certificate, so the
// handshake costs the same as the gateway's.
func startEcho(f *devfed.Federation) (*loadgen.EchoServer, *tls.Config, error) {
	ca, err := pki.OpenCA(f.CADir("44"))
	if err != nil {
		return nil, nil, err
	}
	leaf, err := ca.Issue(pki.IssueRequest{Kind: pki.KindNode, Name: "echo", IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		return nil, nil, err
	}
	node, err := f.ClientTLS(*leaf)
	if err != nil {
		return nil, nil, err
	}
	srvCfg, err := node.ServerConfig(pki.PeerPolicy{})
	if err != nil {
		return nil, nil, err
	}
	sys, err := f.ClientTLS(f.Certs["51"].System)
	if err != nil {
		return nil, nil, err
	}
	cliCfg, err := sys.ClientConfig(pki.PeerPolicy{})
	if err != nil {
		return nil, nil, err
	}
	echo, err := loadgen.StartEcho(srvCfg)
	if err != nil {
		return nil, nil, err
	}
	return echo, cliCfg, nil
}
