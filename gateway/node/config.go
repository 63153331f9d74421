package node

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/gateway/delivery"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/gateway/webhook"
	"github.com/laborlink/laborlink/pki"
)

// Config is a node's whole configuration: one YAML file, with any setting
// overridable by an environment variable named after its path
// (LABORLINK_RAFT_LISTEN for raft.listen); a variable set empty sets its
// setting empty, which only settings that take an empty value accept.
// docs/configuration.md lists every setting; the comments here are its
// source.
type Config struct {
	// Province is the node's 2-digit province code. Required.
	Province string `yaml:"province"`
	// Name is the node's name within its province, as in its certificate's
	// identity (spiffe://p51.<domain>/node/<name>). Required.
	Name string `yaml:"name"`
	// DataDir holds the node's store, audit log and raft data. Required.
	DataDir string `yaml:"data_dir"`
	// WorkerKey is the key of the digests the node keeps of its
	// transfers' workers' ID numbers, to match the confirmations that
	// answer them (32 random bytes, in hex). Default <data_dir>/worker.key,
	// created on first start. Kept apart from node.db, which held it in
	// earlier releases (moved here at start), so that a copy of node.db
	// alone cannot test guessed ID numbers against the digests in it.
	WorkerKey string `yaml:"worker_key"`
	// Listen is the HTTPS address (mutual TLS) of the local API, the peer API
	// and the registry API. Default 127.0.0.1:8443.
	Listen string `yaml:"listen"`
	// Advertise is the address other nodes reach Listen at. Default Listen.
	Advertise string `yaml:"advertise"`
	// OpsListen is the plain-HTTP address of /healthz, /readyz and /metrics,
	// for probes and scrapers that hold no federation certificate. Empty
	// turns it off. Default 127.0.0.1:9090.
	OpsListen string `yaml:"ops_listen"`

	TLS      TLSConfig      `yaml:"tls"`
	Raft     RaftConfig     `yaml:"raft"`
	Policy   PolicyConfig   `yaml:"policy"`
	Delivery DeliveryConfig `yaml:"delivery"`
	Peer     PeerConfig     `yaml:"peer"`
	Audit    AuditConfig    `yaml:"audit"`
	Webhook  WebhookConfig  `yaml:"webhook"`
	Inbox    InboxConfig    `yaml:"inbox"`
	Log      LogConfig      `yaml:"log"`
	Runtime  RuntimeConfig  `yaml:"runtime"`
}

// WebhookConfig pushes the inbox to the province's business system.
type WebhookConfig struct {
	// URL receives POSTs of inbox items, in arrival order, retried until it
	// answers 2xx. It must be https, since the items hold personal data;
	// plain http only to a loopback host (127.0.0.1, ::1, localhost), for
	// development. Empty: no push; systems pull the inbox from the local API.
	URL string `yaml:"url"`
	// CA is a PEM file of the certificate authorities that sign the system's
	// HTTPS certificate. Empty: the host's usual roots.
	CA string `yaml:"ca"`
	// Batch is the most items per POST. Default 100.
	Batch int `yaml:"batch"`
	// MaxConsecutiveSkips is how many items in a row the system may refuse
	// for good, accepting none in between, before the push stops skipping
	// them and retries instead, until the system accepts one: a system
	// refusing everything is misconfigured. Default 10.
	MaxConsecutiveSkips int `yaml:"max_consecutive_skips"`
	// Timeout is how long the system may take to answer a POST. One it
	// does not answer in time once connected is retried, with at most half
	// the batch size it was taken at per POST for ten minutes, down to one,
	// since it may have been too large for the system to get through in
	// time (one item alone lowers nothing). Positive; default 30s.
	Timeout time.Duration `yaml:"timeout"`
}

// InboxConfig is how long the inbox keeps what it received.
type InboxConfig struct {
	// Retention is how long an inbox entry keeps its envelope and record,
	// which hold personal data. Once older, and once the webhook (if any)
	// has moved past it (pushed or skipped), the node drops them within the
	// hour and keeps the entry's position, ids, type, time of arrival and
	// receipt (pruned_at says when). At least 24h: a system that pulls the inbox must have
	// read an entry before it goes. Default 0: kept for ever.
	Retention time.Duration `yaml:"retention"`
}

