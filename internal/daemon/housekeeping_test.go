package daemon_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// diskBytes walks dirs as a person checking df would: every non-directory
// at its size, a hardlinked file once.
func diskBytes(t *testing.T, dirs ...string) int64 {
	t.Helper()
	seen := map[[2]uint64]bool{}
	var total int64
	for _, dir := range dirs {
		err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() {
				return err
			}
			st := fi.Sys().(*syscall.Stat_t)
			k := [2]uint64{st.Dev, st.Ino}
			if seen[k] {
				return nil
			}
			seen[k] = true
			total += fi.Size()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return total
}

func within1pct(got, want int64) bool {
	return math.Abs(float64(got-want)) <= 0.01*float64(want)
}

type dfReport struct {
	LayersSize int64
	Images     []struct {
		ID               string `json:"Id"`
		Size, SharedSize int64
		Containers       int64
	}
	Containers []struct {
		ID                 string `json:"Id"`
		SizeRw, SizeRootFs int64
	}
	ContainerLogsSize map[string]int64
}

// system df's figures are the bytes on disk: the layers, each container's
// writable layer (a hardlinked file once) and its logs, within 1% of a
// walk of the directories.
func TestSystemDfMatchesDisk(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustGantry("run", "--name", "writer", "busybox", "sh", "-c",
		"dd if=/dev/zero of=/big bs=1024 count=3072 2>/dev/null && ln /big /big-link && head -c 12345 /dev/zero > /small && seq 1 2000")
	d.MustGantry("run", "-d", "--name", "idle", "busybox", "sleep", "600")
	resp, err := d.HTTPClient().Get("http://gantry/system/df")
	if err != nil {
		t.Fatal(err)
	}
	var rep dfReport
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	layers, _ := filepath.Glob(filepath.Join(d.DataRoot, "snapshots", "layers", "*", "fs"))
	if want := diskBytes(t, layers...); want == 0 || !within1pct(rep.LayersSize, want) {
		t.Errorf("LayersSize %d, on disk %d", rep.LayersSize, want)
	}
	if len(rep.Images) != 1 || rep.Images[0].Size != rep.LayersSize || rep.Images[0].Containers != 2 || rep.Images[0].SharedSize != 0 {
		t.Errorf("images: %+v (layers %d)", rep.Images, rep.LayersSize)
	}
	if len(rep.Containers) != 2 {
		t.Fatalf("containers: %+v", rep.Containers)
	}
	for _, c := range rep.Containers {
		want := diskBytes(t, filepath.Join(d.DataRoot, "snapshots", "active", c.ID, "fs"))
		if !within1pct(c.SizeRw, want) || c.SizeRootFs != c.SizeRw+rep.LayersSize {
			t.Errorf("container %s: SizeRw %d SizeRootFs %d, on disk %d", c.ID[:12], c.SizeRw, c.SizeRootFs, want)
		}
		logs, _ := filepath.Glob(filepath.Join(d.DataRoot, "containers", c.ID, c.ID+"-json.log*"))
		var wantLogs int64
		for _, l := range logs {
			fi, _ := os.Stat(l)
			wantLogs += fi.Size()
		}
		if rep.ContainerLogsSize[c.ID] != wantLogs {
			t.Errorf("container %s: logs %d, on disk %d", c.ID[:12], rep.ContainerLogsSize[c.ID], wantLogs)
		}
	}
	writer := strings.TrimSpace(d.MustGantry("inspect", "-f", "{{.Id}}", "writer"))
	for _, c := range rep.Containers {
		if c.ID == writer && (c.SizeRw < 3072*1024+12345 || c.SizeRw > 3072*1024+12345+4096) {
			t.Errorf("the writer's layer counts the hardlinked file twice or misses it: %d", c.SizeRw)
		}
	}
	// The tables: docker's rows from both CLIs, the logs row from ours.
	for _, out := range []string{d.MustGantry("system", "df"), d.MustDocker("system", "df")} {
		for _, re := range []string{`(?m)^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE$`, `(?m)^Images\s+1\s+1\s`, `(?m)^Containers\s+2\s+1\s`, `(?m)^Local Volumes\s+0\s+0\s`} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("system df lacks %s:\n%s", re, out)
			}
		}
	}
	if out := d.MustGantry("system", "df"); !regexp.MustCompile(`(?m)^Container Logs\s+2\s+1\s`).MatchString(out) {
		t.Errorf("no container logs row:\n%s", out)
	}
	out := d.MustGantry("system", "df", "-v")
	for _, want := range []string{"SHARED SIZE", "UNIQUE SIZE", "LOGS SIZE", "writer", "idle", "Build cache usage: 0B"} {
		if !strings.Contains(out, want) {
			t.Errorf("system df -v lacks %q:\n%s", want, out)
		}
	}
}

