package node

import (
	"strings"
	"testing"

	"github.com/laborlink/laborlink/federation/registry"
)

// storeWithNodes is a registry store whose node table holds nodes, as a
// snapshot brings it: the directory reads nothing else.
func storeWithNodes(t *testing.T, nodes string) *registry.Store {
	t.Helper()
	s := registry.NewStore()
	if err := s.Restore(strings.NewReader(`{"v":1,"state":{"nodes":{` + nodes + `}}}`)); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDeliveriesGoToTheNodeNamedFirst: of a province's nodes, deliveries
// go to the one whose name sorts first, however their addresses sort, so
// that a second node (a registry voter, one brought up to replace it)
// never takes a province's deliveries, which land in its own store, only
// because its address sorts first; every sender picks the same node. A
// node without an API address is not reached.
func TestDeliveriesGoToTheNodeNamedFirst(t *testing.T) {
	s := storeWithNodes(t, `
		"p51/node/gw-1": {"id": "p51/node/gw-1", "api_addr": "10.51.0.20:8443", "province": "51", "joined_at": "2026-03-01T00:00:00Z"},
		"p51/node/gw-2": {"id": "p51/node/gw-2", "api_addr": "10.51.0.10:8443", "province": "51", "joined_at": "2026-02-01T00:00:00Z"},
		"p44/node/a":    {"id": "p44/node/a", "province": "44"},
		"p44/node/b":    {"id": "p44/node/b", "api_addr": "10.44.0.10:8443", "province": "44"},
		"p33/node/gw-1": {"id": "p33/node/gw-1", "api_addr": "10.33.0.10:8443", "province": "33"}`)
	d := directory{store: s}
	for province, want := range map[string]string{"51": "https://10.51.0.20:8443", "44": "https://10.44.0.10:8443", "33": "https://10.33.0.10:8443"} {
		if got, err := d.PeerURL(province); err != nil || got != want {
			t.Errorf("PeerURL(%s) = %q, %v; want %q", province, got, err, want)
		}
	}
	if got, err := d.PeerURL("11"); err == nil || !strings.Contains(err.Error(), "no node of province 11") {
		t.Errorf("PeerURL(11) = %q, %v; want an error naming the province", got, err)
	}
}
