package daemon_test

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// hostMarker makes a directory on the host, outside every container, with
// a secret file in it, and returns the directory and the secret. Nothing
// a container does through cp may read it or write beside it.
func hostMarker(t *testing.T) (string, string) {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "cp-host-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	secret := "host-secret-" + filepath.Base(dir)
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, secret
}

// checkHostUntouched fails when anything but the secret is in the host
// directory.
func checkHostUntouched(t *testing.T, dir string) {
	t.Helper()
	if names := entries(dir); len(names) != 1 || names[0] != "secret" {
		t.Errorf("the host directory %s was written to through cp: %v", dir, names)
	}
}

// `cp` round trips keep modes and owners: into the container the tar's
// owners are kept (as Docker's), out of it a tar stream carries them.
func TestCpRoundTripKeepsModesAndOwners(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	src := filepath.Join(t.TempDir(), "tree")
	must(t, os.MkdirAll(filepath.Join(src, "sub"), 0o750))
	must(t, os.WriteFile(filepath.Join(src, "sub", "secret"), []byte("s"), 0o600))
	must(t, os.WriteFile(filepath.Join(src, "tool"), []byte("#!/bin/sh\n"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, ".wh.notawhiteout"), []byte("w"), 0o644))
	must(t, os.Symlink("sub/secret", filepath.Join(src, "link")))
	for _, p := range []string{"sub", "sub/secret", "tool"} {
		must(t, os.Lchown(filepath.Join(src, p), 1234, 5678))
	}
	// After the chown, which clears setuid.
	must(t, os.Chmod(filepath.Join(src, "tool"), os.ModeSetuid|0o755))
	d.MustGantry("run", "-d", "--name", "rt", "busybox", "sleep", "600")
	d.MustGantry("cp", src, "rt:/data")
	out := d.MustGantry("exec", "rt", "sh", "-c", "cd /data && stat -c '%n %a %u %g' sub sub/secret tool .wh.notawhiteout && readlink link")
	want := "sub 750 1234 5678\nsub/secret 600 1234 5678\ntool 4755 1234 5678\n.wh.notawhiteout 644 0 0\nsub/secret\n"
	if out != want {
		t.Errorf("in the container:\n%s\nwant:\n%s", out, want)
	}
	// Out as a stream: owners and modes in the headers.
	res := d.Gantry("cp", "rt:/data", "-")
	if res.Code != 0 {
		t.Fatalf("cp to -: %s", res.Stderr)
	}
	got := map[string]string{}
	tr := tar.NewReader(strings.NewReader(res.Stdout))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = fmt.Sprintf("%o %d %d", h.Mode, h.Uid, h.Gid)
	}
	for name, w := range map[string]string{"data/sub/": "750 1234 5678", "data/sub/secret": "600 1234 5678", "data/tool": "4755 1234 5678"} {
		if got[name] != w {
			t.Errorf("tar entry %s: %q, want %q (all: %v)", name, got[name], w, got)
		}
	}
	// Out to a directory: modes kept, owned by the user running cp
	// (docker's rule), the file contents intact.
	dst := t.TempDir()
	d.MustGantry("cp", "rt:/data", dst)
	for p, mode := range map[string]os.FileMode{"data/sub": 0o750 | os.ModeDir, "data/sub/secret": 0o600, "data/tool": 0o755 | os.ModeSetuid} {
		fi, err := os.Lstat(filepath.Join(dst, p))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), mode)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "data", "sub", "secret")); string(b) != "s" {
		t.Errorf("content: %q", b)
	}
	// And back in with the real docker CLI, into an existing directory.
	d.MustDocker("cp", filepath.Join(dst, "data"), "rt:/tmp/")
	if out := d.MustGantry("exec", "rt", "stat", "-c", "%a", "/tmp/data/tool"); out != "4755\n" {
		t.Errorf("docker cp round trip: mode %q", out)
	}
}

