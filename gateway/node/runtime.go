package node

import (
	"fmt"
	"runtime/debug"
)

// Apply sets the process's collector target and memory limit for nodes
// nodes sharing it (the limit is per node), except where the operator set
// GOGC or GOMEMLIMIT in the environment: those win, as Go documents. It
// returns what the process now runs with, for the start-up log.
//
// It changes the whole process, so it belongs to a command that runs
// nodes, never to Open: tests and tools run many nodes in one process.
func (c RuntimeConfig) Apply(nodes int, getenv func(string) string) string {
	gc := "GOGC from the environment"
	if getenv("GOGC") == "" {
		debug.SetGCPercent(c.GCPercent)
		gc = fmt.Sprintf("gc_percent %d", c.GCPercent)
	}
	limit := "GOMEMLIMIT from the environment"
	if getenv("GOMEMLIMIT") == "" && c.MemoryLimitMiB > 0 {
		debug.SetMemoryLimit(int64(nodes) * int64(c.MemoryLimitMiB) << 20)
		limit = fmt.Sprintf("memory limit %d MiB", nodes*c.MemoryLimitMiB)
	} else if getenv("GOMEMLIMIT") == "" {
		limit = "no memory limit"
	}
	return gc + ", " + limit
}
