package cli_test

import (
	"crypto/sha256"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// bldContext writes files (name → content) into a new context directory.
func bldContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// bldCheckClean fails when a build left a container, a mount or a
// writable snapshot behind.
func bldCheckClean(t *testing.T, g *fixture.Daemon) {
	t.Helper()
	if out := strings.TrimSpace(g.MustGantry("ps", "-aq")); out != "" {
		t.Errorf("containers left: %s", out)
	}
	// A removed container (run --rm) is unmounted and its writable layer
	// deleted right after its removal returns, in the background.
	var left []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		left = nil
		for _, m := range g.Mounts() {
			left = append(left, "mount left: "+m)
		}
		ents, _ := os.ReadDir(filepath.Join(g.DataRoot, "snapshots", "active"))
		for _, e := range ents {
			left = append(left, "writable snapshot left: "+e.Name())
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, l := range left {
		t.Error(l)
	}
}

func TestBuildInstructionsCacheAndCommit(t *testing.T) {
	g := fixture.NewDaemon(t)
	g.Busybox()
	ctx := bldContext(t, map[string]string{
		"Dockerfile": `ARG BASE=busybox
FROM ${BASE} AS base
ARG GREETING=hello
ENV APP=/app NAME="my app"
LABEL org.example.name="$NAME" version=1
WORKDIR $APP
COPY --chmod=0750 run.sh ./
COPY dir/ sub/
COPY *.txt texts/
RUN echo "$GREETING from run" > greeting && ls texts | wc -l > count
USER nobody
EXPOSE 8080 53/udp
VOLUME /data
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s CMD true
SHELL ["/bin/sh", "-c"]
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /app/greeting"]
`,
		"run.sh":        "#!/bin/sh\necho run\n",
		"dir/a":         "a",
		"dir/b/c":       "c",
		"one.txt":       "1",
		"two.txt":       "2",
		"ignored.txt":   "ignored",
		".dockerignore": "ignored.txt\n",
	})
	out := g.MustGantry("build", "-t", "app:1", "--build-arg", "GREETING=hi", ctx)
	if !strings.Contains(out, "Successfully tagged app:1") {
		t.Fatalf("build output:\n%s", out)
	}
	if got := strings.TrimSpace(g.MustGantry("run", "--rm", "app:1")); got != "hi from run" {
		t.Errorf("run: %q", got)
	}
	files := g.MustGantry("run", "--rm", "--user", "0", "app:1", "ls -ln /app/run.sh; cat /app/sub/a /app/sub/b/c /app/count; ls /app/texts")
	for _, want := range []string{"-rwxr-x---", "ac2", "one.txt", "two.txt"} {
		if !strings.Contains(files, want) {
			t.Errorf("files in the image lack %q:\n%s", want, files)
		}
	}
	if strings.Contains(files, "ignored.txt") {
		t.Errorf(".dockerignore'd file copied:\n%s", files)
	}
	insp := g.MustGantry("image", "inspect", "app:1", "--format",
		`{{.Config.User}}|{{.Config.WorkingDir}}|{{index .Config.Labels "org.example.name"}}|{{.Config.StopSignal}}|{{json .Config.ExposedPorts}}|{{json .Config.Volumes}}|{{json .Config.Entrypoint}}|{{json .Config.Healthcheck.Test}}`)
	want := `nobody|/app|my app|SIGINT|{"53/udp":{},"8080/tcp":{}}|{"/data":{}}|["/bin/sh","-c"]|["CMD-SHELL","true"]`
	if strings.TrimSpace(insp) != want {
		t.Errorf("inspect:\n got %s\nwant %s", strings.TrimSpace(insp), want)
	}
	if !strings.Contains(g.MustGantry("image", "inspect", "app:1", "--format", "{{json .Config.Env}}"), `APP=/app`) {
		t.Error("ENV missing from the image")
	}

	// Nothing changed: every step from the cache, the same image.
	id1 := strings.TrimSpace(g.MustGantry("build", "-q", "-t", "app:1", "--build-arg", "GREETING=hi", ctx))
	plain := g.MustGantry("build", "--progress=plain", "-t", "app:1", "--build-arg", "GREETING=hi", ctx)
	if strings.Contains(plain, "cache miss") {
		t.Errorf("warm build missed the cache:\n%s", plain)
	}
	id2 := strings.TrimSpace(g.MustGantry("build", "-q", "-t", "app:1", "--build-arg", "GREETING=hi", ctx))
	if id1 != id2 {
		t.Errorf("warm build made another image: %s then %s", id1, id2)
	}
	// An ignored file changes nothing.
	os.WriteFile(filepath.Join(ctx, "ignored.txt"), []byte("changed"), 0o644)
	if out := g.MustGantry("build", "-t", "app:1", "--build-arg", "GREETING=hi", ctx); strings.Contains(out, "cache miss") {
		t.Errorf("an ignored file missed the cache:\n%s", out)
	}
	// Content: the COPY that reads the file misses, and says which file.
	os.WriteFile(filepath.Join(ctx, "two.txt"), []byte("22"), 0o644)
	out = g.MustGantry("build", "-t", "app:1", "--build-arg", "GREETING=hi", ctx)
	if !strings.Contains(out, "cache miss: two.txt changed") || strings.Count(out, "CACHED") < 4 {
		t.Errorf("content change:\n%s", out)
	}
	// Mode only.
	os.Chmod(filepath.Join(ctx, "dir", "a"), 0o600)
	if out := g.MustGantry("build", "-t", "app:1", "--build-arg", "GREETING=hi", ctx); !strings.Contains(out, "cache miss: dir/a changed") {
		t.Errorf("mode change:\n%s", out)
	}
	// A build arg.
	if out := g.MustGantry("build", "-t", "app:1", "--build-arg", "GREETING=yo", ctx); !strings.Contains(out, `build arg GREETING changed ("hi" → "yo")`) {
		t.Errorf("build arg change:\n%s", out)
	}
	if got := strings.TrimSpace(g.MustGantry("run", "--rm", "app:1")); got != "yo from run" {
		t.Errorf("run after the arg change: %q", got)
	}
	// --no-cache runs everything.
	if out := g.MustGantry("build", "--no-cache", "-t", "app:2", ctx); strings.Contains(out, "CACHED\nStep") && !strings.Contains(out, "--no-cache") {
		t.Errorf("--no-cache:\n%s", out)
	}

	// commit: a container's change becomes an image, with -c applied.
	g.MustGantry("run", "--name", "c1", "busybox", "sh", "-c", "echo committed > /marker")
	id := strings.TrimSpace(g.MustGantry("commit", "-a", "me", "-m", "msg", "-c", "ENV COMMITTED=yes", "-c", `CMD ["cat", "/marker"]`, "c1", "committed:1"))
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("commit printed %q", id)
	}
	if got := strings.TrimSpace(g.MustGantry("run", "--rm", "committed:1")); got != "committed" {
		t.Errorf("run of the committed image: %q", got)
	}
	if got := g.MustGantry("run", "--rm", "committed:1", "env"); !strings.Contains(got, "COMMITTED=yes") {
		t.Errorf("commit -c ENV missing:\n%s", got)
	}
	if res := g.Gantry("commit", "nosuch"); res.Code == 0 || !strings.Contains(res.Stderr, "No such container: nosuch") {
		t.Errorf("commit of a missing container: %d %q", res.Code, res.Stderr)
	}
	if res := g.Gantry("commit", "-c", "RUN true", "c1"); res.Code == 0 || !strings.Contains(res.Stderr, "RUN is not a valid change command") {
		t.Errorf("commit with a RUN change: %d %q", res.Code, res.Stderr)
	}
	g.MustGantry("rm", "c1")
	bldCheckClean(t, g)
}

func TestBuildMultiStageAndBadInput(t *testing.T) {
	g := fixture.NewDaemon(t)
	g.Busybox()
	ctx := bldContext(t, map[string]string{
		"Dockerfile": `FROM busybox AS builder
RUN echo built > /out.txt
FROM busybox AS unused
RUN exit 3
FROM scratch
COPY --from=builder /out.txt /out.txt
COPY --from=builder /bin/busybox /bin/sh
CMD ["/bin/sh", "-c", "read x < /out.txt; echo $x"]
`,
	})
	out := g.MustGantry("build", "-t", "multi", ctx)
	if strings.Contains(out, "exit 3") {
		t.Errorf("an unused stage ran:\n%s", out)
	}
	if got := strings.TrimSpace(g.MustGantry("run", "--rm", "multi")); got != "built" {
		t.Errorf("multi-stage image: %q", got)
	}
	if out := g.MustGantry("build", "-q", "--target", "builder", "-t", "stage1", ctx); !strings.HasPrefix(strings.TrimSpace(out), "sha256:") {
		t.Errorf("--target: %q", out)
	}

	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("TOPSECRET-CONTENT"), 0o600)
	cases := []struct {
		name, dockerfile, want string
		args                   []string
		setup                  func(dir string)
	}{
		{name: "unknown instruction", dockerfile: "FROM busybox\nFOO bar\n", want: "dockerfile parse error on line 2: unknown instruction: FOO"},
		{name: "no FROM", dockerfile: "RUN true\n", want: "no build stage in current context"},
		{name: "syntax error", dockerfile: "FROM busybox\nRUN <<EOF\ntrue\n", want: "dockerfile parse error on line 2: unterminated heredoc"},
		{name: "missing path", dockerfile: "FROM busybox\nCOPY nothere /x\n", want: "nothere"},
		{name: "path outside", dockerfile: "FROM busybox\nCOPY ../secret /x\n", want: "forbidden path outside the build context: ../secret"},
		{name: "symlink escape", dockerfile: "FROM busybox\nCOPY link/secret /x\n", want: "forbidden path outside the build context",
			setup: func(dir string) { os.Symlink(outside, filepath.Join(dir, "link")) }},
		{name: "failing RUN", dockerfile: "FROM busybox\nRUN echo last words; false\n", want: "The command '/bin/sh -c echo last words; false' returned a non-zero code: 1"},
		{name: "unknown target", dockerfile: "FROM busybox AS a\n", args: []string{"--target", "nope"}, want: "failed to reach build target nope in Dockerfile"},
		{name: "bad tag", dockerfile: "FROM busybox\nRUN touch /x\n", args: []string{"-t", "Bad:Tag"}, want: "invalid tag"},
		{name: "unsupported frontend", dockerfile: "# syntax=example.com/frontend\nFROM busybox\n", want: "unsupported frontend"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := bldContext(t, map[string]string{"Dockerfile": c.dockerfile})
			if c.setup != nil {
				c.setup(dir)
			}
			args := append([]string{"build", "-t", "bad:1"}, c.args...)
			res := g.Gantry(append(args, dir)...)
			if res.Code == 0 || !strings.Contains(res.Stderr, c.want) {
				t.Errorf("exit %d, stderr %q, want %q", res.Code, res.Stderr, c.want)
			}
			if strings.Contains(res.Stdout+res.Stderr, "TOPSECRET") {
				t.Errorf("a file outside the context was read")
			}
			if r := g.Gantry("image", "inspect", "bad:1"); r.Code == 0 {
				t.Errorf("bad:1 was tagged")
			}
		})
	}
	if out := g.Gantry("build", "-t", "bad:1", bldContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo last words; false\n"})); !strings.Contains(out.Stdout, "last words") {
		t.Errorf("failing RUN's output not shown:\n%s", out.Stdout)
	}
	bldCheckClean(t, g)

	// The real docker CLI's classic builder against gantry.
	if _, err := exec.LookPath("docker"); err == nil {
		cmd := g.DockerCommand("build", "-t", "viadocker", ctx)
		cmd.Env = append(cmd.Env, "DOCKER_BUILDKIT=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("docker build: %v\n%s", err, out)
		}
		if got := strings.TrimSpace(g.MustGantry("run", "--rm", "viadocker")); got != "built" {
			t.Errorf("image built by docker: %q", got)
		}
	}
	// The Dockerfile from stdin, the context as a tar on stdin, --iidfile,
	// and the context sent as a tar as docker sends it.
	iid := filepath.Join(t.TempDir(), "iid")
	res := imgRunIn(t, g, strings.NewReader("FROM busybox\nCOPY Dockerfile /df\n"), "build", "-q", "-f", "-", "--iidfile", iid, "-t", "stdin:1", ctx)
	if res.Code != 0 {
		t.Fatalf("build -f -: %s", res.Stderr)
	}
	if data, _ := os.ReadFile(iid); strings.TrimSpace(res.Stdout) != string(data) {
		t.Errorf("--iidfile holds %q, build printed %q", data, res.Stdout)
	}
	tarOut, err := exec.Command("tar", "-C", ctx, "-cf", "-", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	if res := imgRunIn(t, g, strings.NewReader(string(tarOut)), "build", "-q", "-t", "fromtar", "-"); res.Code != 0 {
		t.Errorf("build -: %s", res.Stderr)
	}
	if res := imgRunIn(t, g, strings.NewReader("FROM busybox\nRUN echo solo > /solo\n"), "build", "-q", "-t", "solo", "-"); res.Code != 0 {
		t.Errorf("build - < Dockerfile: %s", res.Stderr)
	} else if got := strings.TrimSpace(g.MustGantry("run", "--rm", "solo", "cat", "/solo")); got != "solo" {
		t.Errorf("build - < Dockerfile made %q", got)
	}
	tarCmd := g.GantryCommand("build", "-t", "multi", ctx)
	tarCmd.Env = append(tarCmd.Env, "GANTRY_BUILD_CONTEXT=tar")
	if out, err := tarCmd.CombinedOutput(); err != nil || strings.Count(string(out), "CACHED") < 3 {
		t.Errorf("build with a tar context: %v\n%s", err, out)
	}
	g.MustGantry("builder", "prune", "-f")
	if out := g.MustGantry("build", "-t", "multi", ctx); strings.Contains(out, "CACHED\nStep 2") {
		t.Errorf("build after prune used the cache:\n%s", out)
	}
}

