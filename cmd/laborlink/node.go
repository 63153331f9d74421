package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/laborlink/laborlink/gateway/node"
)

// runNode runs a production node from its config file until interrupted.
func runNode(ctx context.Context, m *Main, args []string) error {
	fs := m.flagSet("node", "--config FILE [--cpuprofile F] [--blockprofile F] [--mutexprofile F] [--memprofile F] [--trace F]")
	config := fs.String("config", m.getenv(envConfig), "the node's YAML config file (env "+envConfig+"); see docs/configuration.md")
	var prof profiles
	prof.flags(fs)
	if _, err := positional(fs, args, 0, "flags only"); err != nil {
		return err
	}
	if *config == "" {
		return usageErrorf("--config (or %s) is required: the node's YAML config file; see docs/configuration.md", envConfig)
	}
	// Profiles cover the node from start to shutdown (a developer's tool:
	// laborlink bench --processes asks its nodes for them).
	stopProfiles, err := prof.start()
	if err != nil {
		return err
	}
	defer stopProfiles()
	cfg, err := node.LoadConfig(*config, m.LookupEnv)
	if err != nil {
		return err
	}
	log := newLogger(m, cfg.Log)
	if m.Environ != nil {
		for _, name := range node.UnknownEnv(m.Environ(), cliEnv...) {
			log.Warn("ignoring an environment variable that is no setting: misspelt?", "name", name)
		}
	}
	log.Info("go runtime", "settings", cfg.Runtime.Apply(1, m.getenv))
	n, err := node.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	log.Info("node started", "identity", n.Identity().URI(), "listen", n.Addr(), "ops", n.OpsAddr())
	<-ctx.Done()
	log.Info("shutting down: draining deliveries and closing raft")
	if err := n.Close(); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return stopProfiles()
}

// newLogger builds the structured logger a config asks for.
func newLogger(m *Main, c node.LogConfig) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(c.Level))); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(m.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(m.Stderr, opts))
}