// docker's copy rules: into an existing directory, to a new name, the
// contents with "/.", a file over a file, errors for the impossible ones.
func TestCpPlacement(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustGantry("run", "-d", "--name", "pl", "busybox", "sh", "-c", "mkdir -p /d/inner && echo one > /d/inner/f && echo f > /file && sleep 600")
	waitForPath(t, d, "pl", "/file") // run -d returns once the shell runs, not once it made them
	tmp := t.TempDir()
	cases := []struct {
		src, dst string
		check    string // a path under tmp that must exist afterwards
	}{
		{"pl:/d", tmp + "/new", "new/inner/f"},
		{"pl:/d", tmp + "/new", "new/d/inner/f"}, // new exists now: d goes inside
		{"pl:/d/.", tmp + "/contents", "contents/inner/f"},
		{"pl:/file", tmp + "/", "file"},
		{"pl:/file", tmp + "/renamed", "renamed"},
		{"pl:/file", tmp + "/renamed", "renamed"}, // overwritten
	}
	for _, c := range cases {
		d.MustGantry("cp", c.src, c.dst)
		if _, err := os.Lstat(filepath.Join(tmp, c.check)); err != nil {
			t.Errorf("cp %s %s: %v", c.src, c.dst, err)
		}
	}
	bad := []struct {
		args []string
		want string
	}{
		{[]string{"cp", "pl:/d", tmp + "/renamed"}, "cannot copy directory"},
		{[]string{"cp", "pl:/file", tmp + "/nodir/"}, "no such directory"},
		{[]string{"cp", "pl:/x", "pl:/y"}, "copying between containers is not supported"},
		{[]string{"cp", tmp, tmp + "/x"}, "must specify at least one container source"},
		{[]string{"cp", tmp + "/renamed", "pl:/file/"}, ""},
	}
	for _, b := range bad {
		res := d.Gantry(b.args...)
		if res.Code != 1 || (b.want != "" && strings.TrimSpace(res.Stderr) != b.want) {
			t.Errorf("gantry %v: exit %d, stderr %q, want 1 and %q", b.args, res.Code, res.Stderr, b.want)
		}
	}
}

// A missing source, in the container or on the host, a missing container
// or a destination that is not a directory: one line, status 1, Docker's
// words, and nothing written.
func TestCpBadInput(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustGantry("create", "--name", "c1", "busybox", "true")
	tmp := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"cp", "c1:/nope", tmp}, "Error response from daemon: Could not find the file /nope in container c1"},
		{[]string{"cp", "/nope-" + filepath.Base(tmp), "c1:/tmp"}, "lstat /nope-" + filepath.Base(tmp) + ": no such file or directory"},
		{[]string{"cp", "/etc/hostname", "c1:/nope/x"}, "Error response from daemon: Could not find the file /nope in container c1"},
		{[]string{"cp", "/etc/hostname", "c1:/etc/passwd/x"}, "Error response from daemon: extraction point is not a directory"},
		{[]string{"cp", "nope:/x", tmp}, "Error response from daemon: No such container: nope"},
		{[]string{"cp", "-", "c1:/etc/passwd"}, `destination "c1:/etc/passwd" must be a directory`},
	}
	for _, c := range cases {
		res := d.Gantry(c.args...)
		if res.Code != 1 || strings.TrimSpace(res.Stderr) != c.want {
			t.Errorf("gantry %v: exit %d, stderr %q\nwant 1, %q", c.args, res.Code, res.Stderr, c.want)
		}
	}
	// The real docker CLI gets the same answers from the daemon.
	res := d.Docker("cp", "c1:/nope", tmp)
	if res.Code != 1 || !strings.Contains(res.Stderr, "Could not find the file /nope in container c1") {
		t.Errorf("docker cp of a missing file: %d %q", res.Code, res.Stderr)
	}
	if names := entries(tmp); len(names) != 0 {
		t.Errorf("failed copies left %v", names)
	}
	// The API's statuses.
	for _, c := range []struct{ method, path string }{
		{"GET", "/containers/c1/archive?path=/nope"}, {"HEAD", "/containers/c1/archive?path=/nope"},
		{"GET", "/containers/nope/archive?path=/"}, {"PUT", "/containers/c1/archive?path=/nope"},
		{"GET", "/containers/nope/changes"}, {"GET", "/containers/nope/export"},
	} {
		req, _ := newRequest(c.method, c.path)
		resp, err := d.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("%s %s: %d, want 404", c.method, c.path, resp.StatusCode)
		}
	}
	if m := d.Mounts(); len(m) != 0 {
		t.Errorf("mounts left: %v", m)
	}
}

