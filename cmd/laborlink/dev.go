package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/laborlink/laborlink/gateway/devfed"
)

// runDev starts the development federation and keeps it running until
// interrupted.
func runDev(ctx context.Context, m *Main, args []string) error {
	fs := m.flagSet("dev", "[--dir D] [--transfers N] [--verbose]")
	dir := fs.String("dir", "", "keep the federation's PKI, configs and data in D (default: a temporary directory, removed on exit)")
	transfers := fs.Int("transfers", 3, "sample transfers sent from the origin to each destination")
	verbose := fs.Bool("verbose", false, "print the nodes' logs")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *transfers < 1 || *transfers > 1000 {
		return usageErrorf("--transfers must be between 1 and 1000, got %d", *transfers)
	}
	start := time.Now()
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "laborlink-dev-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		*dir = tmp
	} else if err := os.MkdirAll(*dir, 0o700); err != nil {
		return fmt.Errorf("--dir: %w", err)
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	fmt.Fprintf(m.Stdout, "Starting a development federation in %s ...\n", abs)
	f, err := devfed.Start(ctx, devfed.Options{Dir: abs, Log: log})
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Seed(ctx, *transfers); err != nil {
		return fmt.Errorf("sample traffic: %w", err)
	}
	f.PrintReady(m.Stdout, time.Since(start))
	<-ctx.Done()
	fmt.Fprintln(m.Stdout, "Shutting down the federation ...")
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout, "Stopped.")
	return nil
}
