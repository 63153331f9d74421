package registry

// SetCommandLevel makes a node configured with c report level instead of
// CommandLevel (0 restores CommandLevel), to play a node of an older
// release in tests.
func SetCommandLevel(c *Config, level int) { c.commandLevel = level }

// TrustChanged exposes Store.trustChanged, which the raft stream layer
// waits on to sweep its open connections.
func TrustChanged(s *Store) <-chan struct{} { return s.trustChanged() }

// OnLevelAsked makes a node configured with c call f with each node it
// asks for its command level.
func OnLevelAsked(c *Config, f func(id string)) { c.levelAsked = f }

// PeerEpoch is streamLayer.peerEpoch of r: how many raft connections with
// node id r has opened or closed, and whether one is open.
func PeerEpoch(r *Registry, id string) (uint64, bool) { return r.stream.peerEpoch(id) }

// OnRestore makes a node configured with c call f in Restore, once the
// restore's index is chosen and before raft installs the backup.
func OnRestore(c *Config, f func()) { c.restoring = f }

// OnAppendHeld makes a node configured with c call f whenever a command or
// barrier waits for a restore before it enters the raft log.
func OnAppendHeld(c *Config, f func()) { c.appendHeld = f }