// The classic docker cp escapes (CVE-2018-15664 and its kin): symlinks in
// the container to "/", climbing out with "../", absolute ones, loops, a
// symlink as the destination directory, a tar whose entries climb out,
// and a symlink swapped in while copies run. Whatever the container
// holds, cp reads and writes inside its root only, in both directions,
// running or stopped.
func TestCpSymlinkEscapes(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	hostDir, secret := hostMarker(t)
	setup := "mkdir -p /inside" + hostDir + " && echo container > /inside" + hostDir + "/secret && " +
		"ln -s / /rootlink && ln -s ../../../../../../.. /up && ln -s /etc /abs && ln -s /loop /loop && " +
		"ln -s " + hostDir + " /hostpath && mkdir -p " + hostDir + " && ln -s ../../../../../" + hostDir + " /climb"
	for _, running := range []bool{true, false} {
		name := fmt.Sprintf("esc-%v", running)
		if running {
			d.MustGantry("run", "-d", "--name", name, "busybox", "sh", "-c", setup+" && sleep 600")
			waitForPath(t, d, name, "/climb")
		} else {
			d.MustGantry("run", "--name", name, "busybox", "sh", "-c", setup)
		}
		// Reading: through each link the host's secret must stay out of reach.
		for _, p := range []string{"/rootlink" + hostDir + "/secret", "/up" + hostDir + "/secret", "/hostpath/secret", "/climb/secret", "/abs/../" + hostDir + "/secret"} {
			res := d.Gantry("cp", name+":"+p, "-")
			if strings.Contains(res.Stdout, secret) {
				t.Errorf("%s: cp %s read the host's file", name, p)
			}
			if res.Code == 0 {
				t.Errorf("%s: cp %s found a file the container does not have", name, p)
			}
		}
		for _, p := range []string{"/rootlink", "/up", "/hostpath", "/climb"} {
			res := d.Gantry("cp", "-L", name+":"+p, "-")
			if strings.Contains(res.Stdout, secret) {
				t.Errorf("%s: cp -L %s read the host's file", name, p)
			}
		}
		res := d.Gantry("cp", name+":/loop/x", "-")
		if res.Code != 1 || strings.Contains(res.Stderr, "panic") {
			t.Errorf("%s: cp through a symlink loop: %d %q", name, res.Code, res.Stderr)
		}
		// Writing: through a symlink to /, climbing, absolute, as the
		// destination directory itself.
		file := filepath.Join(t.TempDir(), "dropped")
		must(t, os.WriteFile(file, []byte("dropped"), 0o644))
		for _, p := range []string{"/rootlink" + hostDir + "/", "/up" + hostDir + "/", "/hostpath", "/hostpath/", "/climb/"} {
			d.Gantry("cp", file, name+":"+p)
			checkHostUntouched(t, hostDir)
			// The real docker CLI decides differently where to send
			// the tar; the daemon contains it all the same.
			d.Docker("cp", file, name+":"+p)
			checkHostUntouched(t, hostDir)
		}
		for _, p := range []string{"/rootlink" + hostDir + "/secret", "/up" + hostDir + "/secret", "/hostpath/secret"} {
			if res := d.Docker("cp", name+":"+p, "-"); strings.Contains(res.Stdout, secret) {
				t.Errorf("%s: docker cp %s read the host's file", name, p)
			}
		}
		// A tar whose entries climb out, or go through a symlink they made.
		climbing, throughLink := craftedTars(t, hostDir)
		cmd := d.GantryCommand("cp", "-", name+":/tmp")
		cmd.Stdin = bytes.NewReader(climbing)
		if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "climbs out") {
			t.Errorf("%s: a tar entry climbing out: %v %s", name, err, out)
		}
		checkHostUntouched(t, hostDir)
		cmd = d.GantryCommand("cp", "-", name+":/tmp")
		cmd.Stdin = bytes.NewReader(throughLink)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: a tar writing through its own symlink: %v %s", name, err, out)
		}
		checkHostUntouched(t, hostDir)
		if _, err := os.Lstat("/tmp/escaped-" + filepath.Base(hostDir)); err == nil {
			os.Remove("/tmp/escaped-" + filepath.Base(hostDir))
			t.Errorf("%s: a crafted tar wrote into the host's /tmp", name)
		}
		// The writes landed inside the container.
		if !running {
			d.MustGantry("start", name)
			d.MustGantry("wait", name)
		}
		out := d.Gantry("cp", name+":"+hostDir+"/dropped", "-")
		if out.Code != 0 || !strings.Contains(out.Stdout, "dropped") {
			t.Errorf("%s: the file written through /hostpath is not in the container's %s: %s", name, hostDir, out.Stderr)
		}
	}
	if stray := d.StrayMounts(); len(stray) != 0 {
		t.Errorf("mounts left besides the running container's: %v", stray)
	}
}

