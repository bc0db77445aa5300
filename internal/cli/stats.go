package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"

	apiclient "github.com/gantry-dev/gantry/internal/api/client"
)

type statsOptions struct {
	all, noStream, noTrunc bool
	format                 string
}

func newStatsCommand() *cobra.Command {
	var o statsOptions
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of container(s) resource usage statistics",
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			return runStats(ctx, cmd, api, &o, args)
		}),
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "Show all containers (default shows just running)")
	f.BoolVar(&o.noStream, "no-stream", false, "Disable streaming stats and only pull the first result")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Do not truncate output")
	f.StringVar(&o.format, "format", "", "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.")
	return cmd
}

// statsEntry is one container's line, figured as the docker CLI figures
// it from the daemon's samples.
type statsEntry struct {
	Container string // as the user named it, or the ID
	ID, Name  string

	CPUPercentage, MemoryPercentage float64
	Memory, MemoryLimit             float64
	NetworkRx, NetworkTx            float64
	BlockRead, BlockWrite           float64
	PidsCurrent                     uint64
	invalid                         bool // the container went away or failed
	stopped                         bool // the container is not running
	seen                            bool // a sample has arrived
}

// statsFromResponse computes the docker CLI's figures: CPU % over the
// sample's interval (precpu → cpu) × online CPUs; memory without the
// inactive file cache (v1's total_inactive_file, v2's inactive_file).
func statsFromResponse(st *container.StatsResponse) statsEntry {
	var e statsEntry
	e.CPUPercentage = cpuPercent(st.PreCPUStats, st.CPUStats)
	e.Memory = memUsageNoCache(st.MemoryStats)
	e.MemoryLimit = float64(st.MemoryStats.Limit)
	if e.MemoryLimit != 0 {
		e.MemoryPercentage = e.Memory / e.MemoryLimit * 100
	}
	for _, n := range st.Networks {
		e.NetworkRx += float64(n.RxBytes)
		e.NetworkTx += float64(n.TxBytes)
	}
	for _, b := range st.BlkioStats.IoServiceBytesRecursive {
		if b.Op == "" {
			continue
		}
		switch b.Op[0] {
		case 'r', 'R':
			e.BlockRead += float64(b.Value)
		case 'w', 'W':
			e.BlockWrite += float64(b.Value)
		}
	}
	e.PidsCurrent = st.PidsStats.Current
	e.seen = true
	return e
}

func cpuPercent(pre, cur container.CPUStats) float64 {
	cpuDelta := float64(cur.CPUUsage.TotalUsage) - float64(pre.CPUUsage.TotalUsage)
	systemDelta := float64(cur.SystemUsage) - float64(pre.SystemUsage)
	online := float64(cur.OnlineCPUs)
	if online == 0 {
		online = float64(len(cur.CPUUsage.PercpuUsage))
	}
	if systemDelta > 0 && cpuDelta > 0 {
		return cpuDelta / systemDelta * online * 100
	}
	return 0
}

func memUsageNoCache(m container.MemoryStats) float64 {
	if v, v1 := m.Stats["total_inactive_file"]; v1 && v < m.Usage {
		return float64(m.Usage - v)
	}
	if v := m.Stats["inactive_file"]; v < m.Usage {
		return float64(m.Usage - v)
	}
	return float64(m.Usage)
}

// row is the entry as the template sees it: Docker's placeholders.
func (e *statsEntry) row(noTrunc bool) map[string]any {
	id := e.ID
	if !noTrunc && len(id) > 12 {
		id = id[:12]
	}
	name := "--"
	if len(e.Name) > 1 {
		name = e.Name[1:]
	}
	r := map[string]any{"Container": e.Container, "ID": id, "Name": name}
	if e.invalid {
		for k, v := range map[string]string{"CPUPerc": "--", "MemUsage": "-- / --", "MemPerc": "--", "NetIO": "--", "BlockIO": "--", "PIDs": "--"} {
			r[k] = v
		}
		return r
	}
	r["CPUPerc"] = fmt.Sprintf("%.2f%%", e.CPUPercentage)
	r["MemUsage"] = units.BytesSize(e.Memory) + " / " + units.BytesSize(e.MemoryLimit)
	r["MemPerc"] = fmt.Sprintf("%.2f%%", e.MemoryPercentage)
	r["NetIO"] = units.HumanSizeWithPrecision(e.NetworkRx, 3) + " / " + units.HumanSizeWithPrecision(e.NetworkTx, 3)
	r["BlockIO"] = units.HumanSizeWithPrecision(e.BlockRead, 3) + " / " + units.HumanSizeWithPrecision(e.BlockWrite, 3)
	r["PIDs"] = strconv.FormatUint(e.PidsCurrent, 10)
	return r
}

const statsDefaultFormat = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"

var statsHeaders = map[string]string{
	"Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
	"MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
}

// statsBoard holds the latest entry of every container being watched.
type statsBoard struct {
	mu      sync.Mutex
	entries map[string]*statsEntry // by the name the user gave, or the ID
	order   []string
	errs    []error
}