func TestBuildHeredocsAddChownOnbuild(t *testing.T) {
	g := fixture.NewDaemon(t)
	g.Busybox()
	dir := bldContext(t, map[string]string{
		"Dockerfile": `FROM busybox
RUN <<EOF
echo from heredoc > /h1
EOF
COPY <<EOT /etc/h2
copied heredoc
EOT
ADD files.tar /unpacked/
COPY --chown=nobody:nogroup owned /owned
COPY owned /etc
MAINTAINER someone
ONBUILD RUN echo triggered > /trig
ARG N=1
RUN --mount=type=cache,target=/cache --mount=type=tmpfs,target=/scratch echo $N >> /cache/runs && cat /cache/runs | wc -l > /runs && touch /scratch/x
`,
		"owned": "o",
	})
	tarOut, err := exec.Command("tar", "-C", dir, "-cf", filepath.Join(dir, "files.tar"), "owned").CombinedOutput()
	if err != nil {
		t.Fatalf("tar: %v %s", err, tarOut)
	}
	g.MustGantry("build", "-t", "feat", dir)
	out := g.MustGantry("run", "--rm", "feat", "sh", "-c", "cat /h1 /etc/h2 /unpacked/owned /etc/owned; echo; stat -c %U:%G /owned")
	for _, want := range []string{"from heredoc", "copied heredoc", "oo\n", "nobody:nogroup"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	g.MustGantry("build", "--build-arg", "N=2", "-t", "feat", dir)
	if got := strings.TrimSpace(g.MustGantry("run", "--rm", "feat", "cat", "/runs")); got != "2" {
		t.Errorf("the cache mount did not keep the first build's file: %q runs", got)
	}
	// Neither the mounts' contents nor their mount points are in the
	// image, as BuildKit leaves them out.
	if got := g.MustGantry("run", "--rm", "feat", "sh", "-c", "ls /cache /scratch 2>&1; true"); strings.Contains(got, "runs") || strings.Count(got, "No such file") != 2 {
		t.Errorf("mounts in the image: %q", got)
	}
	if got := strings.TrimSpace(g.MustGantry("image", "inspect", "feat", "--format", "{{.Author}}")); got != "someone" {
		t.Errorf("MAINTAINER: %q", got)
	}
	// SOURCE_DATE_EPOCH: the same inputs give the same image, whatever
	// the files' times and the clock say.
	repro := func() string {
		d := bldContext(t, map[string]string{"Dockerfile": "FROM busybox\nWORKDIR /w\nCOPY f .\nRUN echo made > /w/made\nCMD [\"cat\", \"/w/made\"]\n", "f": "content"})
		cmd := g.GantryCommand("build", "-q", "--no-cache", d)
		cmd.Env = append(cmd.Env, "SOURCE_DATE_EPOCH=1700000000")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("reproducible build: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	if a, b := repro(), repro(); a != b {
		t.Errorf("SOURCE_DATE_EPOCH builds differ: %s and %s", a, b)
	}
	child := bldContext(t, map[string]string{"Dockerfile": "FROM feat\nCMD [\"cat\", \"/trig\"]\n"})
	g.MustGantry("build", "-t", "child", child)
	if got := strings.TrimSpace(g.MustGantry("run", "--rm", "child")); got != "triggered" {
		t.Errorf("ONBUILD trigger: %q", got)
	}
	bldCheckClean(t, g)
}

// Independent stages run at the same time: one stage's RUN listens on a
// loopback port that the other's RUN connects to (RUN uses the host's
// network); built one after the other, the listener would give up.
func TestBuildParallelStages(t *testing.T) {
	g := fixture.NewDaemon(t)
	g.Busybox()
	// A port free now (the kernel's choice), so no other test's service
	// answers the talker.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	dir := bldContext(t, map[string]string{"Dockerfile": `FROM busybox AS listener
RUN timeout 20 nc -l -p ` + port + ` > /got && test -s /got
FROM busybox AS talker
RUN for i in $(seq 1 200); do echo hello | nc 127.0.0.1 ` + port + ` && exit 0; sleep 0.1; done; exit 1
FROM busybox
COPY --from=listener /got /got
COPY --from=talker /bin/busybox /talker-was-built
CMD ["cat", "/got"]
`})
	out := g.MustGantry("build", "-t", "par", dir)
	if got := strings.TrimSpace(g.MustGantry("run", "--rm", "par")); got != "hello" {
		t.Errorf("parallel stages: %q\n%s", got, out)
	}
	// The output stays in the Dockerfile's order.
	if i, j := strings.Index(out, "Step 2/8 : RUN timeout"), strings.Index(out, "Step 3/8 : FROM busybox AS talker"); i < 0 || j < i {
		t.Errorf("output out of order:\n%s", out)
	}
	bldCheckClean(t, g)
}

// ADD of a URL downloads it (a loopback server here), checked against
// --checksum; a changed download misses the cache.
func TestBuildAddURL(t *testing.T) {
	g := fixture.NewDaemon(t)
	g.Busybox()
	body := "remote content v1"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) }))
	defer srv.Close()
	sum := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(body)))
	dir := bldContext(t, map[string]string{"Dockerfile": "FROM busybox\nADD " + srv.URL + "/files/remote.txt /dl/\nADD --checksum=" + sum + " " + srv.URL + "/x /checked\n"})
	g.MustGantry("build", "-t", "url", dir)
	if got := g.MustGantry("run", "--rm", "url", "cat", "/dl/remote.txt", "/checked"); got != body+body {
		t.Errorf("downloaded: %q", got)
	}
	body = "remote content v2"
	res := g.Gantry("build", "-t", "url", dir)
	if res.Code == 0 || !strings.Contains(res.Stderr, "checksum mismatch") {
		t.Errorf("a download not matching --checksum: %d %s", res.Code, res.Stderr)
	}
	bad := bldContext(t, map[string]string{"Dockerfile": "FROM busybox\nCOPY " + srv.URL + "/x /x\n"})
	if res := g.Gantry("build", bad); res.Code == 0 || !strings.Contains(res.Stderr, "source can't be a URL for COPY") {
		t.Errorf("COPY of a URL: %d %s", res.Code, res.Stderr)
	}
	bldCheckClean(t, g)
}
