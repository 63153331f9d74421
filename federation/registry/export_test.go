package registry

// SetCommandLevel makes a node configured with c report level instead of
// CommandLevel (0 restores CommandLevel), to play a node of an older
// release in tests.
func SetCommandLevel(c *Config, level int) { c.commandLevel = level }

// TrustChanged exposes Store.trustChanged, which the raft stream layer
// waits on to sweep its open connections.
func TrustChanged(s *Store) <-chan struct{} { return s.trustChanged() }