// A symlink swapped in for a directory while copies run (the race of
// CVE-2018-15664) never takes a copy to the host.
func TestCpSymlinkSwapRace(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	hostDir, secret := hostMarker(t)
	d.MustGantry("run", "-d", "--name", "race", "busybox", "sh", "-c",
		"mkdir -p /w/d"+hostDir+" && echo container > /w/d"+hostDir+"/secret && "+
			"while true; do mv /w/d /w/real; ln -s / /w/d; rm /w/d; mv /w/real /w/d; done")
	waitForPath(t, d, "race", "/w")
	file := filepath.Join(t.TempDir(), "swapped")
	must(t, os.WriteFile(file, []byte("x"), 0o644))
	for range 40 {
		res := d.Gantry("cp", "race:/w/d"+hostDir+"/secret", "-")
		if strings.Contains(res.Stdout, secret) {
			t.Fatal("a copy out read the host's file while a symlink was swapped in")
		}
		d.Gantry("cp", file, "race:/w/d"+hostDir+"/")
		checkHostUntouched(t, hostDir)
	}
}

// Copies into a container that was created but never started land in
// its writable layer; the root filesystem mounted for the copy is gone
// afterwards.
func TestCpIntoStoppedContainer(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustGantry("create", "--name", "st", "busybox", "cat", "/etc/greeting")
	file := filepath.Join(t.TempDir(), "greeting")
	must(t, os.WriteFile(file, []byte("hello from cp\n"), 0o640))
	d.MustGantry("cp", file, "st:/etc/")
	if m := d.Mounts(); len(m) != 0 {
		t.Errorf("mounts left after a copy into a stopped container: %v", m)
	}
	d.MustGantry("start", "st")
	d.MustGantry("wait", "st")
	if out := d.MustGantry("logs", "st"); out != "hello from cp\n" {
		t.Errorf("the container read %q", out)
	}
	// And out of the exited one, with the real docker CLI.
	dst := t.TempDir()
	d.MustDocker("cp", "st:/etc/greeting", dst)
	if b, _ := os.ReadFile(filepath.Join(dst, "greeting")); string(b) != "hello from cp\n" {
		t.Errorf("copied out: %q", b)
	}
	if m := d.Mounts(); len(m) != 0 {
		t.Errorf("mounts left: %v", m)
	}
}

// craftedTars are a tar that climbs out with "../", and one that makes a
// symlink to "/" and writes through it (which lands inside the
// destination).
func craftedTars(t *testing.T, hostDir string) ([]byte, []byte) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body string) {
		h.Size = int64(len(body))
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		must(t, tw.WriteHeader(h))
		_, err := tw.Write([]byte(body))
		must(t, err)
	}
	add(&tar.Header{Name: "../../../../../../" + hostDir + "/climbed", Typeflag: tar.TypeReg}, "x")
	must(t, tw.Close())
	climbing := bytes.Clone(buf.Bytes())
	buf.Reset()
	tw = tar.NewWriter(&buf)
	add(&tar.Header{Name: "s", Typeflag: tar.TypeSymlink, Linkname: "/"}, "")
	add(&tar.Header{Name: "s" + hostDir + "/through-symlink", Typeflag: tar.TypeReg}, "x")
	add(&tar.Header{Name: "s/tmp/escaped-" + filepath.Base(hostDir), Typeflag: tar.TypeReg}, "x")
	must(t, tw.Close())
	return climbing, buf.Bytes()
}

