package cli_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// Helpers shared by the image tests (images_test.go, pull_test.go,
// badimage_test.go) are prefixed img.

// imgRunIn runs gantry with stdin and returns what it printed.
func imgRunIn(t *testing.T, g *fixture.Daemon, stdin io.Reader, args ...string) fixture.Result {
	t.Helper()
	cmd := g.GantryCommand(args...)
	cmd.Stdin = stdin
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("gantry %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return fixture.Result{Stdout: out.String(), Stderr: errOut.String(), Code: code}
}

// imgLines splits output into its non-empty lines.
func imgLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// imgBusybox makes busybox:latest from the host's busybox and returns its ID.
func imgBusybox(t *testing.T, g *fixture.Daemon) string {
	t.Helper()
	id := strings.TrimSpace(g.MustGantry("image", "busybox"))
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(id) {
		t.Fatalf("image busybox printed %q, want an image ID", id)
	}
	return id
}

// imgInspect is the part of `image inspect` the tests read.
type imgInspect struct {
	ID          string   `json:"Id"`
	RepoTags    []string `json:"RepoTags"`
	RepoDigests []string `json:"RepoDigests"`
	Comment     string   `json:"Comment"`
	Os          string   `json:"Os"`
	Arch        string   `json:"Architecture"`
	Size        int64    `json:"Size"`
	Config      struct {
		Cmd        []string `json:"Cmd"`
		Entrypoint []string `json:"Entrypoint"`
		Env        []string `json:"Env"`
	} `json:"Config"`
	RootFS struct {
		Type   string   `json:"Type"`
		Layers []string `json:"Layers"`
	} `json:"RootFS"`
}

// imgInspectOne runs `image inspect NAME` and decodes its one entry.
func imgInspectOne(t *testing.T, g *fixture.Daemon, name string) imgInspect {
	t.Helper()
	out := g.MustGantry("image", "inspect", name)
	var list []imgInspect
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("image inspect %s: not a JSON array: %v\n%s", name, err, out)
	}
	if len(list) != 1 {
		t.Fatalf("image inspect %s: %d entries, want 1\n%s", name, len(list), out)
	}
	return list[0]
}

// imgLayerDirs lists the unpacked layers: DATA/snapshots/layers/<chainid>.
func imgLayerDirs(t *testing.T, g *fixture.Daemon) []string {
	t.Helper()
	return imgDirNames(t, filepath.Join(g.DataRoot, "snapshots", "layers"))
}

// imgIngests lists what is in DATA/content/ingest.
func imgIngests(t *testing.T, g *fixture.Daemon) []string {
	t.Helper()
	return imgDirNames(t, filepath.Join(g.DataRoot, "content", "ingest"))
}

func imgDirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// imgTempFiles lists the staging and temporary files left in the data root:
// snapshots/tmp entries and content temp files (names starting with ".tmp"
// or "tmp-") anywhere under content. A running daemon's own staging
// directory (snapshots/tmp/p-*, its .lock held) counts only for what it
// holds.
func imgTempFiles(t *testing.T, g *fixture.Daemon) []string {
	t.Helper()
	var left []string
	tmp := filepath.Join(g.DataRoot, "snapshots", "tmp")
	for _, n := range imgDirNames(t, tmp) {
		if imgStagingHeld(filepath.Join(tmp, n)) {
			for _, e := range imgDirNames(t, filepath.Join(tmp, n)) {
				if e != ".lock" {
					left = append(left, "snapshots/tmp/"+n+"/"+e)
				}
			}
			continue
		}
		left = append(left, "snapshots/tmp/"+n)
	}
	filepath.WalkDir(filepath.Join(g.DataRoot, "content"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if n := d.Name(); strings.HasPrefix(n, ".tmp") || strings.HasPrefix(n, "tmp-") {
			rel, _ := filepath.Rel(g.DataRoot, p)
			left = append(left, rel)
		}
		return nil
	})
	return left
}

