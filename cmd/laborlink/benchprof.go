package main

import (
	"errors"
	"flag"
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
// writes the files, and may be called more than once.
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
	if p.cpu != "" {
		f, err := os.Create(p.cpu)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, err
		}
		stops = append(stops, func() error { pprof.StopCPUProfile(); return f.Close() })
	}
	if p.trace != "" {
		f, err := os.Create(p.trace)
		if err != nil {
			stopAll()
			return nil, err
		}
		if err := trace.Start(f); err != nil {
			f.Close()
			stopAll()
			return nil, err
		}
		stops = append(stops, func() error { trace.Stop(); return f.Close() })
	}
	if p.block != "" {
		runtime.SetBlockProfileRate(10000) // one sample per 10 µs blocked
		stops = append(stops, func() error { return writeProfile("block", p.block) })
	}
	if p.mem != "" {
		// Allocations are counted from the start of the process; the
		// federation's start-up is a small part of a run's.
		stops = append(stops, func() error { return writeProfile("allocs", p.mem) })
	}
	if p.mutex != "" {
		runtime.SetMutexProfileFraction(5)
		stops = append(stops, func() error { return writeProfile("mutex", p.mutex) })
	}
	return stopAll, nil
}

func writeProfile(name, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
