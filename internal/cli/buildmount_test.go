package cli_test

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/creack/pty"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// RUN --mount=type=secret: the secret is readable by the step, from a file
// or the environment, at /run/secrets/<id> or a target, and never reaches
// a layer, the image or the cache key; a required secret not given fails
// in one line.
func TestBuildSecretMounts(t *testing.T) {
	g := fixture.NewDaemon(t)
	g.Busybox()
	secretFile := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(secretFile, []byte("s3cret-value-1"), 0o600)
	ctx := bldContext(t, map[string]string{
		"Dockerfile": `FROM busybox
RUN --mount=type=secret,id=tok grep -q ^s3cret-value /run/secrets/tok && stat -c %a /run/secrets/tok > /mode && echo seen-file
RUN --mount=type=secret,id=pw,target=/etc/pw.txt,mode=0440 --mount=type=secret,id=pw,env=PW sh -c 'test "$(cat /etc/pw.txt)" = "$PW" && echo seen-env'
RUN --mount=type=secret,id=absent echo optional-ok
`,
	})
	build := func(extra ...string) fixture.Result {
		args := append([]string{"build", "--progress=plain", "-t", "sec:1", "--secret", "id=tok,src=" + secretFile, "--secret", "id=pw,env=GANTRY_TEST_PW"}, extra...)
		cmd := g.GantryCommand(append(args, ctx)...)
		cmd.Env = append(cmd.Env, "GANTRY_TEST_PW=from-env")
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return fixture.Result{Stdout: out.String(), Stderr: errb.String(), Code: code}
	}
	res := build()
	if res.Code != 0 {
		t.Fatalf("build: %s\n%s", res.Stderr, res.Stdout)
	}
	for _, want := range []string{"seen-file", "seen-env", "optional-ok", "secret absent not given"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("build output lacks %q:\n%s", want, res.Stdout)
		}
	}
	if got := strings.TrimSpace(g.MustGantry("run", "--rm", "sec:1", "cat", "/mode")); got != "400" {
		t.Errorf("secret file mode %q, want 400", got)
	}
	// No trace in the image: the mount points are gone, the value is in
	// no layer and no config.
	if out := g.MustGantry("run", "--rm", "sec:1", "sh", "-c", "ls -d /run/secrets /etc/pw.txt 2>&1; true"); !strings.Contains(out, "No such file") || strings.Contains(out, "/etc/pw.txt\n") {
		t.Errorf("mount points left in the image: %q", out)
	}
	saved := g.GantryCommand("save", "sec:1")
	raw, err := saved.Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "s3cret-value-1") || strings.Contains(string(raw), "from-env") {
		t.Error("a secret is in the saved image")
	}
	// The secret's value is no part of the cache key.
	os.WriteFile(secretFile, []byte("s3cret-value-2"), 0o600)
	if res := build(); res.Code != 0 || strings.Contains(res.Stdout, "cache miss") {
		t.Errorf("a changed secret missed the cache (%d):\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	// A required secret not given.
	bad := bldContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN --mount=type=secret,id=nope,required=true true\n"})
	if res := g.Gantry("build", "-t", "bad:1", bad); res.Code == 0 || !strings.Contains(res.Stderr, "secret nope not found") {
		t.Errorf("required secret missing: exit %d, %q", res.Code, res.Stderr)
	}
	// The docker CLI's classic builder has no way to pass one: said so.
	if _, err := exec.LookPath("docker"); err == nil {
		cmd := g.DockerCommand("build", "-t", "bad:1", bad)
		cmd.Env = append(cmd.Env, "DOCKER_BUILDKIT=0")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "the docker CLI's classic builder cannot pass secrets") {
			t.Errorf("docker build with a required secret: %v\n%s", err, out)
		}
	}
	// A secret file that does not exist.
	if res := g.Gantry("build", "-t", "bad:1", "--secret", "id=x,src=/nonexistent/secret", bad); res.Code == 0 || !strings.Contains(res.Stderr, "secret x: open /nonexistent/secret: no such file or directory") {
		t.Errorf("missing secret file: exit %d, %q", res.Code, res.Stderr)
	}
	if r := g.Gantry("image", "inspect", "bad:1"); r.Code == 0 {
		t.Error("bad:1 was tagged")
	}
	bldCheckClean(t, g)
	if ents, _ := os.ReadDir(filepath.Join(g.DataRoot, "build", "mounts")); len(ents) > 0 {
		t.Errorf("staging left in build/mounts: %d entries", len(ents))
	}
}