// imgStagingHeld tells whether a process holds the lock of a staging
// directory.
func imgStagingHeld(dir string) bool {
	f, err := os.Open(filepath.Join(dir, ".lock"))
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return true
	}
	unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return false
}

// imgCheckClean runs `system check` and wants "no problems found".
func imgCheckClean(t *testing.T, g *fixture.Daemon) {
	t.Helper()
	res := g.Gantry("system", "check")
	if res.Code != 0 || !strings.Contains(res.Stdout, "no problems found") {
		t.Errorf("system check: exit %d\nstdout: %s\nstderr: %s", res.Code, res.Stdout, res.Stderr)
	}
}

// imgFails checks a failed command: non-zero exit, one line on stderr
// starting "gantry: " that contains one of wants (case-insensitive).
func imgFails(t *testing.T, what string, res fixture.Result, wants ...string) {
	t.Helper()
	imgFailsPrefix(t, what, res, "gantry: ", wants...)
}

func imgFailsPrefix(t *testing.T, what string, res fixture.Result, prefix string, wants ...string) {
	t.Helper()
	if res.Code == 0 {
		t.Errorf("%s succeeded, want a failure\nstdout: %s", what, res.Stdout)
		return
	}
	msg := strings.TrimRight(res.Stderr, "\n")
	t.Logf("%s: exit %d: %s", what, res.Code, msg)
	if strings.Contains(msg, "\n") || msg == "" {
		t.Errorf("%s: want one line on stderr, got:\n%s", what, res.Stderr)
	}
	if !strings.HasPrefix(msg, prefix) {
		t.Errorf("%s: stderr %q does not start with %q", what, msg, prefix)
	}
	lower := strings.ToLower(msg)
	for _, w := range wants {
		if strings.Contains(lower, strings.ToLower(w)) {
			return
		}
	}
	t.Errorf("%s: stderr %q mentions none of %q", what, msg, wants)
}

// imgListed reports the REPOSITORY:TAG rows of `images`.
func imgListed(t *testing.T, g *fixture.Daemon) []string {
	t.Helper()
	return imgLines(g.MustGantry("images", "--format", "{{.Repository}}:{{.Tag}}"))
}