// container prune removes what is not running, with Docker's filters and
// output; a bad filter is refused.
func TestContainerPrune(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	keep := strings.TrimSpace(d.MustGantry("create", "--label", "keep=1", "busybox", "true"))
	gone := strings.TrimSpace(d.MustGantry("run", "-d", "busybox", "sh", "-c", "head -c 5000 /dev/zero > /f"))
	d.MustGantry("wait", gone)
	running := strings.TrimSpace(d.MustGantry("run", "-d", "busybox", "sleep", "600"))
	if out := d.MustGantry("container", "prune", "-f", "--filter", "until=1h"); out != "Total reclaimed space: 0B\n" {
		t.Errorf("prune of nothing older than an hour:\n%s", out)
	}
	out := d.MustGantry("container", "prune", "-f", "--filter", "label!=keep=1")
	if want := "Deleted Containers:\n" + gone + "\n\nTotal reclaimed space: 5kB\n"; out != want {
		t.Errorf("prune:\n%q\nwant\n%q", out, want)
	}
	cmd := d.GantryCommand("container", "prune")
	cmd.Stdin = strings.NewReader("n\n")
	b, _ := cmd.Output()
	if string(b) != "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] " {
		t.Errorf("prompt: %q", b)
	}
	if ids := d.MustGantry("ps", "-aq", "--no-trunc"); !strings.Contains(ids, keep) {
		t.Error("answering no removed the container")
	}
	out = d.MustDocker("container", "prune", "-f")
	if !strings.Contains(out, keep) || strings.Contains(out, running) {
		t.Errorf("docker container prune:\n%s", out)
	}
	if ids := strings.TrimSpace(d.MustGantry("ps", "-aq", "--no-trunc")); ids != running {
		t.Errorf("left: %q, want only the running one", ids)
	}
	res := d.Gantry("container", "prune", "-f", "--filter", "foo=bar")
	if res.Code != 1 || strings.TrimSpace(res.Stderr) != "Error response from daemon: invalid filter 'foo'" {
		t.Errorf("bad filter: %d %q", res.Code, res.Stderr)
	}
}

// system prune asks as Docker does, then removes stopped containers and
// dangling images (every unused one with -a) and sums what it reclaimed.
func TestSystemPrune(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	old := strings.TrimSpace(d.MustGantry("images", "-q", "--no-trunc"))
	d.Busybox() // a new busybox:latest: the old one is dangling now
	stopped := strings.TrimSpace(d.MustGantry("create", "busybox", "true"))
	cmd := d.GantryCommand("system", "prune", "--filter", "until=1h")
	cmd.Stdin = strings.NewReader("n\n")
	b, _ := cmd.Output()
	want := "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n" +
		"  - all dangling images\n  - unused build cache\n\n  Items to be pruned will be filtered with:\n  - until=1h\n\n" +
		"Are you sure you want to continue? [y/N] "
	if string(b) != want {
		t.Errorf("prompt:\n%q\nwant\n%q", b, want)
	}
	out := d.MustGantry("system", "prune", "-f")
	for _, w := range []string{"Deleted Containers:\n" + stopped + "\n\n", "Deleted Images:\ndeleted: " + old + "\n", "Total reclaimed space: "} {
		if !strings.Contains(out, w) {
			t.Errorf("system prune output lacks %q:\n%s", w, out)
		}
	}
	if out := d.MustGantry("images", "-q"); strings.TrimSpace(out) == "" {
		t.Error("system prune without -a removed the tagged image")
	}
	out = d.MustGantry("system", "prune", "-af")
	if !strings.Contains(out, "untagged: busybox:latest") {
		t.Errorf("system prune -a:\n%s", out)
	}
	if out := d.MustGantry("images", "-q"); out != "" {
		t.Errorf("images left after system prune -a: %s", out)
	}
}

// events prints docker's lines, filters by type, event, container, image
// and label, and takes --format, also as `system events`.
func TestEventsCLI(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	since := fmt.Sprint(time.Now().Unix())
	id := strings.TrimSpace(d.MustGantry("run", "-d", "--name", "evc", "--label", "team=a", "busybox", "true"))
	d.MustGantry("wait", id)
	d.MustGantry("run", "--name", "other", "busybox:latest", "true")
	until := fmt.Sprint(time.Now().Unix() + 1)
	out := d.MustGantry("events", "--since", since, "--until", until, "--filter", "container=evc")
	line := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z container (\w+) ` + id + ` \((exitCode=0, )?image=busybox, name=evc, team=a\)$`)
	var actions []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("event line %q is not docker's", l)
			continue
		}
		actions = append(actions, m[1])
	}
	if strings.Join(actions, " ") != "create start die" {
		t.Errorf("actions %v", actions)
	}
	out = d.MustGantry("system", "events", "--since", since, "--until", until, "--filter", "event=start", "--filter", "label=team=a", "--format", "{{json .}}")
	var m struct {
		Type, Action string
		Actor        struct{ ID string }
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil || m.Action != "start" || m.Actor.ID != id {
		t.Errorf("--format json: %q (%v)", out, err)
	}
	if out := d.MustGantry("events", "--since", since, "--until", until, "--filter", "type=image", "--filter", "container=evc"); out != "" {
		t.Errorf("type=image gave container events:\n%s", out)
	}
	if out := d.MustGantry("events", "--since", since, "--until", until, "--filter", "image=busybox", "--format", "{{.Actor.Attributes.name}}"); !strings.Contains(out, "evc") || !strings.Contains(out, "other") {
		t.Errorf("image=busybox:\n%s", out)
	}
	if out := d.MustDocker("events", "--since", since, "--until", until, "--filter", "container=other", "--format", "{{.Action}}"); strings.Join(strings.Fields(out), " ") != "create attach start die" && strings.Join(strings.Fields(out), " ") != "create start die" {
		t.Errorf("docker events: %q", out)
	}
}
