package docs_test

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/node"
)

// setting is one leaf of node.Config, as the config file names it.
type setting struct {
	key   string // raft.heartbeat_timeout
	env   string // LABORLINK_RAFT_HEARTBEAT_TIMEOUT
	value reflect.Value
}

// settings walks node.Config's yaml tags the way the loader does, with the
// defaults of node.DefaultConfig.
func settings() []setting {
	var out []setting
	var walk func(v reflect.Value, key, env string)
	walk = func(v reflect.Value, key, env string) {
		t := v.Type()
		for i := range t.NumField() {
			tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" {
				continue
			}
			k, e := tag, env+"_"+strings.ToUpper(tag)
			if key != "" {
				k = key + "." + tag
			}
			if f := v.Field(i); f.Kind() == reflect.Struct && f.Type() != reflect.TypeFor[time.Duration]() {
				walk(f, k, e)
			} else {
				out = append(out, setting{key: k, env: e, value: f})
			}
		}
	}
	walk(reflect.ValueOf(node.DefaultConfig()), "", "LABORLINK")
	return out
}

var (
	rowRE  = regexp.MustCompile("^\\|\\s*`([a-z_.]+)`\\s*\\|(.*)$")
	codeRE = regexp.MustCompile("`([^`]*)`")
)

// referenceRows returns the rows of configuration.md's tables whose first
// cell is a setting's key, by key, as their remaining cells.
func referenceRows(t *testing.T) map[string][]string {
	t.Helper()
	data, err := os.ReadFile("configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(string(data), "\n") {
		m := rowRE.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		cells := strings.Split(strings.TrimSuffix(strings.TrimSpace(m[2]), "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if _, dup := rows[m[1]]; dup {
			t.Errorf("configuration.md lists %s twice", m[1])
		}
		rows[m[1]] = cells
	}
	return rows
}

// TestConfigurationReference checks that docs/configuration.md has a row
// for every setting of node.Config, in the form
//
//	| `key` | default | `LABORLINK_ENV` | meaning |
//
// whose default agrees with node.DefaultConfig (where that default is not
// empty: derived defaults such as "same as listen" are prose), and that it
// lists no setting the code does not have.
func TestConfigurationReference(t *testing.T) {
	rows := referenceRows(t)
	known := map[string]bool{}
	for _, s := range settings() {
		known[s.key] = true
		cells, ok := rows[s.key]
		if !ok {
			t.Errorf("configuration.md has no row for %s (default %v)", s.key, s.value)
			continue
		}
		if len(cells) < 3 {
			t.Errorf("configuration.md: the row of %s has %d cells, want default, environment variable and meaning", s.key, len(cells))
			continue
		}
		if cells[1] != "`"+s.env+"`" {
			t.Errorf("configuration.md: %s is overridden by `%s`, the row says %s", s.key, s.env, cells[1])
		}
		if cells[2] == "" {
			t.Errorf("configuration.md: %s has no meaning", s.key)
		}
		checkDefault(t, s, cells[0])
	}
	for key := range rows {
		if !known[key] {
			t.Errorf("configuration.md lists %s, which node.Config does not have", key)
		}
	}
}

func checkDefault(t *testing.T, s setting, cell string) {
	t.Helper()
	if cell == "" {
		t.Errorf("configuration.md: %s has no default cell", s.key)
		return
	}
	if s.value.IsZero() {
		return // required, empty or derived: said in words
	}
	m := codeRE.FindStringSubmatch(cell)
	if m == nil {
		t.Errorf("configuration.md: the default of %s is %v, the row says %q (want it in backticks)", s.key, s.value, cell)
		return
	}
	doc := m[1]
	var ok bool
	switch v := s.value.Interface().(type) {
	case time.Duration:
		d, err := time.ParseDuration(doc)
		ok = err == nil && d == v
	case string:
		ok = doc == v
	default:
		switch s.value.Kind() {
		case reflect.Int, reflect.Int64:
			n, err := strconv.ParseInt(doc, 10, 64)
			ok = err == nil && n == s.value.Int()
		case reflect.Uint32, reflect.Uint64:
			n, err := strconv.ParseUint(doc, 10, 64)
			ok = err == nil && n == s.value.Uint()
		default:
			t.Errorf("configuration.md: cannot compare the default of %s (%s); teach the test", s.key, s.value.Type())
			return
		}
	}
	if !ok {
		t.Errorf("configuration.md: the default of %s is %v, the row says %s", s.key, s.value, doc)
	}
}

// TestConfigurationExamples loads every YAML file the configuration guide
// shows (```yaml file=NAME) with the node's own loader: the examples must
// be valid configs.
func TestConfigurationExamples(t *testing.T) {
	n := 0
	for _, b := range parseBlocks(t, "configuration.md") {
		if b.lang != "yaml" || b.file == "" {
			continue
		}
		n++
		path := filepath.Join(t.TempDir(), b.file)
		if err := os.WriteFile(path, []byte(b.body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := node.LoadConfig(path, nil); err != nil {
			t.Errorf("%s: %v", b, err)
		}
	}
	if n == 0 {
		t.Error("configuration.md shows no example file (```yaml file=node.yaml)")
	}
}
