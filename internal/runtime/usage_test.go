package runtime_test

import (
	"context"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/internal/fixture"
	"github.com/gantry-dev/gantry/internal/runtime"
)

// runningContainer starts a container with the gantry binary and opens its
// runtime root in-process.
func runningContainer(tb testing.TB, id string) *runtime.Runtime {
	r := fixture.NewRuntime(tb)
	b := fixture.Bundle(tb, fixture.Spec(id, "sleep", "600"))
	r.Must("run", "-d", "-b", b, id)
	rt, err := runtime.New(r.Root)
	if err != nil {
		tb.Fatal(err)
	}
	return rt
}

func TestReadUsage(t *testing.T) {
	rt := runningContainer(t, "usage")
	// Until the init has exec'd sleep, its Go threads count as tasks too.
	var s *runtime.Usage
	for deadline := time.Now().Add(5 * time.Second); ; {
		var err error
		if s, err = rt.Usage(context.Background(), "usage"); err != nil {
			t.Fatal(err)
		}
		if s.Pids.Current == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s.CPU.Total == 0 {
		t.Errorf("no CPU usage in %+v", s.CPU)
	}
	if s.Memory.Usage == 0 || s.Memory.Limit == 0 {
		t.Errorf("no memory usage in %+v", s.Memory)
	}
	if s.Pids.Current != 1 {
		t.Errorf("pids.current = %d, want 1", s.Pids.Current)
	}
	if ev := s.RuncStats(); ev.CPU.Usage.Total != s.CPU.Total {
		t.Errorf("runc view differs: %d", ev.CPU.Usage.Total)
	}
	// The cgroup opened by path (as the daemon's sampler does) reads the
	// same container.
	m, err := runtime.CgroupManagerAt("/gantry-test/usage")
	if err != nil {
		t.Fatal(err)
	}
	byPath, err := runtime.ReadUsage(m)
	if err != nil {
		t.Fatal(err)
	}
	if byPath.Memory.Limit != s.Memory.Limit || byPath.Pids.Current != s.Pids.Current || byPath.CPU.Total < s.CPU.Total {
		t.Errorf("by path: memory limit %d, pids %d, cpu %d; by state: %d, %d, %d",
			byPath.Memory.Limit, byPath.Pids.Current, byPath.CPU.Total, s.Memory.Limit, s.Pids.Current, s.CPU.Total)
	}
}

func BenchmarkReadUsage(b *testing.B) {
	rt := runningContainer(b, "bench-usage")
	_ = rt
	m, err := runtime.CgroupManagerAt("/gantry-test/bench-usage")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := runtime.ReadUsage(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUsageByID(b *testing.B) {
	rt := runningContainer(b, "bench-usage-id")
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := rt.Usage(ctx, "bench-usage-id"); err != nil {
			b.Fatal(err)
		}
	}
}
