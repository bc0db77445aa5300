package daemon_test

import (
	"bufio"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// The events stream reports a container's lifecycle in Docker's order.
func TestEvents(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	since := time.Now().Unix()
	id := strings.TrimSpace(d.MustDocker("run", "-d", "--name", "ev", "busybox", "sh", "-c", "exit 3"))
	d.MustDocker("wait", "ev")
	d.MustDocker("rm", "ev")
	cmd := d.DockerCommand("events", "--since", itoa(since), "--until", itoa(time.Now().Unix()+1), "--filter", "container="+id,
		"--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{index .Actor.Attributes \"exitCode\"}}")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker events: %v", err)
	}
	var got []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		got = append(got, strings.TrimSpace(sc.Text()))
	}
	want := []string{"container create ev", "container start ev", "container die ev 3", "container destroy ev"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Image actions are events too, in Docker's shape: tag and untag name the
// image ID with the name as an attribute, delete the ID, import the ID.
func TestImageEvents(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	since := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
	id := strings.TrimSpace(d.MustGantry("image", "inspect", "-f", "{{.Id}}", "busybox"))
	d.MustDocker("tag", "busybox", "evtag:1")
	d.MustDocker("rmi", "evtag:1")
	d.MustDocker("save", "-o", filepath.Join(t.TempDir(), "bb.tar"), "busybox")
	until := strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10)
	out := d.MustDocker("events", "--since", since, "--until", until, "--filter", "type=image", "--format", "{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}")
	for _, want := range []string{"tag " + id + " evtag:1", "untag " + id + " " + id, "save " + id + " busybox"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("image events lack %q:\n%s", want, out)
		}
	}
}

// A container joining and leaving its network is a network event, as
// Docker's: connect at start, disconnect at exit, naming the container.
func TestNetworkConnectEvents(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	since := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
	id := strings.TrimSpace(d.MustDocker("run", "-d", "busybox", "true"))
	d.MustDocker("wait", id)
	until := strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10)
	out := d.MustDocker("events", "--since", since, "--until", until, "--filter", "type=network", "--format", "{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.container}}")
	for _, want := range []string{"connect bridge " + id, "disconnect bridge " + id} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("network events lack %q:\n%s", want, out)
		}
	}
}