var (
	imgHeaderRE  = regexp.MustCompile(`^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\s*$`)
	imgShortIDRE = regexp.MustCompile(`^[0-9a-f]{12}$`)
	imgFullIDRE  = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// A busybox image made from the host's static busybox is listed, filtered,
// formatted, inspected and shown in history as Docker does.
func TestImageBusyboxListInspectHistory(t *testing.T) {
	g := fixture.NewDaemon(t)
	id := imgBusybox(t, g)
	short := strings.TrimPrefix(id, "sha256:")[:12]

	lines := imgLines(g.MustGantry("images"))
	if len(lines) != 2 || !imgHeaderRE.MatchString(lines[0]) {
		t.Fatalf("images: want the header and one row, got:\n%s", strings.Join(lines, "\n"))
	}
	row := regexp.MustCompile(`^busybox\s+latest\s+([0-9a-f]{12})\s+\S.* ago\s+(\d+(\.\d+)?[kMG]?B)$`).FindStringSubmatch(lines[1])
	if row == nil {
		t.Fatalf("images row %q is not `busybox   latest   <id>   ... ago   <size>`", lines[1])
	}
	if row[1] != short {
		t.Errorf("images shows ID %s, image busybox printed %s", row[1], id)
	}
	if !strings.HasSuffix(row[2], "MB") {
		t.Errorf("busybox size %s: want megabytes like 2.13MB", row[2])
	}
	// `image ls` is the same command.
	if ls := imgLines(g.MustGantry("image", "ls")); len(ls) != 2 || imgAgo(ls[1]) != imgAgo(lines[1]) {
		t.Errorf("image ls differs from images:\n%s", strings.Join(ls, "\n"))
	}

	if q := imgLines(g.MustGantry("images", "-q")); !slices.Equal(q, []string{short}) {
		t.Errorf("images -q = %q, want [%s]", q, short)
	}
	noTrunc := imgLines(g.MustGantry("images", "--no-trunc"))
	if len(noTrunc) != 2 || !strings.Contains(noTrunc[1], id) {
		t.Errorf("images --no-trunc does not show %s:\n%s", id, strings.Join(noTrunc, "\n"))
	}
	if f := imgListed(t, g); !slices.Equal(f, []string{"busybox:latest"}) {
		t.Errorf(`images --format "{{.Repository}}:{{.Tag}}" = %q`, f)
	}

	jsonLines := imgLines(g.MustGantry("images", "--format", "json"))
	if len(jsonLines) != 1 {
		t.Fatalf("images --format json: want one line per image, got:\n%s", strings.Join(jsonLines, "\n"))
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(jsonLines[0]), &obj); err != nil {
		t.Fatalf("images --format json: %v\n%s", err, jsonLines[0])
	}
	if obj["Repository"] != "busybox" || obj["Tag"] != "latest" || obj["ID"] != short {
		t.Errorf("images --format json: Repository/Tag/ID = %v/%v/%v", obj["Repository"], obj["Tag"], obj["ID"])
	}
	if s, _ := obj["Size"].(string); !strings.HasSuffix(s, "MB") {
		t.Errorf("images --format json: Size = %v", obj["Size"])
	}

	if f := imgLines(g.MustGantry("images", "--filter", "reference=busy*", "--format", "{{.Repository}}")); !slices.Equal(f, []string{"busybox"}) {
		t.Errorf("images --filter reference=busy* = %q", f)
	}
	if f := imgLines(g.MustGantry("images", "--filter", "reference=nomatch*", "-q")); len(f) != 0 {
		t.Errorf("images --filter reference=nomatch* = %q, want nothing", f)
	}
	if f := imgLines(g.MustGantry("images", "--filter", "dangling=true", "-q")); len(f) != 0 {
		t.Errorf("images --filter dangling=true = %q, want nothing", f)
	}

	info := imgInspectOne(t, g, "busybox")
	if info.ID != id {
		t.Errorf("inspect Id = %s, want %s", info.ID, id)
	}
	if !slices.Equal(info.RepoTags, []string{"busybox:latest"}) {
		t.Errorf("inspect RepoTags = %q", info.RepoTags)
	}
	if len(info.RootFS.Layers) != 1 || !imgFullIDRE.MatchString(info.RootFS.Layers[0]) {
		t.Errorf("inspect RootFS.Layers = %q, want one sha256 diff ID", info.RootFS.Layers)
	}
	if info.Os != "linux" || info.Arch != "amd64" {
		t.Errorf("inspect Os/Architecture = %s/%s", info.Os, info.Arch)
	}
	if !slices.Equal(info.Config.Cmd, []string{"sh"}) {
		t.Errorf("inspect Config.Cmd = %q", info.Config.Cmd)
	}
	if got := strings.TrimSpace(g.MustGantry("image", "inspect", "--format", "{{.Os}}", "busybox")); got != "linux" {
		t.Errorf("inspect --format '{{.Os}}' = %q", got)
	}
	// The layer named in RootFS is the unpacked one (a base layer's chain
	// ID is its diff ID).
	if dirs := imgLayerDirs(t, g); !slices.Equal(dirs, []string{strings.TrimPrefix(info.RootFS.Layers[0], "sha256:")}) {
		t.Errorf("snapshots/layers = %q, want the one layer %s", dirs, info.RootFS.Layers[0])
	}

	hist := imgLines(g.MustGantry("history", "busybox"))
	if len(hist) < 2 || !regexp.MustCompile(`^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT\s*$`).MatchString(hist[0]) {
		t.Fatalf("history: want header IMAGE CREATED CREATED BY SIZE COMMENT, got:\n%s", strings.Join(hist, "\n"))
	}
	if !strings.HasPrefix(hist[1], short+" ") || !strings.Contains(hist[1], "busybox") {
		t.Errorf("history top line %q: want image %s and a comment mentioning busybox", hist[1], short)
	}
	imgCheckClean(t, g)
}

// tag adds a name, rmi of one of several names untags, rmi by ID of an image
// with several names needs -f and then deletes the image and its layer.
func TestImageTagAndRemove(t *testing.T) {
	g := fixture.NewDaemon(t)
	id := imgBusybox(t, g)
	short := strings.TrimPrefix(id, "sha256:")[:12]
	layers := imgLayerDirs(t, g)
	if len(layers) != 1 {
		t.Fatalf("snapshots/layers = %q, want one layer", layers)
	}

	g.MustGantry("tag", "busybox", "mine:1")
	lines := imgLines(g.MustGantry("images"))
	if len(lines) != 3 {
		t.Fatalf("images after tag: want header and two rows:\n%s", strings.Join(lines, "\n"))
	}
	for _, want := range []string{`^busybox\s+latest\s+` + short + `\s`, `^mine\s+1\s+` + short + `\s`} {
		if !slices.ContainsFunc(lines[1:], regexp.MustCompile(want).MatchString) {
			t.Errorf("images after tag: no row matching %s:\n%s", want, strings.Join(lines, "\n"))
		}
	}
	if q := imgLines(g.MustGantry("images", "-q")); len(q) != 1 {
		t.Errorf("images -q lists an image once, got %q", q)
	}
	if tags := imgInspectOne(t, g, "mine:1").RepoTags; !slices.Equal(tags, []string{"busybox:latest", "mine:1"}) {
		t.Errorf("inspect mine:1 RepoTags = %q", tags)
	}

	out := g.MustGantry("rmi", "mine:1")
	if strings.TrimSpace(out) != "Untagged: mine:1" {
		t.Errorf("rmi mine:1 printed %q, want only \"Untagged: mine:1\"", out)
	}
	if l := imgListed(t, g); !slices.Equal(l, []string{"busybox:latest"}) {
		t.Errorf("images after rmi mine:1 = %q", l)
	}
	if got := imgLayerDirs(t, g); !slices.Equal(got, layers) {
		t.Errorf("untagging removed the layer: %q", got)
	}

	g.MustGantry("image", "tag", "busybox", "mine:1")
	res := g.Gantry("rmi", short)
	if res.Code == 0 {
		t.Fatalf("rmi %s with two names succeeded without -f: %s", short, res.Stdout)
	}
	if !strings.Contains(res.Stderr, "unable to delete "+short+" (must be forced) - image is referenced in multiple repositories") {
		t.Errorf("rmi %s without -f: stderr %q, want Docker's must-be-forced message", short, res.Stderr)
	}
	if l := imgListed(t, g); len(l) != 2 {
		t.Errorf("refused rmi changed images: %q", l)
	}

	out = g.MustGantry("image", "rm", "-f", short)
	if !slices.Contains(imgLines(out), "Deleted: "+id) {
		t.Errorf("rmi -f %s printed:\n%s\nwant \"Deleted: %s\"", short, out, id)
	}
	for _, name := range []string{"busybox:latest", "mine:1"} {
		if !strings.Contains(out, "Untagged: "+name) {
			t.Errorf("rmi -f %s did not print \"Untagged: %s\":\n%s", short, name, out)
		}
	}
	if l := imgLines(g.MustGantry("images", "-q")); len(l) != 0 {
		t.Errorf("images after rmi -f: %q", l)
	}
	if got := imgLayerDirs(t, g); len(got) != 0 {
		t.Errorf("the layer is still unpacked after rmi -f: snapshots/layers = %q", got)
	}
	imgCheckClean(t, g)
}

// imgTar makes a root filesystem tar: a directory, files in it, one at the
// top.
func imgTar(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	entries := []struct {
		name, body string
		dir        bool
	}{
		{name: "etc/", dir: true},
		{name: "etc/hello", body: "hello from the import test\n"},
		{name: "etc/motd", body: "imported\n"},
		{name: "data.txt", body: strings.Repeat("x", 5000)},
	}
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg}
		if e.dir {
			hdr.Mode, hdr.Typeflag, hdr.Size = 0o755, tar.TypeDir, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// import makes a one-layer image from a tar on stdin or in a file, plain or
// gzip-compressed, with --change applied to its config.
func TestImageImport(t *testing.T) {
	g := fixture.NewDaemon(t)
	data := imgTar(t)

	res := imgRunIn(t, g, bytes.NewReader(data), "import", "-", "myimp:1", "-c", `CMD ["/bin/true"]`, "-c", "ENV A=b")
	if res.Code != 0 {
		t.Fatalf("import -: exit %d: %s", res.Code, res.Stderr)
	}
	id := strings.TrimSpace(res.Stdout)
	if !imgFullIDRE.MatchString(id) {
		t.Fatalf("import printed %q, want an image ID", res.Stdout)
	}
	info := imgInspectOne(t, g, "myimp:1")
	if info.ID != id {
		t.Errorf("inspect Id = %s, import printed %s", info.ID, id)
	}
	if !slices.Equal(info.Config.Cmd, []string{"/bin/true"}) {
		t.Errorf("inspect Config.Cmd = %q, want [/bin/true]", info.Config.Cmd)
	}
	if !slices.Contains(info.Config.Env, "A=b") {
		t.Errorf("inspect Config.Env = %q, want A=b", info.Config.Env)
	}
	if len(info.RootFS.Layers) != 1 {
		t.Fatalf("inspect RootFS.Layers = %q, want one layer", info.RootFS.Layers)
	}
	fs := filepath.Join(g.DataRoot, "snapshots", "layers", strings.TrimPrefix(info.RootFS.Layers[0], "sha256:"), "fs")
	if b, err := os.ReadFile(filepath.Join(fs, "etc", "hello")); err != nil || string(b) != "hello from the import test\n" {
		t.Errorf("imported layer etc/hello: %q, %v", b, err)
	}
	if st, err := os.Stat(filepath.Join(fs, "etc")); err != nil || !st.IsDir() {
		t.Errorf("imported layer has no etc directory: %v", err)
	}
	if l := imgListed(t, g); !slices.Equal(l, []string{"myimp:1"}) {
		t.Errorf("images = %q", l)
	}

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data)
	zw.Close()
	file := filepath.Join(t.TempDir(), "rootfs.tar.gz")
	if err := os.WriteFile(file, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	gzID := strings.TrimSpace(g.MustGantry("import", "-m", "from gzip", file, "myimp:gz"))
	gzInfo := imgInspectOne(t, g, "myimp:gz")
	if gzInfo.ID != gzID {
		t.Errorf("inspect myimp:gz Id = %s, import printed %s", gzInfo.ID, gzID)
	}
	// Same tar, so the same diff ID: the layer is shared, not unpacked twice.
	if !slices.Equal(gzInfo.RootFS.Layers, info.RootFS.Layers) {
		t.Errorf("gzip import layers %q, plain import layers %q: want the same diff ID", gzInfo.RootFS.Layers, info.RootFS.Layers)
	}
	if gzInfo.Comment != "from gzip" {
		t.Errorf("import -m: Comment = %q", gzInfo.Comment)
	}
	if dirs := imgLayerDirs(t, g); len(dirs) != 1 {
		t.Errorf("snapshots/layers = %q, want one shared layer", dirs)
	}
	if l := imgListed(t, g); len(l) != 2 {
		t.Errorf("images = %q, want myimp:1 and myimp:gz", l)
	}
	imgCheckClean(t, g)
}