// TLSConfig names the node's certificate files.
type TLSConfig struct {
	// Cert is the node certificate followed by its province CA (PEM). Required.
	Cert string `yaml:"cert"`
	// Key is the node's private key (PEM, readable by the node's user
	// alone). Required.
	Key string `yaml:"key"`
	// Root is the federation root certificate (PEM). Required.
	Root string `yaml:"root"`
	// CRLs are CRL files (PEM or DER) whose serials are refused, in addition
	// to the revocations replicated in the registry. The node rereads a file
	// when it changes; serials once loaded stay refused.
	CRLs []string `yaml:"crls"`
}

// RaftConfig places the node in the federation registry.
type RaftConfig struct {
	// Listen is the raft stream layer's address (mutual TLS). Default 127.0.0.1:8300.
	Listen string `yaml:"listen"`
	// Advertise is the address other nodes dial for raft. Default Listen.
	Advertise string `yaml:"advertise"`
	// Genesis is a genesis file (JSON): set on the configured voters only.
	Genesis string `yaml:"genesis"`
	// Join lists API addresses (host:port) of registry nodes to join through,
	// for a node that is not a configured voter.
	Join []string `yaml:"join"`
	// TrustedProvinces are the provinces whose nodes a joining node accepts
	// on its raft port until it has received the registry (which then says
	// who the members are). Empty: every province; their certificates must
	// chain to the federation root either way.
	TrustedProvinces []string `yaml:"trusted_provinces"`
	// HeartbeatTimeout and ElectionTimeout: default 1s, for links between provinces.
	HeartbeatTimeout time.Duration `yaml:"heartbeat_timeout"`
	ElectionTimeout  time.Duration `yaml:"election_timeout"`
	// StaleAfter: without leader contact for this long, reads say stale and
	// /readyz fails. Default 5s.
	StaleAfter time.Duration `yaml:"stale_after"`
}

// PolicyConfig locates the province policy.
type PolicyConfig struct {
	// ProvinceDir holds the province's own Rego policy (package
	// laborlink.province). Empty: the federation bundle alone decides.
	ProvinceDir string `yaml:"province_dir"`
	// Reload is how often the province directory and the registry's bundle
	// are checked for a new revision. Default 5s.
	Reload time.Duration `yaml:"reload"`
}