// waitForPath waits until the running container has made p.
func waitForPath(t *testing.T, d *fixture.Daemon, name, p string) {
	t.Helper()
	for range 100 {
		if d.Gantry("exec", name, "test", "-e", p).Code == 0 {
			return
		}
		sleepBriefly()
	}
	t.Fatalf("%s never made %s", name, p)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newRequest(method, p string) (*http.Request, error) {
	return http.NewRequest(method, "http://gantry"+p, nil)
}

func sleepBriefly() { time.Sleep(50 * time.Millisecond) }

// -a gives what is copied in the container's user, as Docker's does (the
// tar's owners otherwise).
func TestCpArchiveModeOwner(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustGantry("run", "-d", "--name", "usr", "--user", "1234:4321", "busybox", "sleep", "600")
	file := filepath.Join(t.TempDir(), "owned")
	must(t, os.WriteFile(file, []byte("x"), 0o644))
	must(t, os.Chown(file, 77, 88))
	d.MustGantry("cp", file, "usr:/tmp/plain")
	d.MustGantry("cp", "-a", file, "usr:/tmp/archived")
	out := d.MustGantry("exec", "usr", "stat", "-c", "%n %u %g", "/tmp/plain", "/tmp/archived")
	if want := "/tmp/plain 77 88\n/tmp/archived 1234 4321\n"; out != want {
		t.Errorf("owners:\n%s\nwant:\n%s", out, want)
	}
}

// A running container is copied as its process sees it, as Docker's cp
// does: a bind mount and a tmpfs take the files, a read-only bind refuses
// them; /proc and /sys are the kernel's, not copied.
func TestCpSeesTheContainersMounts(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	bind, ro := t.TempDir(), t.TempDir()
	must(t, os.WriteFile(filepath.Join(bind, "from-host"), []byte("host data"), 0o644))
	d.MustGantry("run", "-d", "--name", "mnt", "-v", bind+":/data", "-v", ro+":/ro:ro", "--tmpfs", "/scratch", "busybox", "sleep", "600")
	if out := d.MustGantry("cp", "mnt:/data/from-host", "-"); !strings.Contains(out, "host data") {
		t.Errorf("cp out of a bind mount: %q", out)
	}
	file := filepath.Join(t.TempDir(), "in")
	must(t, os.WriteFile(file, []byte("in"), 0o644))
	d.MustGantry("cp", file, "mnt:/data/")
	if _, err := os.Stat(filepath.Join(bind, "in")); err != nil {
		t.Errorf("cp into a bind mount did not reach it: %v", err)
	}
	d.MustGantry("cp", file, "mnt:/scratch/")
	if out := d.MustGantry("exec", "mnt", "cat", "/scratch/in"); out != "in" {
		t.Errorf("cp into a tmpfs: %q", out)
	}
	res := d.Gantry("cp", file, "mnt:/ro/")
	if res.Code != 1 || strings.TrimSpace(res.Stderr) != "Error response from daemon: mounted volume is marked read-only" {
		t.Errorf("cp into a read-only bind: %d %q", res.Code, res.Stderr)
	}
	if names := entries(ro); len(names) != 0 {
		t.Errorf("the read-only bind got %v", names)
	}
	res = d.Gantry("cp", "mnt:/proc/self/environ", "-")
	if res.Code != 1 || !strings.Contains(res.Stderr, "Could not find the file /proc/self/environ") {
		t.Errorf("cp of a /proc file: %d %q", res.Code, res.Stderr)
	}
	res = d.Gantry("cp", "mnt:/", "-")
	if res.Code != 0 {
		t.Fatalf("cp of /: %s", res.Stderr)
	}
	names := map[string]bool{}
	tr := tar.NewReader(strings.NewReader(res.Stdout))
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names[strings.TrimPrefix(h.Name, "/")] = true
	}
	if !names["proc/"] || !names["sys/"] || names["proc/self/"] || names["proc/1/"] || !names["data/from-host"] || !names["bin/sh"] {
		t.Errorf("cp of /: proc/ %v sys/ %v proc/1/ %v data/from-host %v bin/sh %v", names["proc/"], names["sys/"], names["proc/1/"], names["data/from-host"], names["bin/sh"])
	}
}

// A daemon that died while a stopped container's root was mounted for a
// copy finds the mount at its next start and removes it.
func TestCpMountClearedAfterCrash(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustGantry("create", "--name", "left", "busybox", "true")
	d.Stop()
	left := filepath.Join(d.ExecRoot, "mnt", "left-1")
	must(t, os.MkdirAll(left, 0o700))
	must(t, syscall.Mount("tmpfs", left, "tmpfs", 0, ""))
	d.Start()
	for _, m := range d.Mounts() {
		if strings.HasPrefix(m, filepath.Join(d.ExecRoot, "mnt")) {
			syscall.Unmount(m, syscall.MNT_DETACH)
			t.Errorf("the mount %s is still there after a restart", m)
		}
	}
	if _, err := os.Stat(left); err == nil {
		t.Errorf("%s is still there", left)
	}
}
