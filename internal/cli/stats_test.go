package cli_test

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// statsLine is one row of the docker CLI's stats table: CONTAINER ID,
// NAME, CPU %, MEM USAGE / LIMIT, MEM %, NET I/O, BLOCK I/O, PIDS.
var statsLine = regexp.MustCompile(`^([0-9a-f]{12})\s+(\S+)\s+([0-9.]+)%\s+([0-9.]+)([KMGT]?i?B) / ([0-9.]+[KMGT]?i?B)\s+([0-9.]+)%\s+\S+ / \S+\s+\S+ / \S+\s+(\d+)$`)

func TestStats(t *testing.T) {
	d := ctrDaemon(t)
	busy := strings.TrimSpace(d.MustDocker("run", "-d", "--name", "busy", "busybox", "sh", "-c", "while :; do :; done"))
	d.MustDocker("run", "-d", "--name", "idle", "-m", "64m", "busybox", "sleep", "60")
	d.MustDocker("create", "--name", "stopped", "busybox", "true")
	time.Sleep(1500 * time.Millisecond) // a sampler period: CPU % covers the last second

	// The real docker CLI computes its figures from gantry's samples.
	for _, cli := range []string{"docker", "gantry"} {
		var out string
		if cli == "docker" {
			out = d.MustDocker("stats", "--no-stream")
		} else {
			out = d.MustGantry("stats", "--no-stream")
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 || !regexp.MustCompile(`^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE / LIMIT\s+MEM %\s+NET I/O\s+BLOCK I/O\s+PIDS$`).MatchString(lines[0]) {
			t.Fatalf("%s stats --no-stream:\n%s", cli, out)
		}
		rows := map[string][]string{}
		for _, l := range lines[1:] {
			m := statsLine.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("%s stats row %q", cli, l)
			}
			rows[m[2]] = m
		}
		b, i := rows["busy"], rows["idle"]
		if b == nil || i == nil {
			t.Fatalf("%s stats: rows %v", cli, rows)
		}
		// The host is shared: the busy loop gets what the others leave.
		// One thread is at most one CPU, 100%, give or take the 10 ms
		// ticks /proc/stat counts the machine's time in (a tick or two
		// of a second's two hundred: 1-2%).
		busyCPU, _ := strconv.ParseFloat(b[3], 64)
		idleCPU, _ := strconv.ParseFloat(i[3], 64)
		if busyCPU < 1 || busyCPU <= idleCPU || busyCPU > 102.5 {
			t.Errorf("%s stats: a busy loop at %.2f%% CPU, a sleeping container at %.2f%%", cli, busyCPU, idleCPU)
		}
		if mem, _ := strconv.ParseFloat(b[4], 64); mem <= 0 {
			t.Errorf("%s stats: busy uses no memory: %q", cli, b[0])
		}
		if i[6] != "64MiB" {
			t.Errorf("%s stats: idle's limit %s, want 64MiB", cli, i[6])
		}
		for _, r := range []([]string){b, i} {
			if n, _ := strconv.Atoi(r[8]); n < 1 {
				t.Errorf("%s stats: PIDS %s", cli, r[8])
			}
		}
		if b[1] != busy[:12] {
			t.Errorf("%s stats: ID %s, want %s", cli, b[1], busy[:12])
		}
	}

	// -a adds the stopped container, every figure zero; --no-trunc the
	// full ID; --format json and Go templates with Docker's placeholders.
	all := d.MustGantry("stats", "--no-stream", "-a", "--no-trunc", "--format", "{{.ID}} {{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}")
	if !regexp.MustCompile(`(?m)^[0-9a-f]{64} stopped 0.00% 0B / 0B 0$`).MatchString(all) || !strings.Contains(all, busy+" busy ") {
		t.Errorf("stats -a --no-trunc --format:\n%s", all)
	}
	js := d.MustGantry("stats", "--no-stream", "--format", "json", "busy")
	var row map[string]string
	if err := json.Unmarshal([]byte(js), &row); err != nil {
		t.Fatalf("stats --format json: %v: %q", err, js)
	}
	for _, k := range []string{"BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name", "NetIO", "PIDs"} {
		if _, ok := row[k]; !ok {
			t.Errorf("stats --format json has no %s: %q", k, js)
		}
	}
	if row["Container"] != "busy" || row["Name"] != "busy" {
		t.Errorf("stats --format json: %q", js)
	}

	// The API: one sample with the previous CPU reading, at once.
	resp, err := d.HTTPClient().Get("http://gantry/containers/busy/stats?stream=false")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Read     time.Time `json:"read"`
		PreRead  time.Time `json:"preread"`
		CPUStats struct {
			SystemCPUUsage uint64 `json:"system_cpu_usage"`
			OnlineCPUs     int    `json:"online_cpus"`
		} `json:"cpu_stats"`
		PreCPUStats struct {
			SystemCPUUsage uint64 `json:"system_cpu_usage"`
		} `json:"precpu_stats"`
		MemoryStats struct{ Usage, Limit uint64 } `json:"memory_stats"`
		PidsStats   struct{ Current uint64 }      `json:"pids_stats"`
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if st.PreRead.IsZero() || !st.PreRead.Before(st.Read) || st.PreCPUStats.SystemCPUUsage == 0 || st.PreCPUStats.SystemCPUUsage >= st.CPUStats.SystemCPUUsage {
		t.Errorf("stats?stream=false: read %v preread %v, system %d after %d", st.Read, st.PreRead, st.CPUStats.SystemCPUUsage, st.PreCPUStats.SystemCPUUsage)
	}
	if st.CPUStats.OnlineCPUs < 1 || st.MemoryStats.Usage == 0 || st.MemoryStats.Limit == 0 || st.PidsStats.Current < 1 {
		t.Errorf("stats?stream=false: %+v", st)
	}
	// one-shot: no previous sample, as Docker.
	resp, err = d.HTTPClient().Get("http://gantry/containers/busy/stats?stream=false&one-shot=true")
	if err != nil {
		t.Fatal(err)
	}
	st.PreRead = time.Time{}
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || !st.PreRead.IsZero() {
		t.Errorf("one-shot: preread %v, err %v", st.PreRead, err)
	}

	// A missing container: Docker's line and status.
	res := d.Docker("stats", "--no-stream", "nosuch")
	if res.Code != 1 || !strings.Contains(res.Stderr, "No such container: nosuch") {
		t.Errorf("stats of a missing container: exit %d %q", res.Code, res.Stderr)
	}
	res = d.Gantry("stats", "--no-stream", "nosuch")
	if res.Code != 1 || strings.TrimSpace(res.Stderr) != "Error response from daemon: No such container: nosuch" {
		t.Errorf("gantry stats of a missing container: exit %d %q", res.Code, res.Stderr)
	}
}