func (b *statsBoard) set(key string, e statsEntry) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if have, ok := b.entries[key]; ok {
		*have = e
	}
}

// render prints every entry through the format.
func (b *statsBoard) render(out io.Writer, o *statsOptions) error {
	b.mu.Lock()
	rows := make([]map[string]any, 0, len(b.order))
	jsonRows := make([]any, 0, len(b.order))
	for _, k := range b.order {
		e := b.entries[k]
		r := e.row(o.noTrunc)
		rows = append(rows, r)
		jsonRows = append(jsonRows, r)
	}
	b.mu.Unlock()
	format := o.format
	if format == "table" {
		format = statsDefaultFormat
	}
	return table{out: out, format: format, defaults: statsDefaultFormat, headers: statsHeaders}.print(rows, jsonRows)
}

func runStats(ctx context.Context, cmd *cobra.Command, api *apiClient, o *statsOptions, names []string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	board := &statsBoard{entries: map[string]*statsEntry{}}
	// One-sample requests are answered at once: eight in flight beat
	// fifty connections and goroutines (50 containers: ~50 ms against
	// ~95 ms, measured); streams each hold a connection.
	inFlight := 8
	if !o.noStream {
		inFlight = 1 << 16
	}
	sem := make(chan struct{}, inFlight)
	var wg sync.WaitGroup
	watch := func(key, id, name string) {
		board.mu.Lock()
		if _, ok := board.entries[key]; ok {
			board.mu.Unlock()
			return
		}
		board.entries[key] = &statsEntry{Container: key, ID: id, Name: name}
		board.order = append(board.order, key)
		board.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			err := collectStats(ctx, api, key, !o.noStream, func(e statsEntry) { board.set(key, e) })
			if err != nil {
				board.mu.Lock()
				if ent := board.entries[key]; ent != nil {
					ent.invalid, ent.seen = true, true
				}
				if len(names) > 0 && ctx.Err() == nil {
					board.errs = append(board.errs, err)
				}
				board.mu.Unlock()
			}
		}()
	}
	// listAll watches every (running) container; with no names given, a
	// stream keeps doing so, so that new containers appear.
	listAll := func() error {
		list, err := api.ContainerList(ctx, apiclient.ContainerListOptions{All: o.all})
		if err != nil {
			return err
		}
		sort.SliceStable(list.Items, func(i, j int) bool { return list.Items[i].Created > list.Items[j].Created })
		for _, c := range list.Items {
			name := ""
			if len(c.Names) > 0 {
				name = c.Names[0]
			}
			watch(c.ID, c.ID, name)
		}
		return nil
	}
	if len(names) == 0 {
		if err := listAll(); err != nil {
			return err
		}
	} else {
		for _, n := range names {
			watch(n, "", "")
		}
	}
	out := cmd.OutOrStdout()
	if o.noStream {
		wg.Wait()
		if len(board.errs) > 0 {
			return errors.Join(board.errs...)
		}
		return board.render(out, o)
	}
	// Docker's refresh: clear the screen and print the table again every
	// half second; containers that are gone drop out.
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	relist := time.Now()
	if _, err := io.WriteString(out, "\033[2J"); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		board.mu.Lock()
		if len(names) > 0 && len(board.errs) == len(names) {
			errs := board.errs
			board.mu.Unlock()
			return errors.Join(errs...)
		}
		if len(names) == 0 {
			// Without names, containers that stopped leave the table.
			kept := board.order[:0]
			for _, k := range board.order {
				if e := board.entries[k]; (e.invalid || e.stopped) && !o.all {
					delete(board.entries, k)
					continue
				}
				kept = append(kept, k)
			}
			board.order = kept
		}
		board.mu.Unlock()
		// As the docker CLI: home, each line cleared to its end, the rest
		// of the screen cleared: no flicker.
		var buf bytes.Buffer
		if err := board.render(&buf, o); err != nil {
			return err
		}
		frame := append([]byte("\033[H"), bytes.ReplaceAll(buf.Bytes(), []byte("\n"), []byte("\033[K\n"))...)
		frame = append(frame, "\033[J"...)
		if _, err := out.Write(frame); err != nil {
			return err
		}
		if len(names) == 0 && time.Since(relist) >= time.Second {
			relist = time.Now()
			_ = listAll()
		}
	}
}

// collectStats reads a container's samples into set until ctx ends (one
// sample without stream).
func collectStats(ctx context.Context, api *apiClient, ref string, stream bool, set func(statsEntry)) error {
	samples, err := api.ContainerStats(ctx, ref, apiclient.ContainerStatsOptions{Stream: stream})
	if err != nil {
		return err
	}
	for st, err := range samples {
		if err != nil {
			return err
		}
		e := statsFromResponse(st)
		e.stopped = st.Read.IsZero()
		e.Container, e.ID, e.Name = ref, st.ID, st.Name
		set(e)
	}
	if stream && ctx.Err() == nil {
		return errors.New("the stream ended")
	}
	return nil
}
