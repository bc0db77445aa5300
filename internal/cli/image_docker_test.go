package cli_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// The image commands of the real docker CLI, pointed at gantry's daemon,
// print what gantry's own print.

// imgSame runs the same command with gantry and docker and wants the same
// exit status and standard output (after norm, when given).
func imgSame(t *testing.T, d *fixture.Daemon, norm func(string) string, args ...string) string {
	t.Helper()
	g, dk := d.Gantry(args...), d.Docker(args...)
	gout, dout := g.Stdout, dk.Stdout
	if norm != nil {
		gout, dout = norm(gout), norm(dout)
	}
	if g.Code != dk.Code || gout != dout {
		t.Errorf("%v: gantry and docker differ\ngantry: exit %d\n%s%s\ndocker: exit %d\n%s%s", args,
			g.Code, g.Stdout, g.Stderr, dk.Code, dk.Stdout, dk.Stderr)
	}
	return g.Stdout
}

// imgSorted sorts the rows after a table's header: the docker CLI lists
// the names of an image in no fixed order.
// The docker CLI prints the tags of one image in no fixed order, so rows
// are compared as a set; a table's header stays first.
func imgSorted(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	rows := lines
	if len(lines) > 0 && strings.ToUpper(lines[0]) == lines[0] && strings.Contains(lines[0], "  ") {
		rows = lines[1:]
	}
	slices.Sort(rows)
	return strings.Join(lines, "\n") + "\n"
}

// imgAgo hides "N seconds ago" (the commands do not run in the same second)
// and the table padding that depends on it.
func imgAgo(s string) string {
	s = regexp.MustCompile(`(Less than a second|About a minute|\d+ \w+) ago`).ReplaceAllString(s, "AGO")
	return regexp.MustCompile(` {2,}`).ReplaceAllString(s, "  ")
}

func TestImageDockerListInspectHistory(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustDocker("tag", "busybox", "from/docker:1")
	d.MustGantry("tag", "busybox", "from/gantry:1")

	for _, args := range [][]string{
		{"images"},
		{"images", "--digests"},
		{"images", "--no-trunc"},
		{"images", "-a"},
		{"images", "--format", "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Size}}"},
		{"images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Digest}} {{.Size}}"},
		{"images", "--filter", "reference=from/*"},
		{"images", "from/docker"},
		{"images", "--filter", "dangling=true"},
		{"image", "ls", "busybox"},
		{"history", "busybox"},
		{"history", "--no-trunc", "busybox"},
		{"history", "-H=false", "busybox"},
		{"history", "-q", "busybox"},
		{"history", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}", "from/gantry:1"},
		{"image", "inspect", "busybox"},
		{"image", "inspect", "busybox", "from/docker:1"},
		{"image", "inspect", "--format", "{{.Id}} {{.Os}}/{{.Architecture}} {{.Config.Cmd}} {{.RepoTags}}", "busybox"},
		{"image", "inspect", "nosuchimage"},
		{"history", "nosuchimage"},
	} {
		imgSame(t, d, func(s string) string { return imgSorted(imgAgo(s)) }, args...)
	}

	// --format json: the same objects (keys and values) from both.
	var objs [2][]map[string]any
	for i, out := range []string{d.MustGantry("images", "--format", "json"), d.MustDocker("images", "--format", "json")} {
		for _, l := range imgLines(out) {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("images --format json: %v\n%s", err, out)
			}
			delete(m, "CreatedSince")
			objs[i] = append(objs[i], m)
		}
	}
	for i := range objs {
		slices.SortFunc(objs[i], func(a, b map[string]any) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	}
	if g, dk := fmt.Sprint(objs[0]), fmt.Sprint(objs[1]); g != dk {
		t.Errorf("images --format json differ:\ngantry: %s\ndocker: %s", g, dk)
	}
}

