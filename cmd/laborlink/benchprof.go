package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
)

// profiles are optional profiles of a process: the bench's (all nodes and
// the load generator, written while the modes run) or a node's (from start
// to shutdown).
type profiles struct {
	cpu, block, mutex, trace, mem string
}

// profileFlag is one profile flag, the file it names and what it writes.
type profileFlag struct {
	flag string
	file *string
	what string
}

// files are the profile flags.
func (p *profiles) files() []profileFlag {
	return []profileFlag{
		{"cpuprofile", &p.cpu, "a CPU profile"},
		{"blockprofile", &p.block, "a blocking profile"},
		{"mutexprofile", &p.mutex, "a mutex contention profile"},
		{"trace", &p.trace, "an execution trace"},
		{"memprofile", &p.mem, "an allocation profile"},
	}
}

func (p *profiles) flags(fs *flag.FlagSet) {
	for _, f := range p.files() {
		fs.StringVar(f.file, f.flag, "", "write "+f.what+" of the run to this file")
	}
}

// forNode is the node command's flags for the same profiles of the node of
// a province, each to its own file: FILE.pPROVINCE.
func (p *profiles) forNode(province string) []string {
	var args []string
	for _, f := range p.files() {
		if *f.file != "" {
			args = append(args, "--"+f.flag, *f.file+".p"+province)
		}
	}
	return args
}

// start begins the requested profiles; the returned function stops them and
// writes the files, and may be called more than once. Every file is created
// here, so a path that cannot be written is refused, naming its flag, before
// the run rather than after it.
func (p *profiles) start() (func() error, error) {
	var stops []func() error
	stopAll := func() error {
		var errs []error
		for _, s := range stops {
			errs = append(errs, s())
		}
		stops = nil
		return errors.Join(errs...)
	}
	create := func(flag, path string) (*os.File, error) {
		f, err := os.Create(path)
		if err != nil {
			stopAll()
			return nil, fmt.Errorf("--%s: %w", flag, err)
		}
		return f, nil
	}
	if p.cpu != "" {
		f, err := create("cpuprofile", p.cpu)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			stopAll()
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
		stops = append(stops, func() error { pprof.StopCPUProfile(); return f.Close() })
	}
	if p.trace != "" {
		f, err := create("trace", p.trace)
		if err != nil {
			return nil, err
		}
		if err := trace.Start(f); err != nil {
			f.Close()
			stopAll()
			return nil, fmt.Errorf("--trace: %w", err)
		}
		stops = append(stops, func() error { trace.Stop(); return f.Close() })
	}
	// The other profiles are written when the run ends, to files opened now.
	for _, w := range []struct {
		flag, path, name string
		enable           func()
	}{
		// One sample per 10 µs blocked.
		{"blockprofile", p.block, "block", func() { runtime.SetBlockProfileRate(10000) }},
		// Allocations are counted from the start of the process; the
		// federation's start-up is a small part of a run's.
		{"memprofile", p.mem, "allocs", func() {}},
		{"mutexprofile", p.mutex, "mutex", func() { runtime.SetMutexProfileFraction(5) }},
	} {
		if w.path == "" {
			continue
		}
		f, err := create(w.flag, w.path)
		if err != nil {
			return nil, err
		}
		w.enable()
		stops = append(stops, func() error { return writeProfile(w.name, f) })
	}
	return stopAll, nil
}

func writeProfile(name string, f *os.File) error {
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("%s profile %s: %w", name, f.Name(), err)
	}
	return f.Close()
}
