// Command laborlink is the LaborLink gateway: one binary whose subcommands run a
// node, a local development federation, and the administration tools.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal asks for a graceful stop; once it came, a second
	// one kills the process as it would without the handler, should the
	// stop hang.
	context.AfterFunc(ctx, stop)
	m := NewMain()
	os.Exit(m.Run(ctx, os.Args[1:]))
}