// RUN --mount=type=bind: the context (read-only, or rw on a copy whose
// writes are lost), another stage, or an image; never in the layer; a
// source outside the context is refused; a change to the bound files
// runs the step again.
func TestBuildBindMounts(t *testing.T) {
	g := fixture.NewDaemon(t)
	g.Busybox()
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("TOPSECRET-CONTENT"), 0o600)
	ctx := bldContext(t, map[string]string{
		"Dockerfile": `FROM busybox AS tools
RUN mkdir -p /opt/tool && echo tool-v1 > /opt/tool/version
FROM busybox
RUN --mount=type=bind,target=/src cat /src/app/main.txt > /built && (touch /src/app/x 2>/dev/null && echo WRITABLE || echo readonly)
RUN --mount=type=bind,source=app,target=/w,rw sh -c 'echo scribble > /w/main.txt && cat /w/main.txt'
RUN --mount=type=bind,from=tools,source=/opt/tool,target=/tool cat /tool/version > /toolversion
`,
		"app/main.txt": "main-v1",
	})
	out := g.MustGantry("build", "--progress=plain", "-t", "bind:1", ctx)
	if !strings.Contains(out, "\nreadonly\n") || strings.Contains(out, "\nWRITABLE") || !strings.Contains(out, "\nscribble\n") {
		t.Errorf("build output:\n%s", out)
	}
	if data, _ := os.ReadFile(filepath.Join(ctx, "app", "main.txt")); string(data) != "main-v1" {
		t.Errorf("a rw bind wrote into the context: %q", data)
	}
	got := g.MustGantry("run", "--rm", "bind:1", "sh", "-c", "cat /built /toolversion; ls -d /src /w /tool 2>&1; true")
	if !strings.Contains(got, "main-v1") || !strings.Contains(got, "tool-v1") || strings.Count(got, "No such file") != 3 {
		t.Errorf("image: %q", got)
	}
	// Nothing changed: cached; a bound file changed: that step runs again.
	if out := g.MustGantry("build", "--progress=plain", "-t", "bind:1", ctx); strings.Contains(out, "cache miss") {
		t.Errorf("warm build missed:\n%s", out)
	}
	os.WriteFile(filepath.Join(ctx, "app", "main.txt"), []byte("main-v2"), 0o644)
	out = g.MustGantry("build", "--progress=plain", "-t", "bind:1", ctx)
	if !strings.Contains(out, "cache miss: app/main.txt changed") {
		t.Errorf("a bound file's change was not seen:\n%s", out)
	}
	if got := g.MustGantry("run", "--rm", "bind:1", "cat", "/built"); strings.TrimSpace(got) != "main-v2" {
		t.Errorf("rebuilt image: %q", got)
	}
	for _, c := range []struct{ name, df, want string }{
		{"dotdot", "FROM busybox\nRUN --mount=type=bind,source=../secret,target=/s cat /s\n", "forbidden path outside the build context"},
		{"symlink", "FROM busybox\nRUN --mount=type=bind,source=link/secret,target=/s cat /s\n", "forbidden path outside the build context"},
		{"missing", "FROM busybox\nRUN --mount=type=bind,source=nothere,target=/s true\n", "nothere"},
		{"bad type", "FROM busybox\nRUN --mount=type=nfs,target=/s true\n", `unsupported mount type "nfs"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := bldContext(t, map[string]string{"Dockerfile": c.df})
			os.Symlink(outside, filepath.Join(dir, "link"))
			res := g.Gantry("build", "-t", "bad:1", dir)
			if res.Code == 0 || !strings.Contains(res.Stderr, c.want) {
				t.Errorf("exit %d, stderr %q, want %q", res.Code, res.Stderr, c.want)
			}
			if strings.Contains(res.Stdout+res.Stderr, "TOPSECRET") {
				t.Error("a file outside the context was read")
			}
		})
	}
	bldCheckClean(t, g)
	if ents, _ := os.ReadDir(filepath.Join(g.DataRoot, "build", "mounts")); len(ents) > 0 {
		t.Errorf("staging left in build/mounts: %d entries", len(ents))
	}
}

// --no-cache-filter: the named stage's steps miss, and say why; the
// others hit.
func TestBuildNoCacheFilter(t *testing.T) {
	g := fixture.NewDaemon(t)
	g.Busybox()
	ctx := bldContext(t, map[string]string{
		"Dockerfile": "FROM busybox AS one\nRUN echo one > /one\nFROM busybox AS two\nRUN echo two > /two\nCOPY --from=one /one /one\n",
	})
	g.MustGantry("build", "-t", "ncf", ctx)
	out := g.MustGantry("build", "--progress=plain", "--no-cache-filter", "one", "-t", "ncf", ctx)
	if !strings.Contains(out, "cache miss: --no-cache-filter one") || strings.Count(out, "CACHED") < 2 {
		t.Errorf("--no-cache-filter one:\n%s", out)
	}
	if res := g.Gantry("build", "--no-cache-filter", "three", ctx); res.Code == 0 || !strings.Contains(res.Stderr, `no stage named "three"`) {
		t.Errorf("unknown stage: %d %q", res.Code, res.Stderr)
	}
}

// --output: the final stage's file system into a directory or a tar (a
// file or stdout), written only under the destination.
func TestBuildOutput(t *testing.T) {
	g := fixture.NewDaemon(t)
	g.Busybox()
	ctx := bldContext(t, map[string]string{
		"Dockerfile": "FROM busybox AS build\nRUN mkdir /out && echo artefact > /out/result.txt && ln -s /etc/passwd /out/link && rm /bin/ls\nFROM scratch\nCOPY --from=build /out /\n",
	})
	dest := filepath.Join(t.TempDir(), "out")
	g.MustGantry("build", "-o", dest, ctx)
	if data, _ := os.ReadFile(filepath.Join(dest, "result.txt")); string(data) != "artefact\n" {
		t.Errorf("local output: %q", data)
	}
	if l, _ := os.Readlink(filepath.Join(dest, "link")); l != "/etc/passwd" {
		t.Errorf("symlink in output: %q", l)
	}
	tarFile := filepath.Join(t.TempDir(), "out.tar")
	g.MustGantry("build", "--output", "type=tar,dest="+tarFile, ctx)
	list, err := exec.Command("tar", "-tf", tarFile).Output()
	if err != nil || !strings.Contains(string(list), "result.txt") {
		t.Errorf("tar output: %v %s", err, list)
	}
	res := g.Gantry("build", "-q", "-o", "-", ctx)
	if res.Code != 0 || !strings.Contains(res.Stdout, "artefact") {
		t.Errorf("tar on stdout: %d %q", res.Code, res.Stderr)
	}
	// The whole image, whiteouts applied: busybox without ls.
	whole := filepath.Join(t.TempDir(), "whole")
	g.MustGantry("build", "--target", "build", "-o", "type=local,dest="+whole, ctx)
	if _, err := os.Lstat(filepath.Join(whole, "bin", "ls")); err == nil {
		t.Error("a file the build removed is in the output")
	}
	if _, err := os.Lstat(filepath.Join(whole, "bin", "busybox")); err != nil {
		t.Errorf("base image file missing from the output: %v", err)
	}
	notDir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notDir, nil, 0o644)
	if res := g.Gantry("build", "-o", "type=local,dest="+notDir, ctx); res.Code == 0 || !strings.Contains(res.Stderr, "is not a directory") {
		t.Errorf("dest a file: %d %q", res.Code, res.Stderr)
	}
	if res := g.Gantry("build", "-o", "type=oci,dest=x", ctx); res.Code == 0 || !strings.Contains(res.Stderr, `type "oci" is not supported`) {
		t.Errorf("unknown type: %d %q", res.Code, res.Stderr)
	}
	bldCheckClean(t, g)
}

// COPY --parents keeps the sources' directories (from a "/./" pivot when
// the source has one); COPY/ADD --exclude leave out what the patterns
// name, and a change to an excluded file misses no cache.
func TestBuildCopyParentsExclude(t *testing.T) {
	g := fixture.NewDaemon(t)
	g.Busybox()
	ctx := bldContext(t, map[string]string{
		"Dockerfile": `FROM busybox AS src
COPY --parents x/a.txt y/*.txt /p1/
COPY --parents ./x/./deep/b.txt /p2/
COPY --parents x/deep /p3/
COPY --exclude=**/*.md --exclude=deep docs/ /docs/
ADD --exclude=skip* hom* /home1/
FROM busybox
COPY --from=src --parents --exclude=*.md /docs/./sub /fromsrc/
`,
		"x/a.txt":        "xa",
		"x/deep/b.txt":   "xb",
		"y/a.txt":        "ya",
		"y/c.txt":        "yc",
		"docs/readme.md": "md",
		"docs/guide.txt": "guide",
		"docs/sub/n.md":  "md",
		"docs/sub/n.txt": "n",
		"docs/deep/z":    "z",
		"home.txt":       "home",
		"homer":          "homer",
		"skip-home":      "no",
	})
	g.MustGantry("build", "--target", "src", "-t", "cpf:src", ctx)
	got := g.MustGantry("run", "--rm", "cpf:src", "sh", "-c", "cd / && find /p1 /p2 /p3 /docs /home1 -type f | sort")
	want := "/docs/guide.txt\n/docs/sub/n.txt\n/home1/home.txt\n/home1/homer\n/p1/x/a.txt\n/p1/y/a.txt\n/p1/y/c.txt\n/p2/deep/b.txt\n/p3/x/deep/b.txt\n"
	if got != want {
		t.Errorf("files:\n%s\nwant:\n%s", got, want)
	}
	g.MustGantry("build", "-t", "cpf:2", ctx)
	if got := g.MustGantry("run", "--rm", "cpf:2", "find", "/fromsrc", "-type", "f"); strings.TrimSpace(got) != "/fromsrc/sub/n.txt" {
		t.Errorf("COPY --from --parents --exclude: %q", got)
	}
	os.WriteFile(filepath.Join(ctx, "docs", "readme.md"), []byte("changed"), 0o644)
	if out := g.MustGantry("build", "--progress=plain", "--target", "src", "-t", "cpf:src", ctx); strings.Contains(out, "cache miss") {
		t.Errorf("an excluded file's change missed the cache:\n%s", out)
	}
	os.WriteFile(filepath.Join(ctx, "docs", "guide.txt"), []byte("changed"), 0o644)
	if out := g.MustGantry("build", "--progress=plain", "--target", "src", "-t", "cpf:src", ctx); !strings.Contains(out, "cache miss: docs/guide.txt changed") {
		t.Errorf("a copied file's change was not seen:\n%s", out)
	}
	bad := bldContext(t, map[string]string{"Dockerfile": "FROM busybox\nADD --parents a /b/\n", "a": "a"})
	if res := g.Gantry("build", bad); res.Code == 0 || !strings.Contains(res.Stderr, "unknown flag: parents") {
		t.Errorf("ADD --parents: %d %q", res.Code, res.Stderr)
	}
	bldCheckClean(t, g)
}

// --progress tty (and auto on a terminal): BuildKit's kind of display,
// steps with their times, a finished step's output collapsed, a failed
// step's kept; plain stays the daemon's text.
func TestBuildProgressTTY(t *testing.T) {
	g := fixture.NewDaemon(t)
	g.Busybox()
	ctx := bldContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo hello-out\nRUN echo second\n"})
	g.MustGantry("build", "-t", "tty:1", ctx)
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM busybox\nRUN echo hello-out\nRUN echo second-changed\n"), 0o644)
	out := g.MustGantry("build", "--progress", "tty", "-t", "tty:1", ctx)
	final := out[strings.LastIndex(out, "[+] Building"):]
	for _, want := range []string{"FINISHED", " => [1/3] FROM busybox", " => CACHED [2/3] RUN echo hello-out", " => [3/3] RUN echo second-changed", "(cache miss: not built before)", "Successfully tagged tty:1"} {
		if !strings.Contains(final, want) {
			t.Errorf("final frame lacks %q:\n%s", want, final)
		}
	}
	if strings.Contains(final, "=> => # second-changed") {
		t.Errorf("a finished step's output is not collapsed:\n%s", final)
	}
	if !strings.Contains(out, "\x1b[") {
		t.Error("no cursor movement: not redrawn in place")
	}
	res := g.Gantry("build", "--progress", "tty", bldContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo last-words; exit 3\n"}))
	if res.Code == 0 || !strings.Contains(res.Stdout, "=> => # last-words") || !strings.Contains(res.Stderr, "returned a non-zero code: 3") {
		t.Errorf("failed step: %d\n%s\n%s", res.Code, res.Stdout, res.Stderr)
	}
	// auto on a terminal is tty.
	cmd := g.GantryCommand("build", "-t", "tty:1", ctx)
	f, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(f)
	cmd.Wait()
	f.Close()
	if !strings.Contains(string(raw), "[+] Building") {
		t.Errorf("auto on a terminal:\n%s", raw)
	}
	// plain is unchanged.
	if out := g.MustGantry("build", "--progress", "plain", "-t", "tty:1", ctx); !strings.Contains(out, "Step 2/3 : RUN echo hello-out\n ---> CACHED\n") {
		t.Errorf("plain:\n%s", out)
	}
}