// DeliveryConfig tunes delivery to peers.
type DeliveryConfig struct {
	// BatchSize: envelopes per request. Default 500 (delivery.DefaultBatchSize).
	BatchSize int `yaml:"batch_size"`
	// MinBackoff and MaxBackoff bound retry waits. Default as
	// delivery.DefaultConfig: 100ms and 30s.
	MinBackoff time.Duration `yaml:"min_backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// BreakerFailures: consecutive failed batches that open a peer's breaker. Default 5.
	BreakerFailures uint32 `yaml:"breaker_failures"`
	// BreakerOpen: how long an open breaker fails fast. Default 10s.
	BreakerOpen time.Duration `yaml:"breaker_open"`
	// MaxDeferral: how long a peer may keep deferring an envelope before
	// it becomes a dead letter, at least MaxBackoff. Default 72h
	// (delivery.DefaultMaxDeferral).
	MaxDeferral time.Duration `yaml:"max_deferral"`
}

// PeerConfig bounds what the peer API takes from other provinces' nodes.
type PeerConfig struct {
	// MaxRequestsPerProvince is how many requests of one province's nodes
	// each peer API route (batches, audit entries) reads and handles at
	// once; one more is answered 503 with Retry-After before its body is
	// read, and its origin sends it again after its backoff. A batch may
	// take up to about 78 MiB (peer.MaxBody) in memory. Default 8
	// (peer.DefaultMaxPerProvince): twice the batches a node keeps in
	// flight to each peer.
	MaxRequestsPerProvince int `yaml:"max_requests_per_province"`
	// MaxBodiesMiB is how many MiB of batches the peer API reads and
	// holds at once, over all provinces, each counted at its declared
	// length from before its body is read until it is answered; one that
	// does not fit beside those in hand is answered 503 with Retry-After
	// before its body is read, but one alone is always read, however
	// large. Default 64 (peer.DefaultMaxBodies): half the default
	// Runtime.MemoryLimitMiB.
	MaxBodiesMiB int `yaml:"max_bodies_mib"`
}

// AuditConfig tunes the audit log.
type AuditConfig struct {
	// Key is the checkpoint signing key (a C2SP note private key). Default
	// <data_dir>/audit.key, created on first start.
	Key string `yaml:"key"`
	// SignInterval: how often a new head is signed when the log grew. Default 1m.
	SignInterval time.Duration `yaml:"sign_interval"`
	// HeadInterval: the least time between two heads signed for the
	// audit head route (GET /api/v1/audit/head), which serves the newest
	// head in between, so that auditors polling it do not each cost the
	// node a signature and a synced write. Default 1s.
	HeadInterval time.Duration `yaml:"head_interval"`
}

// LogConfig shapes the node's own logs.
type LogConfig struct {
	// Level: debug, info, warn or error. Default info.
	Level string `yaml:"level"`
	// Format: json or text. Default json.
	Format string `yaml:"format"`
}

// RuntimeConfig tunes the Go runtime of the node's process.
type RuntimeConfig struct {
	// GCPercent is the collector's heap growth target (as GOGC). A node
	// keeps little live data, so a higher target spends memory it may use
	// to save CPU (docs/performance.md has the figures). -1 turns the
	// target off, leaving only MemoryLimitMiB. Default 200; the GOGC
	// environment variable wins.
	GCPercent int `yaml:"gc_percent"`
	// MemoryLimitMiB is the soft limit of the process's Go memory (as
	// GOMEMLIMIT): the collector works harder as the heap nears it, so a
	// high GCPercent never carries the node past it. 0: no limit. Default
	// 128; the GOMEMLIMIT environment variable wins.
	MemoryLimitMiB int `yaml:"memory_limit_mib"`
}

// DefaultConfig returns every default; a node still needs province, name,
// data_dir and the TLS files.
func DefaultConfig() Config {
	d := delivery.DefaultConfig()
	return Config{
		Listen:    "127.0.0.1:8443",
		OpsListen: "127.0.0.1:9090",
		Raft: RaftConfig{
			Listen:           "127.0.0.1:8300",
			HeartbeatTimeout: time.Second,
			ElectionTimeout:  time.Second,
			StaleAfter:       5 * time.Second,
		},
		Policy:   PolicyConfig{Reload: 5 * time.Second},
		Delivery: DeliveryConfig{BatchSize: d.BatchSize, MinBackoff: d.MinBackoff, MaxBackoff: d.MaxBackoff, BreakerFailures: 5, BreakerOpen: 10 * time.Second, MaxDeferral: delivery.DefaultMaxDeferral},
		Peer:     PeerConfig{MaxRequestsPerProvince: peer.DefaultMaxPerProvince, MaxBodiesMiB: peer.DefaultMaxBodies >> 20},
		Audit:    AuditConfig{SignInterval: time.Minute, HeadInterval: time.Second},
		Webhook:  WebhookConfig{Batch: 100, MaxConsecutiveSkips: 10, Timeout: 30 * time.Second},
		Log:      LogConfig{Level: "info", Format: "json"},
		Runtime:  RuntimeConfig{GCPercent: 200, MemoryLimitMiB: 128},
	}
}

func LoadConfig(path string, lookupEnv func(string) (string, bool)) (Config, error) {
	cfg := DefaultConfig()
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	// An empty file (or comments only) is an empty mapping: validation then
	// names every required key.
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, decodeError(path, data, err)
	}
	// A document marker with nothing after it (a trailing ---) is no
	// second document; one with settings would be ignored.
	for {
		var more yaml.Node
		err := dec.Decode(&more)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return cfg, fmt.Errorf("config %s: after the first document: %w", path, err)
		}
		if len(more.Content) > 0 && more.Content[0].ShortTag() != "!!null" {
			return cfg, fmt.Errorf("config %s: line %d: a second YAML document (after ---), which the node would ignore; keep one", path, more.Line)
		}
	}
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	emptied, err := applyEnv(&cfg, lookupEnv)
	if err != nil {
		return cfg, err
	}
	cfg.resolve(filepath.Dir(path))
	return cfg, cfg.validate("config "+path, emptied)
}

// resolve fills in derived defaults and makes file paths relative to the
// config file's directory.
func (c *Config) resolve(base string) {
	if c.Advertise == "" {
		c.Advertise = c.Listen
	}
	if c.Raft.Advertise == "" {
		c.Raft.Advertise = c.Raft.Listen
	}
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	for _, p := range []*string{&c.DataDir, &c.WorkerKey, &c.TLS.Cert, &c.TLS.Key, &c.TLS.Root, &c.Raft.Genesis, &c.Policy.ProvinceDir, &c.Audit.Key, &c.Webhook.CA} {
		abs(p)
	}
	for i := range c.TLS.CRLs {
		abs(&c.TLS.CRLs[i])
	}
	if c.Audit.Key == "" && c.DataDir != "" {
		c.Audit.Key = filepath.Join(c.DataDir, "audit.key")
	}
	if c.WorkerKey == "" && c.DataDir != "" {
		c.WorkerKey = filepath.Join(c.DataDir, store.WorkerKeyFile)
	}
}

// maxMemoryLimitMiB bounds runtime.memory_limit_mib and
// peer.max_bodies_mib (1 TiB) well below where they would overflow in
// bytes.
const maxMemoryLimitMiB = 1 << 20

// Validate reports every problem, each naming its key.
func (c Config) Validate() error { return c.validate("config", nil) }

// CheckFiles reports every file the configuration names that the node could
// not read, each by its key, so that an operator hears of them all at once
// and before the node creates anything: the certificates, the genesis, the
// CRLs and the webhook CA must be files; the province policy, a directory.
// Each is opened, not only looked up, so that one the node may not read (its
// mode, or a socket where a file should be) is named too. The audit key and
// the worker key are not checked here: a node makes each where there is
// none and nothing needs it yet, and refuses to start without it once its
// audit log holds heads (openAudit), or its store digests of workers
// (store.Open), which only the opened store tells.
func (c Config) CheckFiles() error {
	var errs []error
	check := func(key, path string, dir bool) {
		if path != "" {
			if err := checkFile(path, dir); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", key, err))
			}
		}
	}
	check("tls.cert", c.TLS.Cert, false)
	check("tls.key", c.TLS.Key, false)
	check("tls.root", c.TLS.Root, false)
	for i, p := range c.TLS.CRLs {
		check(fmt.Sprintf("tls.crls[%d]", i), p, false)
	}
	check("raft.genesis", c.Raft.Genesis, false)
	check("webhook.ca", c.Webhook.CA, false)
	check("policy.province_dir", c.Policy.ProvinceDir, true)
	return errors.Join(errs...)
}

// checkFile refuses a path that is missing, a file where a directory is
// wanted (dir) or the other way round, or that cannot be opened for reading.
// A named pipe is not opened: its writer (mkfifo genesis.json; vault read
// ... > genesis.json &) hands its bytes to the first reader, which must be
// the node.
func checkFile(path string, dir bool) error {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return err
	case dir && !fi.IsDir():
		return fmt.Errorf("%s is a file, not a directory", path)
	case !dir && fi.IsDir():
		return fmt.Errorf("%s is a directory, not a file", path)
	case fi.Mode()&os.ModeNamedPipe != 0:
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0) // a device does not wait either
	if err != nil {
		return err
	}
	return f.Close()
}

// validate reports every problem, each as "<prefix>: <key>: <problem>".
// emptied maps the keys the environment set empty to their variables: a
// problem with one of them names the variable too, since the file may well
// have set the key.
func (c Config) validate(prefix string, emptied map[string]string) error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s: %s%s", prefix, key, fmt.Sprintf(format, args...), emptiedBy(emptied, key)))
	}
	if c.Province == "" {
		bad("province", "required: the node's 2-digit province code (e.g. 51 for Sichuan)")
	} else if !pki.ValidProvince(c.Province) {
		bad("province", "%q is not a 2-digit province code (e.g. 51 for Sichuan)", c.Province)
	}
	if c.Name == "" {
		bad("name", "required: the node's name as in its certificate")
	} else if err := pki.CheckName(c.Name); err != nil {
		bad("name", "%v", err)
	}
	if c.DataDir == "" {
		bad("data_dir", "required: where the node keeps its data")
	}
	listeners := []struct{ key, addr string }{{"listen", c.Listen}, {"raft.listen", c.Raft.Listen}, {"ops_listen", c.OpsListen}}
	for _, l := range listeners {
		if l.key == "ops_listen" && l.addr == "" {
			continue // turned off
		}
		if p := CheckAddr(l.addr, false); p != "" {
			bad(l.key, "%s", p)
		}
	}
	for i, a := range listeners {
		for _, b := range listeners[i+1:] {
			if SharePort(a.addr, b.addr) {
				bad(b.key, "%q takes the port of %s %q; each listener needs its own port", b.addr, a.key, a.addr)
			}
		}
	}
	// A joining node publishes its advertised addresses in the registry's
	// node table for the others to dial, so they need a host others can
	// reach and a port; a voter's come from the genesis file, so its own may
	// be a wildcard (:8300) or port 0 (tests). An advertise address left to
	// default to a listen address already refused is not refused again.
	joining := len(c.Raft.Join) > 0
	for _, a := range []struct{ key, addr, listenKey, listen string }{
		{"advertise", c.Advertise, "listen", c.Listen},
		{"raft.advertise", c.Raft.Advertise, "raft.listen", c.Raft.Listen},
	} {
		if a.addr == a.listen && CheckAddr(a.listen, false) != "" {
			continue
		}
		if p := CheckAddr(a.addr, joining); p != "" {
			if a.addr == a.listen {
				p += fmt.Sprintf(" (it defaults to %s: set it to an address other nodes can dial)", a.listenKey)
			}
			bad(a.key, "%s", p)
		}
	}
	for i, a := range c.Raft.Join {
		if p := CheckAddr(a, true); p != "" {
			bad(fmt.Sprintf("raft.join[%d]", i), "%s", p)
		}
	}
	for _, f := range []struct{ key, path string }{{"tls.cert", c.TLS.Cert}, {"tls.key", c.TLS.Key}, {"tls.root", c.TLS.Root}} {
		if f.path == "" {
			bad(f.key, "required")
		}
	}
	for i, p := range c.TLS.CRLs {
		if p == "" {
			bad(fmt.Sprintf("tls.crls[%d]", i), "an empty path")
		}
	}
	if c.Raft.Genesis == "" && len(c.Raft.Join) == 0 {
		bad("raft", "set raft.genesis (a configured voter) or raft.join (any other node)")
	}
	if c.Raft.Genesis != "" && len(c.Raft.TrustedProvinces) > 0 {
		bad("raft.trusted_provinces", "set with raft.genesis, which trusts its own members instead: it is for a joining node only")
	}
	for i, p := range c.Raft.TrustedProvinces {
		if !pki.ValidProvince(p) {
			bad(fmt.Sprintf("raft.trusted_provinces[%d]", i), "%q is not a 2-digit province code (e.g. 51 for Sichuan)", p)
		}
	}
	if c.Raft.HeartbeatTimeout < registry.MinHeartbeatTimeout {
		bad("raft.heartbeat_timeout", "%s is below %s, the shortest raft accepts", c.Raft.HeartbeatTimeout, registry.MinHeartbeatTimeout)
	} else if c.Raft.ElectionTimeout < c.Raft.HeartbeatTimeout {
		bad("raft.election_timeout", "%s is below raft.heartbeat_timeout (%s)", c.Raft.ElectionTimeout, c.Raft.HeartbeatTimeout)
	}
	if c.Raft.HeartbeatTimeout >= registry.MinHeartbeatTimeout && c.Raft.StaleAfter < c.Raft.HeartbeatTimeout {
		bad("raft.stale_after", "%s is below raft.heartbeat_timeout; a healthy node would look stale", c.Raft.StaleAfter)
	}
	if c.Policy.Reload <= 0 {
		bad("policy.reload", "%s is not a positive duration", c.Policy.Reload)
	}
	if c.Audit.SignInterval <= 0 {
		bad("audit.sign_interval", "%s is not a positive duration (0 would mean the default, a negative one no signing)", c.Audit.SignInterval)
	}
	if c.Audit.HeadInterval <= 0 {
		bad("audit.head_interval", "%s is not a positive duration", c.Audit.HeadInterval)
	}
	if c.Runtime.GCPercent < -1 || c.Runtime.GCPercent == 0 {
		bad("runtime.gc_percent", "%d is not a positive percentage or -1 (off)", c.Runtime.GCPercent)
	}
	if c.Runtime.MemoryLimitMiB < 0 || (c.Runtime.GCPercent == -1 && c.Runtime.MemoryLimitMiB == 0) {
		bad("runtime.memory_limit_mib", "%d is not a size in MiB, or 0 with gc_percent -1 (no collection at all)", c.Runtime.MemoryLimitMiB)
	} else if c.Runtime.MemoryLimitMiB > maxMemoryLimitMiB {
		bad("runtime.memory_limit_mib", "%d is more than %d (1 TiB); 0 means no limit", c.Runtime.MemoryLimitMiB, maxMemoryLimitMiB)
	}
	if c.Delivery.BatchSize < 1 || c.Delivery.BatchSize > contracts.MaxDeliveryBatch {
		bad("delivery.batch_size", "%d is not between 1 and %d", c.Delivery.BatchSize, contracts.MaxDeliveryBatch)
	}
	if c.Delivery.MinBackoff <= 0 {
		bad("delivery.min_backoff", "%s is not a positive duration", c.Delivery.MinBackoff)
	} else if c.Delivery.MaxBackoff < c.Delivery.MinBackoff {
		bad("delivery.max_backoff", "%s is below delivery.min_backoff (%s)", c.Delivery.MaxBackoff, c.Delivery.MinBackoff)
	}
	if c.Delivery.BreakerFailures == 0 {
		bad("delivery.breaker_failures", "0 is not a count of failures, 1 or more")
	}
	if c.Delivery.BreakerOpen <= 0 {
		bad("delivery.breaker_open", "%s is not a positive duration", c.Delivery.BreakerOpen)
	}
	if c.Delivery.MaxDeferral <= 0 {
		bad("delivery.max_deferral", "%s is not a positive duration", c.Delivery.MaxDeferral)
	} else if c.Delivery.MaxDeferral < c.Delivery.MaxBackoff {
		bad("delivery.max_deferral", "%s is below delivery.max_backoff (%s): a deferred envelope could be buried before it is tried again", c.Delivery.MaxDeferral, c.Delivery.MaxBackoff)
	}
	if c.Peer.MaxRequestsPerProvince < 1 {
		bad("peer.max_requests_per_province", "%d is not a count of requests, 1 or more", c.Peer.MaxRequestsPerProvince)
	}
	if c.Peer.MaxBodiesMiB < 1 || c.Peer.MaxBodiesMiB > maxMemoryLimitMiB {
		bad("peer.max_bodies_mib", "%d is not a size in MiB between 1 and %d (1 TiB)", c.Peer.MaxBodiesMiB, maxMemoryLimitMiB)
	}
	if c.Webhook.URL != "" {
		if p := checkWebhookURL(c.Webhook.URL); p != "" {
			bad("webhook.url", "%s", p)
		}
	}
	if c.Webhook.URL == "" && c.Webhook.CA != "" {
		bad("webhook.ca", "set without webhook.url, so nothing would use it: set both or neither")
	}
	if c.Webhook.Batch < 1 || c.Webhook.Batch > 1000 {
		bad("webhook.batch", "%d is not between 1 and 1000", c.Webhook.Batch)
	}
	if c.Webhook.MaxConsecutiveSkips < 1 {
		bad("webhook.max_consecutive_skips", "%d is not a count of items, 1 or more", c.Webhook.MaxConsecutiveSkips)
	}
	if c.Webhook.Timeout <= 0 {
		bad("webhook.timeout", "%s is not a positive duration", c.Webhook.Timeout)
	}
	if r := c.Inbox.Retention; r != 0 && r < minRetention {
		bad("inbox.retention", "%s is less than %s (0 keeps entries for ever)", r, minRetention)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		bad("log.format", "%q is not json or text", c.Log.Format)
	}
	return errors.Join(errs...)
}

// checkWebhookURL returns what is wrong with webhook.url, or "". The push
// carries inbox items, which hold personal data, so it must be https; plain
// http is only for a system on the node's own host (development, tests),
// where nothing crosses a network. A URL is shown without its password.
func checkWebhookURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		if err == nil {
			raw = u.Redacted()
		}
		return fmt.Sprintf("%q is not an https URL", raw)
	}
	if !webhook.StaysEncrypted(u) {
		return fmt.Sprintf("%q is plain http, which would send the inbox's personal data in clear text: use https "+
			"(plain http is allowed only to a loopback host: 127.0.0.1, ::1 or localhost)", u.Redacted())
	}
	return ""
}

// SharePort reports whether listening on a and b would take one port: the
// same port on the same host, or on every interface (empty or wildcard
// host) and any host. Port 0 is any free port, never shared. Ports are
// compared as numbers (8443 is 08443) and hosts as what they name: IP
// addresses however spelt ([::1] is [0:0:0:0:0:0:0:1], 127.0.0.1 is
// [::ffff:127.0.0.1]), names without regard to case.
func SharePort(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil {
		return false
	}
	na, errA := strconv.ParseUint(pa, 10, 16)
	nb, errB := strconv.ParseUint(pb, 10, 16)
	if errA != nil || errB != nil || na != nb || na == 0 {
		return false
	}
	return sameHost(ha, hb) || ha == "" || wildcard(ha) || hb == "" || wildcard(hb)
}

// wildcard reports whether host is an IP address that stands for every
// interface (0.0.0.0, ::).
func wildcard(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// sameHost reports whether two hosts of listen addresses are one: equal IP
// addresses, or names equal but for case.
func sameHost(a, b string) bool {
	if ia, ib := net.ParseIP(a), net.ParseIP(b); ia != nil && ib != nil {
		return ia.Equal(ib)
	}
	return strings.EqualFold(a, b)
}

// CheckAddr returns what is wrong with a host:port address, or "". An
// address others dial needs a host other than a wildcard and a port other
// than 0; one to listen on may leave the host empty or a wildcard (every
// interface) and take port 0 (any).
func CheckAddr(addr string, dialed bool) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("%q is not host:port", addr)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	switch {
	case err != nil:
		return fmt.Sprintf("%q: port %q is not a number from 0 to 65535", addr, port)
	case dialed && n == 0:
		return fmt.Sprintf("%q: other nodes cannot dial port 0", addr)
	case dialed && host == "":
		return fmt.Sprintf("%q has no host for other nodes to dial", addr)
	case dialed && wildcard(host):
		return fmt.Sprintf("%q: other nodes cannot dial the wildcard host %s", addr, host)
	}
	return ""
}

// applyEnv sets every field whose LABORLINK_<PATH> variable is set, and
// returns the keys it set empty, each with its variable.
func applyEnv(cfg *Config, lookupEnv func(string) (string, bool)) (map[string]string, error) {
	emptied := map[string]string{}
	err := walkEnv(reflect.ValueOf(cfg).Elem(), "LABORLINK", "", func(name, key string, v reflect.Value) error {
		s, ok := lookupEnv(name)
		switch {
		case !ok:
			return nil
		case s == "":
			emptied[key] = name
			return setEmpty(v, name, key)
		}
		if err := setFromString(v, s); err != nil {
			return fmt.Errorf("config: environment %s=%q (%s): %w; want %s", name, s, key, err, wantOf(v.Type()))
		}
		return nil
	})
	return emptied, err
}

// setEmpty sets v, the setting key, empty for its variable name set empty.
// A number or a duration has no empty value: 0 would be a value of its own,
// and leaving the file's would ignore the variable without a word.
func setEmpty(v reflect.Value, name, key string) error {
	if widens, ok := widenedByEmpty[key]; ok {
		return fmt.Errorf("config: environment %s is set empty (%s), which would %s: unset the variable to keep the file's setting, or take the key out of the file",
			name, key, widens)
	}
	switch v.Kind() {
	case reflect.String, reflect.Slice:
		v.SetZero()
		return nil
	}
	return fmt.Errorf("config: environment %s is set empty (%s), which is no value for it: want %s, or unset the variable to keep the file's setting",
		name, key, wantOf(v.Type()))
}

// widenedByEmpty are the settings an empty variable may not clear, with
// what clearing them would open: an empty variable is as often a template's
// slip as a choice, and these only ever loosen a node when emptied.
var widenedByEmpty = map[string]string{
	"policy.province_dir":    "drop the province's own policy, its denials and obligations with it",
	"raft.trusted_provinces": "have a joining node trust the registry of any province",
	"tls.crls":               "drop the revocation lists, so that revoked certificates are accepted again",
}

// emptiedAlong are the keys whose being empty a problem reported under
// another key is about.
var emptiedAlong = map[string][]string{
	"raft":       {"raft.genesis", "raft.join"},
	"webhook.ca": {"webhook.url"},
}

// emptiedBy says which variables set empty the key a problem is reported
// under, or what it is about ("" for none), as " (set empty by NAME)".
func emptiedBy(emptied map[string]string, key string) string {
	var by []string
	for _, k := range append([]string{key}, emptiedAlong[key]...) {
		if name, ok := emptied[k]; ok {
			if k == key {
				by = append(by, name)
			} else {
				by = append(by, name+" ("+k+")")
			}
		}
	}
	if len(by) == 0 {
		return ""
	}
	return " (set empty by " + strings.Join(by, " and ") + ")"
}

// deployEnv are the deploy files' LABORLINK_ variables, none the node's:
// deploy/compose.yaml reads LABORLINK_DIR, LABORLINK_USER and
// LABORLINK_IMAGE (deploy/build.sh the last), and the operator guide has
// them exported in a shell that may then start a node.
var deployEnv = []string{"LABORLINK_DIR", "LABORLINK_IMAGE", "LABORLINK_USER"}

// UnknownEnv returns, sorted, the LABORLINK_ variables of environ
// ("NAME=value" each) that are neither a setting of the node's config, nor
// one of the deploy files' (deploy/compose.yaml, deploy/build.sh), nor one
// of also (the command line's own): a misspelt one would leave its setting
// at its default without a word, which a misspelt key in the file does not.
func UnknownEnv(environ []string, also ...string) []string {
	known := map[string]bool{}
	for _, a := range slices.Concat(deployEnv, also) {
		known[a] = true
	}
	walkEnv(reflect.ValueOf(&Config{}).Elem(), "LABORLINK", "", func(name, _ string, _ reflect.Value) error {
		known[name] = true
		return nil
	})
	var unknown []string
	for _, kv := range environ {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "LABORLINK_") && !known[name] {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	return unknown
}

// walkEnv calls visit for every setting under v, with its variable's name
// and its key, stopping at the first error.
func walkEnv(v reflect.Value, prefix, keyPrefix string, visit func(name, key string, v reflect.Value) error) error {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		name := prefix + "_" + strings.ToUpper(tag)
		key := keyPrefix + tag
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct {
			if err := walkEnv(fv, name, key+".", visit); err != nil {
				return err
			}
			continue
		}
		if err := visit(name, key, fv); err != nil {
			return err
		}
	}
	return nil
}

func setFromString(v reflect.Value, s string) error {
	switch v.Interface().(type) {
	case time.Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
		return nil
	case []string:
		list := strings.Split(s, ",")
		for i := range list {
			list[i] = strings.TrimSpace(list[i])
		}
		v.Set(reflect.ValueOf(list))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return err
		}
		v.SetInt(n)
	case reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, v.Type().Bits())
		if err != nil {
			return err
		}
		v.SetUint(n)
	default:
		return fmt.Errorf("unsupported setting type %s", v.Type())
	}
	return nil
}

var durationType = reflect.TypeFor[time.Duration]()

// decodeError rewrites yaml's errors, which give a line, into one per bad
// key that names the key by its full path (delivery.batch_size), the value
// and what the key takes. A file yaml cannot parse at all keeps yaml's error.
func decodeError(path string, data []byte, err error) error {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return fmt.Errorf("config %s: %w", path, err)
	}
	probs := keyProblems(doc.Content[0], reflect.TypeFor[Config](), "")
	if len(probs) == 0 {
		return fmt.Errorf("config %s: %w", path, err)
	}
	errs := make([]error, len(probs))
	for i, p := range probs {
		errs[i] = fmt.Errorf("config %s: %s", path, p)
	}
	return errors.Join(errs...)
}

// keyProblems checks the mapping n against the struct type t, key by key.
func keyProblems(n *yaml.Node, t reflect.Type, prefix string) []string {
	where := prefix
	if where == "" {
		where = "the file"
	}
	if n.Kind != yaml.MappingNode {
		return []string{fmt.Sprintf("%s: line %d: %s is not a mapping of settings (key: value lines)", where, n.Line, describeNode(n))}
	}
	fields := map[string]reflect.Type{}
	var names []string
	for i := range t.NumField() {
		if tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]; tag != "" && tag != "-" {
			fields[tag] = t.Field(i).Type
			names = append(names, tag)
		}
	}
	var probs []string
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		if prefix != "" {
			key = prefix + "." + k.Value
		}
		ft, known := fields[k.Value]
		switch first, dup := seen[k.Value]; {
		case dup:
			probs = append(probs, fmt.Sprintf("%s: line %d: set twice (first at line %d)", key, k.Line, first))
			continue
		case !known:
			probs = append(probs, fmt.Sprintf("%s: line %d: unknown key; %s takes %s", key, k.Line, where, strings.Join(names, ", ")))
			continue
		}
		seen[k.Value] = k.Line
		if v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		if v.ShortTag() == "!!null" {
			continue // no value: yaml takes it (a default stays, a list empties)
		}
		if ft.Kind() == reflect.Struct && ft != durationType {
			probs = append(probs, keyProblems(v, ft, key)...)
		} else if err := v.Decode(reflect.New(ft).Interface()); err != nil {
			probs = append(probs, fmt.Sprintf("%s: line %d: %s is not %s", key, v.Line, describeNode(v), wantOf(ft)))
		}
	}
	return probs
}

// describeNode shows a value as the file has it.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	v := n.Value
	if len(v) > 40 {
		v = v[:40] + "..."
	}
	return strconv.Quote(v)
}

// wantOf says in words what a setting of type t takes.
func wantOf(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration with a unit, such as 300ms, 5s or 1m"
	case t.Kind() == reflect.Slice:
		return "a list of strings, such as [a, b]"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Uint32 || t.Kind() == reflect.Uint64:
		return fmt.Sprintf("a whole number from 0 to %d", uint64(1)<<t.Bits()-1)
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		return "a whole number"
	}
	return "a " + t.String()
}
