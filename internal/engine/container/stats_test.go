package container

import (
	"testing"

	"github.com/moby/moby/api/types/container"
)

func TestParseProcStat(t *testing.T) {
	data := []byte("cpu  100 5 50 1000 10 1 2 7 0 0\ncpu0 50 2 25 500 5 1 1 3 0 0\ncpu1 50 3 25 500 5 0 1 4 0 0\nintr 123\n")
	total, online := parseProcStat(data)
	// user nice system idle iowait irq softirq, in USER_HZ ticks → ns;
	// steal is left out, as Docker leaves it.
	if want := uint64(100+5+50+1000+10+1+2) * 1e7; total != want || online != 2 {
		t.Errorf("parseProcStat = %d, %d; want %d, 2", total, online, want)
	}
}

func TestParseNetDev(t *testing.T) {
	data := []byte(`Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0
  eth0:    2048      10    1    2    0     0          0         0     4096      20    3    4    0     0       0          0
`)
	got := parseNetDev(data)
	want := container.NetworkStats{RxBytes: 2048, RxPackets: 10, RxErrors: 1, RxDropped: 2, TxBytes: 4096, TxPackets: 20, TxErrors: 3, TxDropped: 4}
	if len(got) != 1 || got["eth0"] != want {
		t.Errorf("parseNetDev = %+v", got)
	}
}

func TestShouldRestart(t *testing.T) {
	rec := func(policy container.RestartPolicyMode, max, count int) *Record {
		return &Record{HostConfig: &container.HostConfig{RestartPolicy: container.RestartPolicy{Name: policy, MaximumRetryCount: max}}, RestartCount: count}
	}
	for _, c := range []struct {
		name         string
		rec          *Record
		exit         int
		manual, boot bool
		want         bool
	}{
		{"no", rec("no", 0, 0), 1, false, false, false},
		{"always crash", rec("always", 0, 5), 0, false, false, true},
		{"always stopped", rec("always", 0, 0), 137, true, false, false},
		{"always stopped, daemon start", rec("always", 0, 0), 137, true, true, true},
		{"unless-stopped crash", rec("unless-stopped", 0, 0), 1, false, false, true},
		{"unless-stopped stopped, daemon start", rec("unless-stopped", 0, 0), 0, true, true, false},
		{"on-failure clean exit", rec("on-failure", 0, 0), 0, false, false, false},
		{"on-failure failure", rec("on-failure", 0, 9), 1, false, false, true},
		{"on-failure:2 second", rec("on-failure", 2, 1), 1, false, false, true},
		{"on-failure:2 exhausted", rec("on-failure", 2, 2), 1, false, false, false},
		{"on-unhealthy exit", rec(RestartOnUnhealthy, 0, 0), 1, false, false, false},
	} {
		if got := shouldRestart(c.rec, c.exit, c.manual, c.boot); got != c.want {
			t.Errorf("%s: shouldRestart = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestMergeResources(t *testing.T) {
	have := container.Resources{Memory: 32 << 20, MemorySwap: 64 << 20, NanoCPUs: 1e9}
	got, err := mergeResources(have, container.Resources{Memory: 48 << 20})
	if err != nil || got.Memory != 48<<20 || got.MemorySwap != 64<<20 || got.NanoCPUs != 1e9 {
		t.Errorf("merge memory: %+v, %v", got, err)
	}
	if _, err := mergeResources(have, container.Resources{Memory: 128 << 20}); err == nil {
		t.Error("a memory limit above the swap limit was accepted")
	}
	if _, err := mergeResources(have, container.Resources{CPUQuota: 50000}); err == nil {
		t.Error("--cpu-quota over --cpus was accepted")
	}
}

func TestHealthSuffix(t *testing.T) {
	for st, want := range map[container.HealthStatus]string{
		container.Starting: " (health: starting)", container.Healthy: " (healthy)", container.Unhealthy: " (unhealthy)",
	} {
		if got := healthSuffix(&container.Health{Status: st}); got != want {
			t.Errorf("%s: %q", st, got)
		}
	}
	if got := probeCommand(&container.HealthConfig{Test: []string{"CMD-SHELL", "curl -f localhost"}}); len(got) != 3 || got[2] != "curl -f localhost" {
		t.Errorf("CMD-SHELL: %q", got)
	}
	if got := probeCommand(&container.HealthConfig{Test: []string{"NONE"}}); got != nil {
		t.Errorf("NONE: %q", got)
	}
}

func TestParseDeviceCgroupRule(t *testing.T) {
	d, err := parseDeviceCgroupRule("c 1:3 mr")
	if err != nil || d.Type != "c" || *d.Major != 1 || *d.Minor != 3 || d.Access != "mr" || !d.Allow {
		t.Errorf("c 1:3 mr: %+v, %v", d, err)
	}
	if d, err := parseDeviceCgroupRule("a *:* rwm"); err != nil || d.Major != nil || d.Minor != nil {
		t.Errorf("a *:* rwm: %+v, %v", d, err)
	}
	for _, bad := range []string{"", "x 1:3 r", "c 1 r", "c 1:3 q", "c -1:3 r", "c 1:3"} {
		if _, err := parseDeviceCgroupRule(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