// tag and rmi through either CLI are seen by the other; rmi prints the same.
func TestImageDockerTagRemove(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	for _, who := range []string{"gantry", "docker"} {
		run := d.MustGantry
		if who == "docker" {
			run = d.MustDocker
		}
		run("tag", "busybox", "by/"+who+":1")
		run("image", "tag", "busybox", "by/"+who+":2")
	}
	if l := imgListed(t, d); len(l) != 5 {
		t.Errorf("images after tags by both = %q", l)
	}
	// Removing the same kind of name prints the same.
	g, dk := d.MustGantry("rmi", "by/gantry:1"), d.MustDocker("rmi", "by/docker:1")
	if strings.ReplaceAll(g, "gantry", "X") != strings.ReplaceAll(dk, "docker", "X") || g != "Untagged: by/gantry:1\n" {
		t.Errorf("rmi: gantry printed %q, docker %q", g, dk)
	}
	gr, dr := d.Gantry("rmi", "nosuchimage"), d.Docker("rmi", "nosuchimage")
	if gr.Code != 1 || dr.Code != 1 || gr.Stderr != dr.Stderr {
		t.Errorf("rmi nosuchimage: gantry exit %d %q, docker exit %d %q", gr.Code, gr.Stderr, dr.Code, dr.Stderr)
	}
	imgSame(t, d, nil, "rmi", "nosuchimage")
	// By ID with several names: refused the same way by both.
	id := strings.TrimSpace(d.MustGantry("images", "-q"))
	gr, dr = d.Gantry("rmi", id), d.Docker("rmi", id)
	want := "Error response from daemon: conflict: unable to delete " + id + " (must be forced) - image is referenced in multiple repositories\n"
	if gr.Stderr != want || dr.Stderr != want {
		t.Errorf("rmi %s:\ngantry: %q\ndocker: %q\nwant %q", id, gr.Stderr, dr.Stderr, want)
	}
	out := d.MustDocker("rmi", "-f", id)
	for _, w := range []string{"Untagged: busybox:latest", "Untagged: by/docker:2", "Untagged: by/gantry:2", "Deleted: sha256:" + id} {
		if !strings.Contains(out, w) {
			t.Errorf("docker rmi -f %s lacks %q:\n%s", id, w, out)
		}
	}
	imgSame(t, d, nil, "images", "-q")
	imgSame(t, d, nil, "search", "busybox")
	if res := d.Docker("search", "busybox"); !strings.Contains(res.Stderr, "not supported: gantry has no index to search") {
		t.Errorf("docker search: exit %d %q", res.Code, res.Stderr)
	}
}

// An image a container uses keeps its last name unless forced, in Docker's
// words, and forced it is only untagged; prune keeps it.
func TestImageDockerRemoveInUse(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	id := strings.TrimSpace(d.MustGantry("images", "-q"))
	ctr := strings.TrimSpace(d.MustDocker("create", "busybox", "true"))
	want := fmt.Sprintf("Error response from daemon: conflict: unable to remove repository reference \"busybox\" (must force) - container %s is using its referenced image %s\n", ctr[:12], id)
	for _, res := range []fixture.Result{d.Gantry("rmi", "busybox"), d.Docker("rmi", "busybox")} {
		if res.Code != 1 || res.Stderr != want {
			t.Errorf("rmi busybox used by %s: exit %d %q, want %q", ctr[:12], res.Code, res.Stderr, want)
		}
	}
	for _, res := range []fixture.Result{d.Gantry("rmi", id), d.Docker("rmi", id)} {
		if res.Code != 1 || !strings.Contains(res.Stderr, "conflict: unable to delete "+id+" (must be forced) - image is being used by container "+ctr[:12]) {
			t.Errorf("rmi %s used by %s: exit %d %q", id, ctr[:12], res.Code, res.Stderr)
		}
	}
	if out := d.MustDocker("rmi", "-f", "busybox"); out != "Untagged: busybox:latest\n" {
		t.Errorf("docker rmi -f busybox in use: %q, want only the untag", out)
	}
	if out := strings.TrimSpace(d.MustGantry("images", "-aq")); out != id {
		t.Errorf("the image in use went away: images -aq = %q", out)
	}
	for _, args := range [][]string{{"image", "prune", "-af"}, {"image", "prune", "-f"}} {
		imgSame(t, d, nil, args...)
	}
	if out := strings.TrimSpace(d.MustGantry("images", "-aq")); out != id {
		t.Errorf("prune removed the image in use: images -aq = %q", out)
	}
	d.MustDocker("rm", ctr)
	out := d.MustDocker("image", "prune", "-f")
	if !strings.Contains(out, "Deleted Images:\ndeleted: sha256:") || !regexp.MustCompile(`\nTotal reclaimed space: \d+(\.\d+)?[kM]?B\n$`).MatchString(out) {
		t.Errorf("docker image prune of the dangling image:\n%s", out)
	}
	imgSame(t, d, nil, "images", "-aq")
}

