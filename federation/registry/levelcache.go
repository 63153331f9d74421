package registry

import (
	"sync"
	"time"
)

// levelTTL bounds how long the leader goes by a command level a node
// reported, however steady its connections.
const levelTTL = 30 * time.Second

// levelCache remembers the command levels nodes reported to the leader, so
// that not every command above level 1 pays a round trip to every node.
//
// A node's level only falls when its release is rolled back, and that
// takes a restart: the node's raft connections drop and new ones are made.
// So a level is remembered together with the node's connection epoch (the
// stream layer's count of raft connections with it opened and closed) and
// holds only while that has not moved: a connection closed or made since,
// whatever the cause, and the node is asked again. Only a node with a raft
// connection open when it was asked is remembered (without one, nothing
// would show its restart), and only for levelTTL: a bound on what any
// event the epoch misses could cost. A node that did not answer is not
// remembered either; it is asked at the next command.
//
// A level cannot be checked closer than that anyway: a node may restart
// between any answer and the command's entering the log, asked or not.
//
// A levelCache is safe for concurrent use.
type levelCache struct {
	now func() time.Time
	// epoch is streamLayer.peerEpoch.
	epoch func(id string) (epoch uint64, connected bool)

	mu    sync.Mutex
	known map[string]knownLevel
}

// knownLevel is a level a node reported, when it was asked, and its
// connection epoch then.
type knownLevel struct {
	level int
	epoch uint64
	at    time.Time
}

func newLevelCache(now func() time.Time, epoch func(string) (uint64, bool)) *levelCache {
	return &levelCache{now: now, epoch: epoch, known: map[string]knownLevel{}}
}

// level returns n's level as remembered, or as ask finds it now, which it
// then remembers if it may.
func (c *levelCache) level(n Node, ask func() NodeLevel) NodeLevel {
	if l, ok := c.get(n.ID); ok {
		return NodeLevel{ID: n.ID, APIAddr: n.APIAddr, Level: l}
	}
	epoch, connected := c.epoch(n.ID)
	at := c.now()
	nl := ask()
	if connected && nl.Problem == "" && nl.Level > 0 {
		c.mu.Lock()
		c.known[n.ID] = knownLevel{level: nl.Level, epoch: epoch, at: at}
		c.mu.Unlock()
	}
	return nl
}

// get returns the level remembered for id if it still holds, and forgets
// it if not.
func (c *levelCache) get(id string) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.known[id]
	if !ok {
		return 0, false
	}
	epoch, connected := c.epoch(id)
	if !connected || epoch != k.epoch || c.now().Sub(k.at) >= levelTTL {
		delete(c.known, id)
		return 0, false
	}
	return k.level, true
}
