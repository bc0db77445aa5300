package daemon_test

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// volumeImage imports a busybox image with VOLUMEs over crafted
// directories: /data holds a file with its own owner and mode, a hard
// link, a subdirectory and symlinks that point out of the image (/etc,
// ../../..); /data2 is itself a symlink to /etc; /etc/marker tells the
// image's /etc from the host's.
func volumeImage(t *testing.T, d *fixture.Daemon, name string) {
	t.Helper()
	root := t.TempDir()
	if err := fixture.BusyboxRootfs(root); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "data", "sub"), 0o750))
	must(os.WriteFile(filepath.Join(root, "data", "hello"), []byte("from the image\n"), 0o640))
	must(os.Chown(filepath.Join(root, "data", "hello"), 1000, 1000))
	must(os.Link(filepath.Join(root, "data", "hello"), filepath.Join(root, "data", "hard")))
	must(os.WriteFile(filepath.Join(root, "data", "sub", "deep"), []byte("deep\n"), 0o644))
	must(os.Chown(filepath.Join(root, "data", "sub"), 1000, 1000))
	must(os.Symlink("/etc", filepath.Join(root, "data", "etc-link")))
	must(os.Symlink("../../../../../../etc/hostname", filepath.Join(root, "data", "up-link")))
	must(os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	must(os.WriteFile(filepath.Join(root, "etc", "marker"), []byte("image etc\n"), 0o644))
	must(os.Symlink("/etc", filepath.Join(root, "data2")))
	tarFile := filepath.Join(t.TempDir(), "rootfs.tar")
	if out, err := exec.Command("tar", "-C", root, "-cf", tarFile, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	d.MustDocker("import", "-c", "VOLUME /data", "-c", `CMD ["sh"]`, tarFile, name)
}

func volumeData(d *fixture.Daemon, name string) string {
	return filepath.Join(d.DataRoot, "volumes", name, "_data")
}

func volumeNames(d *fixture.Daemon) []string {
	return strings.Fields(d.MustDocker("volume", "ls", "-q"))
}

// A new volume mounted over a directory of the image is filled from it,
// with owners, modes, hard links and symlinks as they are, and nothing
// followed out of the image; nocopy and a volume with content are left
// alone.
func TestVolumeCopyUp(t *testing.T) {
	d := fixture.NewDaemon(t)
	volumeImage(t, d, "volimg")

	d.MustDocker("run", "--rm", "-v", "cv:/data", "volimg", "true")
	data := volumeData(d, "cv")
	got, err := os.ReadFile(filepath.Join(data, "hello"))
	if err != nil || string(got) != "from the image\n" {
		t.Fatalf("hello in the volume: %q, %v", got, err)
	}
	st, err := os.Lstat(filepath.Join(data, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	if st.Mode().Perm() != 0o640 || sys.Uid != 1000 || sys.Gid != 1000 {
		t.Errorf("hello: mode %v owner %d:%d, want 0640 1000:1000", st.Mode().Perm(), sys.Uid, sys.Gid)
	}
	if hard, err := os.Lstat(filepath.Join(data, "hard")); err != nil || hard.Sys().(*syscall.Stat_t).Ino != sys.Ino {
		t.Errorf("the hard link was not kept as one: %v", err)
	}
	if sub, err := os.Lstat(filepath.Join(data, "sub")); err != nil || sub.Mode().Perm() != 0o750 || sub.Sys().(*syscall.Stat_t).Uid != 1000 {
		t.Errorf("sub: %v %v", sub, err)
	}
	if b, err := os.ReadFile(filepath.Join(data, "sub", "deep")); err != nil || string(b) != "deep\n" {
		t.Errorf("sub/deep: %q %v", b, err)
	}
	for link, target := range map[string]string{"etc-link": "/etc", "up-link": "../../../../../../etc/hostname"} {
		st, err := os.Lstat(filepath.Join(data, link))
		if err != nil || st.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s is not a symlink in the volume: %v %v", link, st, err)
			continue
		}
		if got, _ := os.Readlink(filepath.Join(data, link)); got != target {
			t.Errorf("%s -> %q, want %q", link, got, target)
		}
	}

	// A VOLUME over a symlink to /etc gets the image's /etc, never the
	// host's.
	d.MustDocker("run", "--rm", "-v", "cv2:/data2", "volimg", "true")
	if b, err := os.ReadFile(filepath.Join(volumeData(d, "cv2"), "marker")); err != nil || string(b) != "image etc\n" {
		t.Errorf("volume over /data2 -> /etc: marker %q %v", b, err)
	}
	for _, hostOnly := range []string{"os-release", "fstab", "hostname"} {
		if _, err := os.Lstat(filepath.Join(volumeData(d, "cv2"), hostOnly)); err == nil {
			if _, herr := os.Stat(filepath.Join("/etc", hostOnly)); herr == nil {
				t.Errorf("the host's /etc/%s was copied into the volume", hostOnly)
			}
		}
	}

	// nocopy: the volume stays empty.
	d.MustDocker("run", "--rm", "-v", "nc:/data:nocopy", "volimg", "true")
	if ents, err := os.ReadDir(volumeData(d, "nc")); err != nil || len(ents) != 0 {
		t.Errorf("nocopy volume has %d entries (%v)", len(ents), err)
	}
	d.MustDocker("run", "--rm", "--mount", "type=volume,src=nc2,dst=/data,volume-nocopy", "volimg", "true")
	if ents, err := os.ReadDir(volumeData(d, "nc2")); err != nil || len(ents) != 0 {
		t.Errorf("volume-nocopy volume has %d entries (%v)", len(ents), err)
	}

	// A volume with content keeps it: no copy over it.
	d.MustDocker("run", "--rm", "-v", "mine:/x", "volimg", "sh", "-c", "echo mine > /x/own")
	d.MustDocker("run", "--rm", "-v", "mine:/data", "volimg", "true")
	if _, err := os.Stat(filepath.Join(volumeData(d, "mine"), "hello")); err == nil {
		t.Error("the image's files were copied into a volume that had content")
	}

	// The image's VOLUME makes an anonymous volume, filled the same way;
	// rm -v removes it.
	d.MustDocker("run", "--name", "anon", "volimg", "cat", "/data/hello")
	var mounts []struct{ Type, Name, Source, Destination, Driver string }
	if err := json.Unmarshal([]byte(inspect(d, "anon", "{{json .Mounts}}")), &mounts); err != nil || len(mounts) != 1 {
		t.Fatalf("anon's mounts: %v %v", mounts, err)
	}
	m := mounts[0]
	if m.Type != "volume" || m.Destination != "/data" || len(m.Name) != 64 || m.Driver != "local" || m.Source != volumeData(d, m.Name) {
		t.Errorf("anonymous mount: %+v", m)
	}
	if out := d.MustDocker("logs", "anon"); out != "from the image\n" {
		t.Errorf("anon printed %q", out)
	}
	d.MustDocker("rm", "-v", "anon")
	if slices.Contains(volumeNames(d), m.Name) {
		t.Error("rm -v left the anonymous volume")
	}
	if _, err := os.Stat(filepath.Join(d.DataRoot, "volumes", m.Name)); err == nil {
		t.Error("rm -v left the anonymous volume's directory")
	}
}

// A volume over a file of the image is refused at start, with Docker's
// words; nothing is copied.
func TestVolumeOverFile(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	res := d.Docker("run", "--rm", "-v", "of:/etc/passwd", "busybox", "true")
	if res.Code == 0 || !strings.Contains(res.Stderr, "cannot mount volume over existing file") {
		t.Errorf("volume over a file: exit %d, %s", res.Code, res.Stderr)
	}
}

// Volume data outlives its containers and the daemon, even a kill -9;
// its metadata too.
func TestVolumePersistence(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustDocker("volume", "create", "--label", "app=db", "keep")
	d.MustDocker("run", "--name", "writer", "-v", "keep:/data", "busybox", "sh", "-c", "echo persisted > /data/f")
	d.MustDocker("rm", "-v", "writer")
	if !slices.Contains(volumeNames(d), "keep") {
		t.Fatal("rm -v removed a named volume")
	}
	d.MustDocker("create", "--name", "holder", "-v", "keep:/data", "busybox", "true")
	d.Kill()
	d.Start()
	if got := d.MustDocker("run", "--rm", "-v", "keep:/data", "busybox", "cat", "/data/f"); got != "persisted\n" {
		t.Errorf("after kill -9: %q", got)
	}
	if got := strings.TrimSpace(d.MustDocker("volume", "inspect", "-f", "{{.Labels.app}} {{.Driver}}", "keep")); got != "db local" {
		t.Errorf("metadata after kill -9: %q", got)
	}
	// The reference of the created container survived too.
	res := d.Docker("volume", "rm", "keep")
	if res.Code == 0 || !strings.Contains(res.Stderr, "volume is in use") {
		t.Errorf("rm of a volume used by a container after a restart: exit %d %s", res.Code, res.Stderr)
	}
	d.MustDocker("rm", "holder")
	d.MustDocker("volume", "rm", "keep")
	if _, err := os.Stat(filepath.Join(d.DataRoot, "volumes", "keep")); err == nil {
		t.Error("volume rm left the directory")
	}
}

// A daemon killed half-way through a create or a removal, or a volume
// directory put in place by hand: the next start repairs it.
func TestVolumeRepairAtStart(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustDocker("volume", "create", "nodata")
	d.Kill()
	vols := filepath.Join(d.DataRoot, "volumes")
	// A staged create and a removal that did not finish.
	for _, dir := range []string{".staging-half", ".removed-gone-1"} {
		if err := os.MkdirAll(filepath.Join(vols, dir, "_data"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Data without metadata; metadata without data.
	if err := os.MkdirAll(filepath.Join(vols, "bare", "_data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vols, "bare", "_data", "f"), []byte("kept\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(vols, "nodata", "_data")); err != nil {
		t.Fatal(err)
	}
	d.Start()
	names := volumeNames(d)
	if !slices.Contains(names, "bare") || !slices.Contains(names, "nodata") || len(names) != 2 {
		t.Errorf("volumes after repair: %v, want bare and nodata", names)
	}
	for _, dir := range []string{".staging-half", ".removed-gone-1"} {
		if _, err := os.Stat(filepath.Join(vols, dir)); err == nil {
			t.Errorf("%s left after the start", dir)
		}
	}
	if got := d.MustDocker("run", "--rm", "-v", "bare:/d", "busybox", "cat", "/d/f"); got != "kept\n" {
		t.Errorf("adopted volume: %q", got)
	}
	d.MustDocker("run", "--rm", "-v", "nodata:/d", "busybox", "touch", "/d/x")
}

// :ro and readonly mounts refuse writes.
func TestVolumeReadOnly(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	host := t.TempDir()
	for _, args := range [][]string{
		{"-v", "rov:/data:ro"},
		{"--mount", "type=volume,src=rov,dst=/data,readonly"},
		{"-v", host + ":/data:ro"},
		{"--mount", "type=bind,src=" + host + ",dst=/data,ro"},
	} {
		cmd := append(append([]string{"run", "--rm"}, args...), "busybox", "touch", "/data/x")
		res := d.Docker(cmd...)
		if res.Code == 0 || !strings.Contains(res.Stderr, "Read-only file system") {
			t.Errorf("%v: exit %d, %q", args, res.Code, res.Stderr)
		}
	}
	if ents, _ := os.ReadDir(host); len(ents) != 0 {
		t.Errorf("a read-only bind was written: %v", ents)
	}
	// and read-write is the default
	d.MustDocker("run", "--rm", "-v", host+":/data", "busybox", "touch", "/data/x")
	if _, err := os.Stat(filepath.Join(host, "x")); err != nil {
		t.Error(err)
	}
	// Read-only reaches the mounts below the bind too, unless
	// bind-recursive=writable says otherwise.
	sub := filepath.Join(host, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", sub, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	defer syscall.Unmount(sub, syscall.MNT_DETACH)
	res := d.Docker("run", "--rm", "-v", host+":/data:ro", "busybox", "touch", "/data/sub/x")
	if res.Code == 0 || !strings.Contains(res.Stderr, "Read-only file system") {
		t.Errorf("a mount below a read-only bind is writable: exit %d %q", res.Code, res.Stderr)
	}
	d.MustDocker("run", "--rm", "--mount", "type=bind,src="+host+",dst=/data,readonly,bind-recursive=writable", "busybox", "touch", "/data/sub/x")
	if _, err := os.Stat(filepath.Join(sub, "x")); err != nil {
		t.Errorf("bind-recursive=writable: %v", err)
	}
	// -v creates a missing host directory, as Docker does.
	missing := filepath.Join(t.TempDir(), "new", "dir")
	d.MustDocker("run", "--rm", "-v", missing+":/m", "busybox", "touch", "/m/f")
	if _, err := os.Stat(filepath.Join(missing, "f")); err != nil {
		t.Errorf("-v with a missing host directory: %v", err)
	}
}

// tmpfs sizes are enforced: writing past them fails with ENOSPC.
func TestTmpfsSize(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	for _, args := range [][]string{
		{"--tmpfs", "/t:size=1m"},
		{"--mount", "type=tmpfs,dst=/t,tmpfs-size=1m"},
	} {
		cmd := append(append([]string{"run", "--rm"}, args...), "busybox", "dd", "if=/dev/zero", "of=/t/f", "bs=1k", "count=2048")
		res := d.Docker(cmd...)
		if res.Code == 0 || !strings.Contains(res.Stderr, "No space left on device") {
			t.Errorf("%v: exit %d, %q", args, res.Code, res.Stderr)
		}
		cmd = append(append([]string{"run", "--rm"}, args...), "busybox", "dd", "if=/dev/zero", "of=/t/f", "bs=1k", "count=512")
		d.MustDocker(cmd...)
	}
	if got := strings.TrimSpace(d.MustDocker("run", "--rm", "--mount", "type=tmpfs,dst=/t,tmpfs-mode=1770", "busybox", "stat", "-c", "%a", "/t")); got != "1770" {
		t.Errorf("tmpfs-mode: %s", got)
	}
}

// --volumes-from shares another container's volumes and binds, read-only
// on request.
func TestVolumesFrom(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	host := t.TempDir()
	d.MustDocker("create", "--name", "src", "-v", "shared:/shared", "-v", "/anon", "-v", host+":/bind", "busybox", "true")
	d.MustDocker("run", "--rm", "--volumes-from", "src", "busybox", "sh", "-c", "echo a > /shared/a; echo b > /anon/b; echo c > /bind/c")
	if got := d.MustDocker("run", "--rm", "--volumes-from", "src", "busybox", "cat", "/shared/a", "/anon/b", "/bind/c"); got != "a\nb\nc\n" {
		t.Errorf("through volumes-from: %q", got)
	}
	res := d.Docker("run", "--rm", "--volumes-from", "src:ro", "busybox", "touch", "/shared/x")
	if res.Code == 0 || !strings.Contains(res.Stderr, "Read-only file system") {
		t.Errorf("--volumes-from src:ro: exit %d %q", res.Code, res.Stderr)
	}
	res = d.Docker("run", "--rm", "--volumes-from", "nosuch", "busybox", "true")
	if res.Code != 125 || !strings.Contains(res.Stderr, "No such container: nosuch") {
		t.Errorf("--volumes-from nosuch: exit %d %q", res.Code, res.Stderr)
	}
	// The anonymous volume of src survives a --rm of a container that
	// borrowed it, and goes with src's rm -v.
	anon := strings.TrimSpace(d.MustDocker("inspect", "-f", `{{range .Mounts}}{{if eq .Destination "/anon"}}{{.Name}}{{end}}{{end}}`, "src"))
	if !slices.Contains(volumeNames(d), anon) {
		t.Fatalf("src's anonymous volume %q is gone", anon)
	}
	d.MustDocker("rm", "-v", "src")
	names := volumeNames(d)
	if slices.Contains(names, anon) || !slices.Contains(names, "shared") {
		t.Errorf("after rm -v src: %v", names)
	}
}

// Anonymous volumes go with --rm and rm -v, stay with a plain rm, and are
// what prune removes by default.
func TestAnonymousVolumeLifecycle(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustDocker("run", "--rm", "-v", "/scratch", "--mount", "type=volume,dst=/more", "busybox", "touch", "/scratch/x", "/more/y")
	if names := volumeNames(d); len(names) != 0 {
		t.Errorf("--rm left volumes: %v", names)
	}
	d.MustDocker("run", "--name", "plain", "-v", "/scratch", "-v", "named:/n", "--mount", "type=bind,src=/tmp,dst=/hosttmp,readonly", "busybox", "true")
	if got := inspect(d, "plain", "{{json .HostConfig.Binds}} {{len .HostConfig.Mounts}} {{json .Config.Volumes}}"); got != `["named:/n"] 1 {"/scratch":{}}` {
		t.Errorf("HostConfig and Config as given: %s", got)
	}
	mounts := inspect(d, "plain", `{{range .Mounts}}{{.Type}} {{.Destination}} {{.Mode}} {{.RW}} {{.Propagation}}|{{end}}`)
	if mounts != "bind /hosttmp  false rprivate|volume /n z true |volume /scratch  true |" {
		t.Errorf("Mounts: %q", mounts)
	}
	d.MustDocker("rm", "plain")
	names := volumeNames(d)
	if len(names) != 2 || !slices.Contains(names, "named") {
		t.Fatalf("after rm without -v: %v, want the anonymous one and named", names)
	}
	var anon string
	for _, n := range names {
		if n != "named" {
			anon = n
		}
	}
	if got := strings.TrimSpace(d.MustDocker("volume", "inspect", "-f", "{{json .Labels}}", anon)); got != `{"com.docker.volume.anonymous":""}` {
		t.Errorf("anonymous volume's labels: %s", got)
	}
	out := d.MustDocker("volume", "prune", "-f")
	if !strings.Contains(out, "Deleted Volumes:\n"+anon+"\n") || !strings.Contains(out, "Total reclaimed space: 0B") {
		t.Errorf("prune: %q", out)
	}
	if names := volumeNames(d); !slices.Equal(names, []string{"named"}) {
		t.Errorf("after prune: %v, want only named", names)
	}
	d.MustDocker("run", "--rm", "-v", "named:/n", "busybox", "sh", "-c", "head -c 2000 /dev/zero > /n/f")
	out = d.MustDocker("volume", "prune", "-af")
	if !strings.Contains(out, "named") || !strings.Contains(out, "Total reclaimed space: 2kB") {
		t.Errorf("prune -a: %q", out)
	}
}

// A volume in use cannot be removed (409, Docker's words) and nothing of
// it changes; force does not change that.
func TestVolumeRmInUse(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	id := strings.TrimSpace(d.MustDocker("run", "-d", "-v", "busy:/data", "busybox", "sh", "-c", "echo x > /data/f; sleep 30"))
	for _, args := range [][]string{{"volume", "rm", "busy"}, {"volume", "rm", "-f", "busy"}} {
		res := d.Docker(args...)
		if want := "remove busy: volume is in use - [" + id + "]"; res.Code != 1 || !strings.Contains(res.Stderr, want) {
			t.Errorf("%v: exit %d %q, want %q", args, res.Code, res.Stderr, want)
		}
	}
	req, _ := http.NewRequest(http.MethodDelete, "http://gantry/v1.51/volumes/busy", nil)
	resp, err := d.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("DELETE of a volume in use: %d, want 409", resp.StatusCode)
	}
	if got := d.MustDocker("exec", id, "cat", "/data/f"); got != "x\n" {
		t.Errorf("data after the refused removal: %q", got)
	}
	if out := d.MustDocker("ps", "-q", "--no-trunc", "--filter", "volume=busy"); out != id+"\n" {
		t.Errorf("ps --filter volume=busy: %q", out)
	}
	if out := d.MustDocker("ps", "-q", "--no-trunc", "--filter", "volume=/data"); out != id+"\n" {
		t.Errorf("ps --filter volume=/data: %q", out)
	}
	if out := d.MustDocker("ps", "-q", "--filter", "volume=other"); out != "" {
		t.Errorf("ps --filter volume=other: %q", out)
	}
	if out := d.MustDocker("volume", "ls", "--filter", "dangling=false", "-q"); out != "busy\n" {
		t.Errorf("dangling=false: %q", out)
	}
	d.MustDocker("rm", "-f", id)
	if out := d.MustDocker("volume", "ls", "--filter", "dangling=true", "-q"); out != "busy\n" {
		t.Errorf("dangling=true after rm: %q", out)
	}
	d.MustDocker("volume", "rm", "busy")
	// -f makes a missing volume no error, as Docker.
	d.MustDocker("volume", "rm", "-f", "busy")
	res := d.Docker("volume", "rm", "busy")
	if res.Code != 1 || !strings.Contains(res.Stderr, "get busy: no such volume") {
		t.Errorf("rm of a missing volume: exit %d %q", res.Code, res.Stderr)
	}
}

// Bad input: one clear line, Docker's status, nothing made.
func TestVolumeBadInput(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	cases := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"volume", "create", "a"}, 1, "volume name is too short, names should be at least two alphanumeric characters"},
		{[]string{"volume", "create", "bad$name"}, 1, `"bad$name" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed`},
		{[]string{"volume", "create", "-d", "nfsplugin", "x1"}, 1, `error looking up volume plugin nfsplugin: plugin "nfsplugin" not found`},
		{[]string{"volume", "create", "-o", "bogus=1", "x2"}, 1, `invalid option: "bogus"`},
		{[]string{"volume", "create", "-o", "type=tmpfs", "x3"}, 1, `missing required option: "device"`},
		{[]string{"volume", "ls", "--filter", "dangling=maybe"}, 1, "invalid filter 'dangling=maybe'"},
		{[]string{"volume", "ls", "--filter", "colour=red"}, 1, "invalid filter 'colour'"},
		{[]string{"volume", "inspect", "nosuch"}, 1, "get nosuch: no such volume"},
		{[]string{"run", "--rm", "-v", "foo/bar:/x", "busybox", "true"}, 125, `create foo/bar: "foo/bar" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`},
		{[]string{"run", "--rm", "--mount", "type=bind,src=/nonexistent-x,dst=/x", "busybox", "true"}, 125, `invalid mount config for type "bind": bind source path does not exist: /nonexistent-x`},
		{[]string{"run", "--rm", "-v", "good:relative", "busybox", "true"}, 125, "invalid mount path: 'relative' mount path must be absolute"},
		{[]string{"run", "--rm", "-v", "good:/x:bogus", "busybox", "true"}, 125, "invalid mode: bogus"},
		{[]string{"run", "--rm", "-v", "good:/x", "-v", "other:/x", "busybox", "true"}, 125, "Duplicate mount point: /x"},
		{[]string{"run", "--rm", "--mount", "type=volume,dst=/x,readonly", "busybox", "true"}, 125, "must not set ReadOnly mode when using anonymous volumes"},
		{[]string{"run", "--rm", "-v", "good:/", "busybox", "true"}, 125, "destination can't be '/'"},
		{[]string{"run", "--rm", "--volume-driver", "nfsplugin", "-v", "good:/x", "busybox", "true"}, 125, `plugin "nfsplugin" not found`},
	}
	for _, c := range cases {
		res := d.Docker(c.args...)
		if res.Code != c.code || !strings.Contains(res.Stderr, c.stderr) {
			t.Errorf("%v: exit %d %q, want %d and %q", c.args, res.Code, res.Stderr, c.code, c.stderr)
		}
	}
	if names := volumeNames(d); len(names) != 0 {
		t.Errorf("bad input left volumes: %v", names)
	}
	if ids := strings.Fields(d.MustDocker("ps", "-aq")); len(ids) != 0 {
		t.Errorf("bad input left containers: %v", ids)
	}
	if ents := entries(filepath.Join(d.DataRoot, "volumes")); len(ents) != 0 {
		t.Errorf("bad input left files under volumes/: %v", ents)
	}
}

// Volumes made with the local driver's options are mounted while a
// container uses them and unmounted after; removing one never touches
// the device's files.
func TestVolumeWithOptions(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustDocker("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m", "tv")
	res := d.Docker("run", "--rm", "-v", "tv:/t", "busybox", "dd", "if=/dev/zero", "of=/t/f", "bs=1k", "count=2048")
	if res.Code == 0 || !strings.Contains(res.Stderr, "No space left on device") {
		t.Errorf("tmpfs volume of 1m: exit %d %q", res.Code, res.Stderr)
	}
	if m := d.Mounts(); slices.Contains(m, volumeData(d, "tv")) {
		t.Errorf("the tmpfs volume is still mounted after its user exited: %v", m)
	}
	id := strings.TrimSpace(d.MustDocker("run", "-d", "-v", "tv:/t", "busybox", "sleep", "30"))
	if m := d.Mounts(); !slices.Contains(m, volumeData(d, "tv")) {
		t.Errorf("the tmpfs volume is not mounted while used: %v", m)
	}
	d.MustDocker("rm", "-f", id)
	if m := d.Mounts(); slices.Contains(m, volumeData(d, "tv")) {
		t.Errorf("the tmpfs volume is still mounted after rm -f: %v", m)
	}

	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "precious"), []byte("keep me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.MustDocker("volume", "create", "-o", "type=none", "-o", "o=bind", "-o", "device="+host, "bv")
	if got := d.MustDocker("run", "--rm", "-v", "bv:/b", "busybox", "sh", "-c", "cat /b/precious; echo new > /b/new"); got != "keep me\n" {
		t.Errorf("bind volume: %q", got)
	}
	if b, err := os.ReadFile(filepath.Join(host, "new")); err != nil || string(b) != "new\n" {
		t.Errorf("written through the bind volume: %q %v", b, err)
	}
	d.MustDocker("volume", "rm", "bv")
	if b, err := os.ReadFile(filepath.Join(host, "precious")); err != nil || string(b) != "keep me\n" {
		t.Errorf("volume rm touched the device's files: %q %v", b, err)
	}
	if got := strings.TrimSpace(d.MustDocker("volume", "inspect", "-f", "{{.Options.type}} {{.Options.o}}", "tv")); got != "tmpfs size=1m" {
		t.Errorf("options: %q", got)
	}
	// --mount's volume-opt and volume-label make the volume with them.
	d.MustDocker("run", "--rm", "--mount", "type=volume,src=mv,dst=/m,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-label=made=bymount", "busybox", "true")
	if got := strings.TrimSpace(d.MustDocker("volume", "inspect", "-f", "{{.Options.type}} {{.Labels.made}}", "mv")); got != "tmpfs bymount" {
		t.Errorf("--mount volume-opt/volume-label: %q", got)
	}
}

// The docker CLI's volume commands, output and filters.
func TestVolumeDockerCLI(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	if out := d.MustDocker("volume", "create", "--label", "tier=db", "--label", "x", "vol10"); out != "vol10\n" {
		t.Errorf("create: %q", out)
	}
	d.MustDocker("volume", "create", "vol9")
	anon := strings.TrimSpace(d.MustDocker("volume", "create"))
	if len(anon) != 64 {
		t.Errorf("a volume created without a name is called %q", anon)
	}
	out := d.MustDocker("volume", "ls")
	want := "DRIVER    VOLUME NAME\nlocal     " + anon + "\nlocal     vol9\nlocal     vol10\n"
	if anon > "vol" {
		want = "DRIVER    VOLUME NAME\nlocal     vol9\nlocal     vol10\nlocal     " + anon + "\n"
	}
	if out != want {
		t.Errorf("volume ls:\n%s\nwant\n%s", out, want)
	}
	for filter, want := range map[string]string{
		"label=tier=db": "vol10\n", "label=x": "vol10\n", "label=tier=web": "", "name=l9": "vol9\n", "driver=local": "",
	} {
		got := d.MustDocker("volume", "ls", "-q", "--filter", filter)
		if filter == "driver=local" {
			if len(strings.Fields(got)) != 3 {
				t.Errorf("driver=local: %q", got)
			}
			continue
		}
		if got != want {
			t.Errorf("--filter %s: %q, want %q", filter, got, want)
		}
	}
	// The docker CLI prints .Labels in its map's order: either is right.
	if got := d.MustDocker("volume", "ls", "--format", "{{.Name}} {{.Labels}} {{.Scope}}", "--filter", "name=vol10"); got != "vol10 tier=db,x= local\n" && got != "vol10 x=,tier=db local\n" {
		t.Errorf("--format: %q", got)
	}
	insp := d.MustDocker("volume", "inspect", "vol10")
	var vols []map[string]any
	if err := json.Unmarshal([]byte(insp), &vols); err != nil || len(vols) != 1 {
		t.Fatalf("inspect: %v %s", err, insp)
	}
	if vols[0]["Mountpoint"] != volumeData(d, "vol10") || vols[0]["Scope"] != "local" || vols[0]["CreatedAt"] == "" {
		t.Errorf("inspect: %v", vols[0])
	}
	if out := d.MustDocker("volume", "rm", "vol9", "vol10"); out != "vol9\nvol10\n" {
		t.Errorf("rm: %q", out)
	}
	// The same through gantry's own CLI.
	if out := d.MustGantry("volume", "create", "gv"); out != "gv\n" {
		t.Errorf("gantry volume create: %q", out)
	}
	if out := d.MustGantry("volume", "ls", "--filter", "name=gv"); out != "DRIVER    VOLUME NAME\nlocal     gv\n" {
		t.Errorf("gantry volume ls: %q", out)
	}
	if out := strings.TrimSpace(d.MustGantry("volume", "inspect", "-f", "{{.Name}} {{.Driver}}", "gv")); out != "gv local" {
		t.Errorf("gantry volume inspect: %q", out)
	}
	d.MustGantry("run", "--rm", "-v", "gv:/g", "busybox", "sh", "-c", "echo g > /g/f")
	if out := d.MustGantry("run", "--rm", "-v", "gv:/g:ro", "busybox", "cat", "/g/f"); out != "g\n" {
		t.Errorf("gantry run -v: %q", out)
	}
	res := d.Gantry("volume", "rm", "nosuch")
	if res.Code != 1 || !strings.Contains(res.Stderr, "get nosuch: no such volume") {
		t.Errorf("gantry volume rm nosuch: %d %q", res.Code, res.Stderr)
	}
	if out := d.MustGantry("volume", "prune", "-af"); !strings.Contains(out, "gv") || !strings.Contains(out, "Total reclaimed space: 2B") {
		t.Errorf("gantry volume prune -af: %q", out)
	}
}

// Volume events: create, mount, unmount, destroy.
func TestVolumeEvents(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	since := strconv.FormatInt(time.Now().Unix()-1, 10)
	d.MustDocker("volume", "create", "ev")
	d.MustDocker("run", "--rm", "-v", "ev:/e", "busybox", "true")
	d.MustDocker("volume", "rm", "ev")
	out := d.MustDocker("events", "--since", since, "--until", strconv.FormatInt(time.Now().Unix()+1, 10), "--filter", "type=volume", "--format", "{{.Action}} {{.Actor.ID}}")
	for _, want := range []string{"create ev", "mount ev", "unmount ev", "destroy ev"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("events lack %q:\n%s", want, out)
		}
	}
}

// A tmpfs volume in use when the daemon is killed stays mounted for its
// running container, with its data, and is unmounted when that container
// stops under the next daemon.
func TestVolumeWithOptionsAcrossKill(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustDocker("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=2m", "tk")
	d.MustDocker("run", "-d", "--name", "user", "-v", "tk:/t", "busybox", "sh", "-c", "echo kept > /t/f; sleep 60")
	waitFor(t, func() bool { return d.Docker("exec", "user", "cat", "/t/f").Stdout == "kept\n" })
	d.Kill()
	d.Start()
	if !slices.Contains(d.Mounts(), volumeData(d, "tk")) {
		t.Fatal("the tmpfs volume was unmounted by the restart")
	}
	// A second user sees the same tmpfs, not a new one.
	if got := d.MustDocker("run", "--rm", "-v", "tk:/t", "busybox", "cat", "/t/f"); got != "kept\n" {
		t.Errorf("second user after the restart: %q", got)
	}
	if res := d.Docker("volume", "rm", "tk"); res.Code == 0 {
		t.Error("a volume used by a running container was removed after a restart")
	}
	d.MustDocker("stop", "-t", "0", "user")
	if slices.Contains(d.Mounts(), volumeData(d, "tk")) {
		t.Error("the tmpfs volume stayed mounted after its last user stopped")
	}
	d.MustDocker("rm", "user")
	d.MustDocker("volume", "rm", "tk")
}

// Many runs with anonymous, named and option volumes leave nothing but
// the named volumes: no anonymous volume, staging directory or mount.
func TestVolumeCyclesLeaveNothing(t *testing.T) {
	d := fixture.NewDaemon(t)
	volumeImage(t, d, "volimg")
	d.MustDocker("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "cyc-tmp")
	for i := 0; i < 15; i++ {
		d.MustDocker("run", "--rm", "-v", "/scratch", "-v", "cyc-named:/n", "-v", "cyc-tmp:/t", "volimg", "sh", "-c", "ls /data >/dev/null; echo x > /t/x")
		id := strings.TrimSpace(d.MustDocker("create", "-v", "/more", "volimg", "true"))
		d.MustDocker("start", id)
		d.MustDocker("wait", id)
		d.MustDocker("rm", "-v", id)
	}
	if names := volumeNames(d); !slices.Equal(names, []string{"cyc-named", "cyc-tmp"}) {
		t.Errorf("volumes left: %v", names)
	}
	if ents := entries(filepath.Join(d.DataRoot, "volumes")); !slices.Equal(ents, []string{"cyc-named", "cyc-tmp"}) {
		t.Errorf("volumes/ holds %v", ents)
	}
	if m := d.Mounts(); len(m) != 0 {
		t.Errorf("mounts left: %v", m)
	}
}
