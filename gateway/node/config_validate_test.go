package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// minimalConfig is the least a node needs; cases add to it or replace a line.
const minimalConfig = `province: "51"
name: gw-1
data_dir: data
tls: {cert: c.pem, key: k.pem, root: r.pem}
raft: {genesis: g.json}
`

// configCase is a config file, maybe environment overrides, and every
// string the load's error must contain ("" for a config that loads).
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
			_, err := LoadConfig(path, func(k string) string { return tc.env[k] })
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
		{"env count wraps", minimalConfig, map[string]string{"LABORLINK_DELIVERY_BREAKER_FAILURES": "4294967297"},
			[]string{"LABORLINK_DELIVERY_BREAKER_FAILURES", "delivery.breaker_failures", "out of range"}},
		{"env names the key", minimalConfig, map[string]string{"LABORLINK_RAFT_STALE_AFTER": "5"},
			[]string{"LABORLINK_RAFT_STALE_AFTER", "(raft.stale_after)", "a duration with a unit"}},
	})
}
