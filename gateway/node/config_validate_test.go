package node

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// minimalConfig is the least a node needs; cases add to it or replace a line.
const minimalConfig = `province: "51"
name: gw-1
data_dir: data
tls: {cert: c.pem, key: k.pem, root: r.pem}
raft: {genesis: g.json}
`

// configCase is a config file, maybe environment overrides (a variable in
// env is set, if to ""), and every string the load's error must contain
// (none for a config that loads).
type configCase struct {
	name, yaml string
	env        map[string]string
	want       []string
}

func runConfigCases(t *testing.T, cases []configCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "node.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadConfig(path, lookupIn(tc.env))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("err = %v, want none", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("loaded; want an error containing %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

// lookupIn is os.LookupEnv over env.
func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

// withRaft replaces the minimal config's raft line.
func withRaft(raft string) string {
	return strings.Replace(minimalConfig, "raft: {genesis: g.json}\n", "raft: "+raft+"\n", 1)
}

// TestLoadConfigDecodeErrorsNameTheKey: yaml's own errors give only a line;
// the loader's name the key by its full path, the value and what it takes.
func TestLoadConfigDecodeErrorsNameTheKey(t *testing.T) {
	runConfigCases(t, []configCase{
		{"string for a number", minimalConfig + "delivery: {batch_size: many}\n", nil,
			[]string{"node.yaml", "delivery.batch_size", `"many"`, "a whole number"}},
		{"duration without unit", minimalConfig + "policy:\n  reload: 5\n", nil,
			[]string{"policy.reload", `"5"`, "a duration with a unit"}},
		{"negative count", minimalConfig + "delivery: {breaker_failures: -1}\n", nil,
			[]string{"delivery.breaker_failures", `"-1"`, "from 0 to 4294967295"}},
		{"scalar for a section", strings.Replace(minimalConfig, "raft: {genesis: g.json}", "raft: g.json", 1), nil,
			[]string{"raft", `"g.json"`, "not a mapping"}},
		{"list for a string", minimalConfig + "listen: [a, b]\n", nil,
			[]string{"listen", "a list", "a string"}},
		{"unknown nested key", minimalConfig + "audit: {sign_intervall: 1m}\n", nil,
			[]string{"audit.sign_intervall", "unknown key", "sign_interval"}},
		{"two problems at once", minimalConfig + "delivery: {batch_size: x, min_backoff: 1}\n", nil,
			[]string{"delivery.batch_size", "delivery.min_backoff"}},
		{"key set twice", minimalConfig + "log: {level: info}\nlog: {format: text}\n", nil,
			[]string{"log", "set twice"}},
		{"empty file", "", nil,
			[]string{"province: required", "name: required", "data_dir: required", "tls.cert: required"}},
		{"comments only", "# to do\n", nil, []string{"province: required"}},
		{"second document", minimalConfig + "---\nlisten: 127.0.0.1:1\n", nil,
			[]string{"node.yaml", "second YAML document"}},
		{"document marker at the end", minimalConfig + "---\n", nil, nil},
		{"empty second document", "---\n" + minimalConfig + "---\n# nothing here yet\n", nil, nil},
		{"env count wraps", minimalConfig, map[string]string{"LABORLINK_DELIVERY_BREAKER_FAILURES": "4294967297"},
			[]string{"LABORLINK_DELIVERY_BREAKER_FAILURES", "delivery.breaker_failures", "out of range"}},
		{"env names the key", minimalConfig, map[string]string{"LABORLINK_RAFT_STALE_AFTER": "5"},
			[]string{"LABORLINK_RAFT_STALE_AFTER", "(raft.stale_after)", "a duration with a unit"}},
	})
}

// TestValidateAddresses: every address must parse as host:port with a
// numeric port; addresses others dial need a host and a port; two
// listeners cannot share an address.
func TestValidateAddresses(t *testing.T) {
	runConfigCases(t, []configCase{
		{"ports 0 to listen", minimalConfig + "listen: 127.0.0.1:8443\nadvertise: gw-1.example:8443\nops_listen: 127.0.0.1:0\n", nil, nil},
		{"wildcard listen", minimalConfig + "listen: \":8443\"\nadvertise: gw-1.example:8443\n", nil, nil},
		{"no port", minimalConfig + "listen: nowhere\n", nil, []string{"listen", `"nowhere" is not host:port`}},
		{"port not a number", minimalConfig + "listen: 127.0.0.1:https\n", nil, []string{"listen", `port "https"`, "0 to 65535"}},
		{"port too large", minimalConfig + "ops_listen: 127.0.0.1:99999\n", nil, []string{"ops_listen", `port "99999"`}},
		{"raft port too large", withRaft("{genesis: g.json, listen: 127.0.0.1:70000}"), nil, []string{"raft.listen", `port "70000"`}},
		{"voter on every interface", withRaft("{genesis: g.json, listen: \":8300\"}") + "listen: \":8443\"\n", nil, nil},
		{"voter on ports 0", withRaft("{genesis: g.json, listen: 127.0.0.1:0}") + "listen: 127.0.0.1:0\nops_listen: 127.0.0.1:0\n", nil, nil},
		{"voter on IPv6", withRaft("{genesis: g.json, listen: \"[::]:8300\"}") + "listen: \"[::1]:0\"\nops_listen: \"[::]:9090\"\n", nil, nil},
		{"advertise port 0", withRaft("{join: [a.example:8443]}") + "advertise: gw-1.example:0\n", nil, []string{"advertise", "port 0"}},
		{"advertise no host", withRaft("{join: [a.example:8443]}") + "listen: \":8443\"\n", nil, []string{"advertise", "no host"}},
		{"joining raft listen no host", withRaft("{join: [a.example:8443], listen: \":8300\"}"), nil, []string{"raft.advertise", "no host", "defaults to raft.listen"}},
		{"joining on a wildcard", withRaft("{join: [a.example:8443], listen: 0.0.0.0:8300}") + "listen: \"[::]:8443\"\n", nil,
			[]string{"raft.advertise", "wildcard host 0.0.0.0", "defaults to raft.listen", "advertise", "wildcard host ::", "defaults to listen"}},
		{"joining advertises a wildcard", withRaft("{join: [a.example:8443], listen: 0.0.0.0:8300, advertise: 0.0.0.0:8300}"), nil,
			[]string{"raft.advertise", "wildcard host 0.0.0.0"}},
		{"joining on a wildcard, advertising names", withRaft("{join: [a.example:8443], listen: 0.0.0.0:8300, advertise: gw-1.p51.example:8300}") +
			"listen: 0.0.0.0:8443\nadvertise: gw-1.p51.example:8443\n", nil, nil},
		{"join not host:port", withRaft("{join: [gw-1.p51.example:8443, gw-1.p44.example]}"), nil, []string{"raft.join[1]", `"gw-1.p44.example"`}},
		{"join empty entry", minimalConfig, map[string]string{"LABORLINK_RAFT_JOIN": "a.example:8443,"}, []string{"raft.join[1]", `""`}},
		{"ops on the API port", minimalConfig + "ops_listen: 127.0.0.1:8443\n", nil, []string{"ops_listen", "port of listen"}},
		{"raft on the API port", withRaft("{genesis: g.json, listen: 127.0.0.1:8443}"), nil, []string{"raft.listen", "port of listen"}},
		{"ops on the API port of every interface", minimalConfig + "listen: \":8443\"\nadvertise: gw-1.example:8443\nops_listen: 127.0.0.1:8443\n", nil, []string{"ops_listen", "port of listen"}},
		{"raft on a wildcard API port", withRaft("{genesis: g.json, listen: \"[::]:8443\"}") + "listen: 0.0.0.0:8443\n", nil, []string{"raft.listen", "port of listen"}},
		{"same port on two hosts", withRaft("{genesis: g.json, listen: 127.0.0.2:8443}") + "listen: 127.0.0.1:8443\n", nil, nil},
		{"ops on the API port, IPv6 spelt out", minimalConfig + "listen: \"[::1]:8443\"\nops_listen: \"[0:0:0:0:0:0:0:1]:8443\"\n", nil, []string{"ops_listen", "port of listen"}},
		{"raft on the API port, IPv4-mapped", withRaft("{genesis: g.json, listen: \"[::ffff:127.0.0.1]:8443\"}") + "listen: 127.0.0.1:8443\n", nil, []string{"raft.listen", "port of listen"}},
		{"ops on the API port, zero-padded", minimalConfig + "listen: 127.0.0.1:8443\nops_listen: 127.0.0.1:08443\n", nil, []string{"ops_listen", "port of listen"}},
		{"ops on the API port, host in capitals", minimalConfig + "listen: gw-1.example:8443\nops_listen: GW-1.example:8443\n", nil, []string{"ops_listen", "port of listen"}},
		{"ports 0 spelt 00", minimalConfig + "listen: 127.0.0.1:00\nops_listen: 127.0.0.1:00\n", nil, nil},
	})
}

// TestValidateSettings: values the node would misbehave with, or that
// would fail later without naming their key, are refused by name.
func TestValidateSettings(t *testing.T) {
	runConfigCases(t, []configCase{
		{"name not a DNS label", strings.Replace(minimalConfig, "name: gw-1", "name: GW_1", 1), nil, []string{"name", `"GW_1"`, "lower-case"}},
		{"trusted provinces", withRaft("{join: [a.example:8443], trusted_provinces: [\"51\", \"5\", \"99\"]}"), nil,
			[]string{"raft.trusted_provinces[1]", `"5"`, "raft.trusted_provinces[2]", `"99"`}},
		{"trusted provinces with genesis", withRaft("{genesis: g.json, trusted_provinces: [\"51\"]}"), nil,
			[]string{"raft.trusted_provinces", "raft.genesis"}},
		{"env list with spaces", withRaft("{join: [a.example:8443]}"), map[string]string{"LABORLINK_RAFT_TRUSTED_PROVINCES": "51, 44"}, nil},
		{"trusted province fine", withRaft("{join: [a.example:8443], trusted_provinces: [\"51\", \"44\"]}"), nil, nil},
		{"raft advertise differs", withRaft("{genesis: g.json, listen: 0.0.0.0:8300, advertise: 10.0.0.1:8300}"), nil, nil},
		{"heartbeat below raft's floor", withRaft("{genesis: g.json, heartbeat_timeout: 1ms, election_timeout: 1ms, stale_after: 1s}"), nil,
			[]string{"raft.heartbeat_timeout", "1ms", "5ms"}},
		{"negative heartbeat", withRaft("{genesis: g.json, heartbeat_timeout: -1s}"), nil, []string{"raft.heartbeat_timeout", "-1s"}},
		{"election below heartbeat", withRaft("{genesis: g.json, heartbeat_timeout: 2s, election_timeout: 1s, stale_after: 5s}"), nil,
			[]string{"raft.election_timeout", "1s is below raft.heartbeat_timeout (2s)"}},
		{"sign interval zero", minimalConfig + "audit: {sign_interval: 0s}\n", nil, []string{"audit.sign_interval", "0s"}},
		{"sign interval negative", minimalConfig + "audit: {sign_interval: -1m}\n", nil, []string{"audit.sign_interval", "-1m0s"}},
		{"head interval zero", minimalConfig + "audit: {head_interval: 0s}\n", nil, []string{"audit.head_interval", "0s"}},
		{"min backoff zero", minimalConfig + "delivery: {min_backoff: 0s}\n", nil, []string{"delivery.min_backoff", "0s"}},
		{"max below min backoff", minimalConfig + "delivery: {min_backoff: 2s, max_backoff: 1s}\n", nil,
			[]string{"delivery.max_backoff", "1s is below delivery.min_backoff (2s)"}},
		{"breaker open zero", minimalConfig + "delivery: {breaker_open: 0s}\n", nil, []string{"delivery.breaker_open", "0s"}},
		{"breaker failures zero", minimalConfig + "delivery: {breaker_failures: 0}\n", nil, []string{"delivery.breaker_failures", "0"}},
		{"max deferral zero", minimalConfig + "delivery: {max_deferral: 0s}\n", nil, []string{"delivery.max_deferral", "0s is not a positive duration"}},
		{"max deferral below max backoff", minimalConfig + "delivery: {max_backoff: 1h, max_deferral: 30m}\n", nil,
			[]string{"delivery.max_deferral", "30m0s is below delivery.max_backoff (1h0m0s)"}},
		{"max deferral from the environment", minimalConfig, map[string]string{"LABORLINK_DELIVERY_MAX_DEFERRAL": "-1h"}, []string{"delivery.max_deferral", "-1h0m0s"}},
		{"max deferral fine", minimalConfig + "delivery: {max_deferral: 168h}\n", nil, nil},
		{"memory limit absurd", minimalConfig + "runtime: {memory_limit_mib: 9000000000000}\n", nil,
			[]string{"runtime.memory_limit_mib", "9000000000000", "1 TiB"}},
		{"empty crl path", strings.Replace(minimalConfig, "root: r.pem}", "root: r.pem, crls: [a.crl, \"\"]}", 1), nil, []string{"tls.crls[1]", "empty"}},
		{"peer requests zero", minimalConfig + "peer: {max_requests_per_province: 0}\n", nil, []string{"peer.max_requests_per_province", "0", "1 or more"}},
		{"peer requests from the environment", minimalConfig, map[string]string{"LABORLINK_PEER_MAX_REQUESTS_PER_PROVINCE": "-2"}, []string{"peer.max_requests_per_province", "-2"}},
		{"peer requests set", minimalConfig + "peer: {max_requests_per_province: 16}\n", nil, nil},
		{"peer bodies zero", minimalConfig + "peer: {max_bodies_mib: 0}\n", nil, []string{"peer.max_bodies_mib", "0", "between 1 and 1048576"}},
		{"peer bodies absurd", minimalConfig + "peer: {max_bodies_mib: 9000000000000}\n", nil, []string{"peer.max_bodies_mib", "9000000000000", "1 TiB"}},
		{"peer bodies from the environment", minimalConfig, map[string]string{"LABORLINK_PEER_MAX_BODIES_MIB": "-64"}, []string{"peer.max_bodies_mib", "-64"}},
		{"peer bodies set", minimalConfig + "peer: {max_bodies_mib: 256}\n", nil, nil},
		{"webhook ca without url", minimalConfig + "webhook: {ca: ca.pem}\n", nil, []string{"webhook.ca", "webhook.url"}},
		{"webhook ca with url", minimalConfig + "webhook: {url: \"https://hr.example/in\", ca: ca.pem}\n", nil, nil},
		{"webhook over plain http", minimalConfig + "webhook: {url: \"http://hr.example/in\"}\n", nil,
			[]string{"webhook.url", `"http://hr.example/in"`, "plain http", "personal data", "use https", "loopback"}},
		{"webhook over plain http hides the password", minimalConfig + "webhook: {url: \"http://hr:s3cret@10.0.0.7/in\"}\n", nil,
			[]string{"webhook.url", `"http://hr:xxxxx@10.0.0.7/in"`, "plain http"}},
		{"webhook over plain http to a name like localhost", minimalConfig + "webhook: {url: \"http://localhost.hr.example/in\"}\n", nil,
			[]string{"webhook.url", "plain http"}},
		{"webhook over plain http to 127.0.0.1", minimalConfig + "webhook: {url: \"http://127.0.0.1:8080/in\"}\n", nil, nil},
		{"webhook over plain http to 127.0.0.0/8", minimalConfig + "webhook: {url: \"http://127.1.2.3:8080/in\"}\n", nil, nil},
		{"webhook over plain http to ::1", minimalConfig + "webhook: {url: \"http://[::1]:8080/in\"}\n", nil, nil},
		{"webhook over plain http to localhost", minimalConfig + "webhook: {url: \"http://LocalHost:8080/in\"}\n", nil, nil},
		{"webhook over https", minimalConfig + "webhook: {url: \"https://hr.example/in\"}\n", nil, nil},
		{"webhook not a URL", minimalConfig + "webhook: {url: \"ftp://hr.example/in\"}\n", nil, []string{"webhook.url", "not an https URL"}},
		{"webhook from the environment", minimalConfig, map[string]string{"LABORLINK_WEBHOOK_URL": "http://hr.example/in"},
			[]string{"webhook.url", "plain http"}},
		{"webhook timeout zero", minimalConfig + "webhook: {timeout: 0s}\n", nil, []string{"webhook.timeout", "0s", "positive"}},
		{"webhook timeout negative", minimalConfig + "webhook: {timeout: -5s}\n", nil, []string{"webhook.timeout", "-5s"}},
		{"webhook timeout from the environment", minimalConfig, map[string]string{"LABORLINK_WEBHOOK_TIMEOUT": "0s"}, []string{"webhook.timeout", "0s"}},
		{"webhook timeout set", minimalConfig + "webhook: {timeout: 2m}\n", nil, nil},
		{"inbox retention under a day", minimalConfig + "inbox: {retention: 12h}\n", nil, []string{"inbox.retention", "12h0m0s", "24h0m0s"}},
		{"inbox retention negative", minimalConfig + "inbox: {retention: -24h}\n", nil, []string{"inbox.retention", "-24h0m0s"}},
		{"inbox retention from the environment", minimalConfig, map[string]string{"LABORLINK_INBOX_RETENTION": "1h"}, []string{"inbox.retention", "1h0m0s"}},
		{"inbox retention of 90 days", minimalConfig + "inbox: {retention: 2160h}\n", nil, nil},
		{"inbox retention off", minimalConfig + "inbox: {retention: 0s}\n", nil, nil},
	})
}

// TestLoadConfigDecodeErrorsSparePresentKeys: a section left empty (all its
// settings commented out) is no error, so a bad key elsewhere must not get
// it reported as one.
func TestLoadConfigDecodeErrorsSparePresentKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.yaml")
	if err := os.WriteFile(path, []byte(minimalConfig+"webhook:\n  # url: https://hr.example/in\nlog: {levl: debug}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadConfig(path, nil)
	if err == nil || !strings.Contains(err.Error(), "log.levl") || strings.Contains(err.Error(), "webhook") {
		t.Fatalf("err = %v; want log.levl named, webhook not", err)
	}
}

// TestOpenNamesEveryMissingFile: a node whose configuration names files it
// cannot read is refused with every one of them, each by its key, before it
// creates anything in its data directory.
func TestOpenNamesEveryMissingFile(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "policy.rego")
	if err := os.WriteFile(notDir, []byte("package laborlink.province\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Province, cfg.Name, cfg.DataDir = "51", "gw-1", filepath.Join(dir, "data")
	cfg.Listen, cfg.OpsListen, cfg.Raft.Listen = "127.0.0.1:0", "", "127.0.0.1:0"
	cfg.Advertise, cfg.Raft.Advertise = cfg.Listen, cfg.Raft.Listen
	cfg.TLS = TLSConfig{Cert: filepath.Join(dir, "node.pem"), Key: filepath.Join(dir, "node-key.pem"), Root: dir, CRLs: []string{filepath.Join(dir, "p51.crl")}}
	cfg.Raft.Genesis = filepath.Join(dir, "genesis.json")
	cfg.Policy.ProvinceDir = notDir
	_, err := Open(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Fatal("opened")
	}
	for _, want := range []string{
		"tls.cert: stat " + cfg.TLS.Cert, "tls.key: stat " + cfg.TLS.Key, "tls.root: " + dir + " is a directory",
		"tls.crls[0]: stat " + cfg.TLS.CRLs[0], "raft.genesis: stat " + cfg.Raft.Genesis, "policy.province_dir: " + notDir + " is a file",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	if _, err := os.Stat(cfg.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data_dir was created before the files were checked: %v", err)
	}
}

// TestUnknownEnv: a LABORLINK_ variable that is no setting, such as a
// misspelt one, is found; the settings' own and those named as the
// command line's are not, nor other programs' variables.
func TestUnknownEnv(t *testing.T) {
	got := UnknownEnv([]string{
		"LABORLINK_DELIVERY_BATCH_SIZE=5", "LABORLINK_DELIVERY_BATCHSIZE=5", "LABORLINK_RAFT_JOIN=a:1,b:2",
		"LABORLINK_NODE=https://x:8443", "LABORLINK_LISTEN", "LABORLINK_LISTENER=:1", "HOME=/root", "LABORLINK_=x",
	}, "LABORLINK_NODE")
	want := []string{"LABORLINK_", "LABORLINK_DELIVERY_BATCHSIZE", "LABORLINK_LISTENER"}
	if !slices.Equal(got, want) {
		t.Errorf("UnknownEnv = %q, want %q", got, want)
	}
}

// TestUnknownEnvSparesTheDeployFiles: the variables deploy/compose.yaml and
// deploy/build.sh read, which the operator guide exports in the shell an
// operator may then start a node from, are not reported as misspelt.
func TestUnknownEnvSparesTheDeployFiles(t *testing.T) {
	got := UnknownEnv([]string{"LABORLINK_DIR=/srv/federation", "LABORLINK_USER=1000:1000", "LABORLINK_IMAGE=laborlink:dev", "LABORLINK_DIRS=x"})
	if want := []string{"LABORLINK_DIRS"}; !slices.Equal(got, want) {
		t.Errorf("UnknownEnv = %q, want %q", got, want)
	}
}

// TestEnvSetEmpty: a variable set empty sets its setting empty, as
// os.LookupEnv tells it from one not set. Where empty means something it
// takes effect; where it is no value the error names the key and the
// variable.
func TestEnvSetEmpty(t *testing.T) {
	file := minimalConfig + "ops_listen: 127.0.0.1:9191\nadvertise: gw-1.example:8443\naudit: {key: a.key}\nworker_key: w.key\n" +
		"webhook: {url: \"https://hr.example/in\"}\npolicy: {province_dir: rules}\n"
	file = strings.Replace(file, "root: r.pem}", "root: r.pem, crls: [p51.crl]}", 1)
	path := filepath.Join(t.TempDir(), "node.yaml")
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"LABORLINK_OPS_LISTEN": "", "LABORLINK_ADVERTISE": "", "LABORLINK_AUDIT_KEY": "", "LABORLINK_WORKER_KEY": "", "LABORLINK_WEBHOOK_URL": "",
	}
	cfg, err := LoadConfig(path, lookupIn(env))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ key, got, want string }{
		{"ops_listen", cfg.OpsListen, ""},
		{"advertise", cfg.Advertise, cfg.Listen},
		{"audit.key", cfg.Audit.Key, filepath.Join(cfg.DataDir, "audit.key")},
		{"worker_key", cfg.WorkerKey, filepath.Join(cfg.DataDir, "worker.key")},
		{"webhook.url", cfg.Webhook.URL, ""},
	} {
		if c.got != c.want {
			t.Errorf("%s set empty: %q, want %q", c.key, c.got, c.want)
		}
	}
	// An empty variable cannot clear what only ever loosens a node when
	// cleared: the province's policy, the revocation lists, the provinces
	// a joining node trusts.
	for name, key := range map[string]string{"LABORLINK_POLICY_PROVINCE_DIR": "policy.province_dir", "LABORLINK_TLS_CRLS": "tls.crls", "LABORLINK_RAFT_TRUSTED_PROVINCES": "raft.trusted_provinces"} {
		_, err := LoadConfig(path, lookupIn(map[string]string{name: ""}))
		if want := fmt.Sprintf("environment %s is set empty (%s), which would ", name, key); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "unset the variable") {
			t.Errorf("%s set empty: %v; want refused, saying %q and what to do", name, err, want)
		}
	}

	runConfigCases(t, []configCase{
		{"required", minimalConfig, map[string]string{"LABORLINK_PROVINCE": "", "LABORLINK_NAME": "", "LABORLINK_DATA_DIR": "", "LABORLINK_TLS_CERT": "", "LABORLINK_TLS_KEY": "", "LABORLINK_TLS_ROOT": ""},
			[]string{"province: required", "(set empty by LABORLINK_PROVINCE)", "name: required", "(set empty by LABORLINK_NAME)",
				"data_dir: required", "(set empty by LABORLINK_DATA_DIR)", "tls.cert: required (set empty by LABORLINK_TLS_CERT)",
				"tls.key: required (set empty by LABORLINK_TLS_KEY)", "tls.root: required (set empty by LABORLINK_TLS_ROOT)"}},
		{"genesis", minimalConfig, map[string]string{"LABORLINK_RAFT_GENESIS": ""},
			[]string{"raft: set raft.genesis", "(set empty by LABORLINK_RAFT_GENESIS (raft.genesis))"}},
		{"genesis with a join", minimalConfig, map[string]string{"LABORLINK_RAFT_GENESIS": "", "LABORLINK_RAFT_JOIN": "a.example:8443"}, nil},
		{"listen", minimalConfig, map[string]string{"LABORLINK_LISTEN": ""}, []string{`listen: "" is not host:port (set empty by LABORLINK_LISTEN)`}},
		{"log level", minimalConfig, map[string]string{"LABORLINK_LOG_LEVEL": ""}, []string{"log.level", "(set empty by LABORLINK_LOG_LEVEL)"}},
		{"webhook url under a ca", minimalConfig + "webhook: {url: \"https://hr.example/in\", ca: ca.pem}\n", map[string]string{"LABORLINK_WEBHOOK_URL": ""},
			[]string{"webhook.ca: set without webhook.url", "(set empty by LABORLINK_WEBHOOK_URL (webhook.url))"}},
		{"number", minimalConfig, map[string]string{"LABORLINK_DELIVERY_BATCH_SIZE": ""},
			[]string{"LABORLINK_DELIVERY_BATCH_SIZE is set empty (delivery.batch_size)", "a whole number", "unset the variable"}},
		{"duration", minimalConfig, map[string]string{"LABORLINK_RAFT_STALE_AFTER": ""},
			[]string{"LABORLINK_RAFT_STALE_AFTER is set empty (raft.stale_after)", "a duration with a unit"}},
	})
}

// TestEveryConfigKeyHasItsVariable: each key of the config file, as yaml
// writes a config out, has its LABORLINK_ variable, which LoadConfig looks
// up and UnknownEnv therefore spares; and UnknownEnv spares no other
// variable of the node's than those LoadConfig looks up.
func TestEveryConfigKeyHasItsVariable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.yaml")
	if err := os.WriteFile(path, []byte(minimalConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	looked := map[string]bool{}
	if _, err := LoadConfig(path, func(name string) (string, bool) { looked[name] = true; return "", false }); err != nil {
		t.Fatal(err)
	}
	keys := yamlKeys(t, DefaultConfig())
	if len(keys) < 20 {
		t.Fatalf("only %d keys in a written config: %v", len(keys), keys)
	}
	for _, key := range keys {
		name := "LABORLINK_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
		if !looked[name] {
			t.Errorf("%s: LoadConfig does not look up %s", key, name)
		}
		if u := UnknownEnv([]string{name + "=x"}); len(u) != 0 {
			t.Errorf("%s: UnknownEnv reports %s as no setting", key, name)
		}
	}
	for name := range looked {
		if u := UnknownEnv([]string{name + "=x"}); len(u) != 0 {
			t.Errorf("LoadConfig looks up %s, which UnknownEnv reports as no setting", name)
		}
	}
	if len(looked) != len(keys) {
		t.Errorf("LoadConfig looks up %d variables for %d keys", len(looked), len(keys))
	}
}

// yamlKeys are the dotted paths of the leaves of v written as YAML.
func yamlKeys(t *testing.T, v any) []string {
	t.Helper()
	var doc yaml.Node
	b, err := yaml.Marshal(v)
	if err == nil {
		err = yaml.Unmarshal(b, &doc)
	}
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		if n.Kind != yaml.MappingNode {
			keys = append(keys, prefix)
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if prefix != "" {
				key = prefix + "." + key
			}
			walk(n.Content[i+1], key)
		}
	}
	walk(doc.Content[0], "")
	return keys
}
