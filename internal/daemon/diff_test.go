package daemon_test

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// diff reports what a container added, changed and deleted, as Docker
// does (parents of additions and deletions changed, the runtime's mount
// points left out), running or stopped, through our CLI and docker's.
func TestDiff(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustGantry("run", "-d", "--name", "idle", "busybox", "sleep", "600")
	if out := d.MustGantry("diff", "idle"); out != "" {
		t.Errorf("diff of a container that changed nothing:\n%s", out)
	}
	script := "echo new > /etc/added && rm /etc/group && mkdir -p /var/spool/x && echo y > /var/spool/x/f && " +
		"chmod 700 /tmp && rm -rf /home && mkdir /home && echo h > /home/h"
	d.MustGantry("run", "--name", "ch", "busybox", "sh", "-c", script)
	want := "C /etc\nA /etc/added\nD /etc/group\nD /home\nA /home/h\nC /tmp\nC /var\nA /var/spool\nA /var/spool/x\nA /var/spool/x/f\n"
	if got := d.MustGantry("diff", "ch"); got != want {
		t.Errorf("gantry diff of a stopped container:\n%s\nwant:\n%s", got, want)
	}
	if got := d.MustDocker("diff", "ch"); got != want {
		t.Errorf("docker diff:\n%s\nwant:\n%s", got, want)
	}
	d.MustGantry("start", "ch") // runs the script again: the same changes
	d.MustGantry("wait", "ch")
	d.MustGantry("run", "-d", "--name", "live", "busybox", "sh", "-c", "echo x > /root-file && sleep 600")
	waitForPath(t, d, "live", "/root-file")
	if got := d.MustGantry("diff", "live"); got != "A /root-file\n" {
		t.Errorf("diff of a running container:\n%s", got)
	}
	res := d.Gantry("diff", "nope")
	if res.Code != 1 || strings.TrimSpace(res.Stderr) != "Error response from daemon: No such container: nope" {
		t.Errorf("diff of a missing container: %d %q", res.Code, res.Stderr)
	}
}

// export writes the container's whole filesystem, its changes included,
// whether it runs or not, and leaves no mount behind.
func TestExport(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustGantry("run", "--name", "ex", "busybox", "sh", "-c", "echo exported > /etc/mark && rm /etc/group")
	out := filepath.Join(t.TempDir(), "ex.tar")
	d.MustGantry("export", "-o", out, "ex")
	names, mark := tarNames(t, out, "etc/mark")
	for _, want := range []string{"bin/sh", "etc/passwd", "etc/mark"} {
		if !slices.Contains(names, want) {
			t.Errorf("export lacks %s", want)
		}
	}
	if slices.Contains(names, "etc/group") {
		t.Error("export has the deleted etc/group")
	}
	if mark != "exported\n" {
		t.Errorf("etc/mark: %q", mark)
	}
	if m := d.Mounts(); len(m) != 0 {
		t.Errorf("mounts left: %v", m)
	}
	d.MustGantry("run", "-d", "--name", "live", "busybox", "sh", "-c", "echo live > /etc/mark && sleep 600")
	waitForPath(t, d, "live", "/etc/mark")
	cmd := d.DockerCommand("export", "live")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = f
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, mark := tarNames(t, out, "etc/mark"); mark != "live\n" {
		t.Errorf("docker export of a running container: etc/mark %q", mark)
	}
	res := d.Gantry("export", "-o", out+"2", "nope")
	if res.Code != 1 || strings.TrimSpace(res.Stderr) != "Error response from daemon: No such container: nope" {
		t.Errorf("export of a missing container: %d %q", res.Code, res.Stderr)
	}
	if _, err := os.Stat(out + "2"); err == nil {
		t.Error("a failed export left a file")
	}
}

// tarNames lists a tar file's entries and returns the contents of one.
func tarNames(t *testing.T, file, want string) ([]string, string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	var body string
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, strings.TrimSuffix(h.Name, "/"))
		if h.Name == want {
			b, _ := io.ReadAll(tr)
			body = string(b)
		}
	}
	return names, body
}