// save and load through either CLI: the same archive, the same output.
func TestImageDockerSaveLoadImport(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustGantry("tag", "busybox", "mine:2")
	dir := t.TempDir()
	gfile, dfile := filepath.Join(dir, "g.tar"), filepath.Join(dir, "d.tar")
	d.MustGantry("save", "-o", gfile, "busybox", "mine:2")
	d.MustDocker("save", "-o", dfile, "busybox", "mine:2")
	gdata, _ := os.ReadFile(gfile)
	ddata, _ := os.ReadFile(dfile)
	if sha256.Sum256(gdata) != sha256.Sum256(ddata) || len(gdata) == 0 {
		t.Errorf("save: gantry wrote %d bytes, docker %d, not the same", len(gdata), len(ddata))
	}
	stdout := d.GantryCommand("save", "busybox")
	var viaStdout bytes.Buffer
	stdout.Stdout = &viaStdout
	if err := stdout.Run(); err != nil || viaStdout.Len() == 0 {
		t.Errorf("save to stdout: %v, %d bytes", err, viaStdout.Len())
	}
	res := d.Docker("save", "-o", filepath.Join(dir, "x.tar"), "nosuchimage")
	if res.Code == 0 || !strings.Contains(res.Stderr, "No such image: nosuchimage") {
		t.Errorf("docker save nosuchimage: exit %d %q", res.Code, res.Stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.tar")); err == nil {
		if data, _ := os.ReadFile(filepath.Join(dir, "x.tar")); len(data) > 0 {
			t.Errorf("docker save of an unknown image wrote %d bytes", len(data))
		}
	}

	d.MustGantry("rmi", "-f", "busybox", "mine:2")
	out := d.MustDocker("load", "-i", dfile)
	if out != "Loaded image: busybox:latest\nLoaded image: mine:2\n" {
		t.Errorf("docker load printed %q", out)
	}
	if g := d.MustGantry("load", "-i", gfile); g != out {
		t.Errorf("gantry load printed %q, docker %q", g, out)
	}
	res = d.Docker("load", "-i", "/etc/hostname")
	if res.Code == 0 {
		t.Errorf("docker load of a non-archive succeeded: %s", res.Stdout)
	}

	data := imgTar(t)
	tarFile := filepath.Join(dir, "rootfs.tar")
	if err := os.WriteFile(tarFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	gid := strings.TrimSpace(d.MustGantry("import", "-c", "ENV A=b", "-m", "hello", tarFile, "imp:g"))
	did := strings.TrimSpace(d.MustDocker("import", "-c", "ENV A=b", "-m", "hello", tarFile, "imp:d"))
	for _, id := range []string{gid, did} {
		if !imgFullIDRE.MatchString(id) {
			t.Errorf("import printed %q, want an image ID", id)
		}
	}
	gi, di := imgInspectOne(t, d, "imp:g"), imgInspectOne(t, d, "imp:d")
	if gi.Comment != "hello" || di.Comment != "hello" || fmt.Sprint(gi.Config.Env) != fmt.Sprint(di.Config.Env) || fmt.Sprint(gi.RootFS) != fmt.Sprint(di.RootFS) {
		t.Errorf("imports differ:\ngantry %+v\ndocker %+v", gi, di)
	}
}

// push and pull of a distribution registry print the same through both
// CLIs, and credentials stored by either login are used by both.
func TestImageDockerPushPull(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	host, other := fixture.DistributionRegistry(t), fixture.DistributionRegistry(t)
	d.MustGantry("tag", "busybox", host+"/gantry/bb:1")
	d.MustGantry("tag", "busybox", other+"/gantry/bb:1")
	// Each pushes to a registry of its own: the same work, the same words.
	g := d.MustGantry("push", host+"/gantry/bb:1")
	dk := d.MustDocker("push", other+"/gantry/bb:1")
	if g != strings.ReplaceAll(dk, other, host) {
		t.Errorf("push: gantry printed\n%s\ndocker printed\n%s", g, dk)
	}
	if !regexp.MustCompile(`(?m)^1: digest: sha256:[0-9a-f]{64} size: \d+$`).MatchString(dk) {
		t.Errorf("docker push printed no digest line:\n%s", dk)
	}
	// Pushed again: nothing to send.
	imgSame(t, d, nil, "push", host+"/gantry/bb:1")

	d.MustGantry("rmi", "-f", "busybox", host+"/gantry/bb:1", other+"/gantry/bb:1")
	g = d.MustGantry("pull", host+"/gantry/bb:1")
	d.MustGantry("rmi", host+"/gantry/bb:1")
	dk = d.MustDocker("pull", host+"/gantry/bb:1")
	if g != dk {
		t.Errorf("pull: gantry printed\n%s\ndocker printed\n%s", g, dk)
	}
	imgSame(t, d, nil, "pull", host+"/gantry/bb:1")
	imgSame(t, d, nil, "pull", "-q", host+"/gantry/bb:1")
	imgSame(t, d, nil, "pull", host+"/gantry/bb:nosuchtag")
	if res := d.Docker("pull", host+"/gantry/bb:nosuchtag"); !strings.HasPrefix(res.Stderr, "Error response from daemon: ") || !strings.Contains(res.Stderr, "manifest unknown") {
		t.Errorf("docker pull of an unknown tag: %q", res.Stderr)
	}
}

// A registry that wants a password: docker login's credentials serve
// gantry's pull and gantry login's serve docker's.
func TestImageDockerLogin(t *testing.T) {
	const user, pass = "bob", "hunter2"
	host := imgMemRegistry(t, imgBasicAuth(user, pass))
	d := fixture.NewDaemon(t)
	d.Busybox()
	ref := host + "/private/bb:1"
	d.MustGantry("tag", "busybox", ref)
	if res := d.Docker("push", ref); res.Code == 0 || !strings.Contains(res.Stderr, "unauthorized") {
		t.Errorf("docker push without login: exit %d %q", res.Code, res.Stderr)
	}
	if res := d.Docker("login", "-u", user, "-p", "wrong", host); res.Code == 0 {
		t.Errorf("docker login with a wrong password succeeded")
	}
	if out := d.MustDocker("login", "-u", user, "-p", pass, host); !strings.Contains(out, "Login Succeeded") {
		t.Errorf("docker login printed %q", out)
	}
	d.MustDocker("push", ref)
	d.MustGantry("rmi", ref)
	// The image stays (busybox names it too): the pull still reads the
	// manifest, which needs the credentials.
	if out := d.MustGantry("pull", ref); !strings.Contains(out, "Status: Image is up to date for "+ref) {
		t.Errorf("gantry pull with docker's login:\n%s", out)
	}
	d.MustDocker("logout", host)
	d.MustGantry("rmi", ref)
	if res := d.Gantry("pull", ref); res.Code == 0 {
		t.Errorf("gantry pull after docker logout succeeded")
	}
	d.MustGantry("login", "-u", user, "-p", pass, host)
	if out := d.MustDocker("pull", ref); !strings.Contains(out, "Status: Image is up to date for "+ref) {
		t.Errorf("docker pull with gantry's login:\n%s", out)
	}
}

// imgBasicAuth is a middleware that wants basic auth with user and pass.
func imgBasicAuth(user, pass string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="gantry-test"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Without a daemon, every image command says so in one line.
func TestImageUnreachableDaemon(t *testing.T) {
	bin := fixture.Binary(t)
	host := "unix://" + filepath.Join(t.TempDir(), "none.sock")
	want := "gantry: Cannot connect to the gantry daemon at " + host + ". Is the gantry daemon running?\n"
	for _, args := range [][]string{
		{"images"}, {"pull", "busybox"}, {"push", "busybox"}, {"tag", "a", "b"}, {"rmi", "a"},
		{"image", "inspect", "a"}, {"history", "a"}, {"save", "-o", filepath.Join(t.TempDir(), "x.tar"), "a"},
		{"load", "-i", "/etc/hostname"}, {"import", "/etc/hostname"}, {"image", "prune", "-f"},
		{"login", "-u", "a", "-p", "b", "127.0.0.1:1"}, {"image", "busybox"},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "GANTRY_HOST="+host, "DOCKER_CONFIG="+t.TempDir())
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if err == nil || stderr.String() != want {
			t.Errorf("%v: %v, stderr %q; want %q", args, err, stderr.String(), want)
		}
	}
}
