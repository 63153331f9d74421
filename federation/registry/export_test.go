package registry

// SetCommandLevel makes a node configured with c report level instead of
// CommandLevel (0 restores CommandLevel), to play a node of an older
// release in tests.
func SetCommandLevel(c *Config, level int) { c.commandLevel = level }
