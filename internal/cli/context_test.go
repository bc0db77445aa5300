package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// withoutHostEnv drops GANTRY_HOST and DOCKER_HOST so that the context
// decides which daemon a command talks to.
func withoutHostEnv(cmd *exec.Cmd) *exec.Cmd {
	env := cmd.Env[:0:0]
	for _, kv := range cmd.Env {
		if !strings.HasPrefix(kv, "GANTRY_HOST=") && !strings.HasPrefix(kv, "DOCKER_HOST=") && !strings.HasPrefix(kv, "DOCKER_CONTEXT=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	return cmd
}

func run(t *testing.T, cmd *exec.Cmd) (string, string, int) {
	t.Helper()
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// A context made with gantry is used by the docker CLI and the other way
// round: both keep them in the docker CLI's store.
func TestContextsSharedWithDocker(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustGantry("run", "--name", "ctxprobe", "-d", "busybox", "sleep", "60")

	out, stderr, code := run(t, d.GantryCommand("context", "create", "gx", "--description", "a test daemon", "--docker", "host="+d.Host))
	if code != 0 || out != "gx\n" || !strings.Contains(stderr, `Successfully created context "gx"`) {
		t.Fatalf("context create: %d %q %q", code, out, stderr)
	}
	if _, stderr, code := run(t, d.GantryCommand("context", "create", "gx", "--docker", "host="+d.Host)); code == 0 || !strings.Contains(stderr, `context "gx" already exists`) {
		t.Errorf("a second create of the same name: %d %q", code, stderr)
	}
	if _, stderr, code := run(t, d.GantryCommand("context", "create", "bad/name")); code == 0 || !strings.Contains(stderr, "is invalid") {
		t.Errorf("a bad name: %d %q", code, stderr)
	}

	// The docker CLI sees it and selects it...
	out, _, code = run(t, withoutHostEnv(d.DockerCommand("context", "ls", "--format", "{{.Name}} {{.DockerEndpoint}}")))
	if code != 0 || !strings.Contains(out, "gx "+d.Host) {
		t.Fatalf("docker context ls: %d %q", code, out)
	}
	if _, stderr, code := run(t, withoutHostEnv(d.DockerCommand("context", "use", "gx"))); code != 0 {
		t.Fatalf("docker context use: %d %s", code, stderr)
	}
	// ...and then both CLIs, with no -H and no DOCKER_HOST, reach the daemon.
	for name, cmd := range map[string]*exec.Cmd{
		"gantry": withoutHostEnv(d.GantryCommand("ps", "--format", "{{.Names}}")),
		"docker": withoutHostEnv(d.DockerCommand("ps", "--format", "{{.Names}}")),
	} {
		if out, stderr, code := run(t, cmd); code != 0 || out != "ctxprobe\n" {
			t.Errorf("%s ps through the context: %d %q %q", name, code, out, stderr)
		}
	}
	out, _, _ = run(t, withoutHostEnv(d.GantryCommand("context", "ls")))
	if !strings.Contains(out, "gx *") || !strings.Contains(out, "a test daemon") || !strings.HasPrefix(out, "NAME") {
		t.Errorf("gantry context ls:\n%s", out)
	}
	if out, _, _ := run(t, withoutHostEnv(d.GantryCommand("context", "show"))); out != "gx\n" {
		t.Errorf("context show: %q", out)
	}
	// In use: removed only with -f, which goes back to the default.
	if _, stderr, code := run(t, withoutHostEnv(d.GantryCommand("context", "rm", "gx"))); code == 0 || !strings.Contains(stderr, "context is in use") {
		t.Errorf("rm of the current context: %d %q", code, stderr)
	}
	if _, stderr, code := run(t, withoutHostEnv(d.GantryCommand("context", "rm", "-f", "gx"))); code != 0 {
		t.Fatalf("rm -f: %d %q", code, stderr)
	}
	if out, _, _ := run(t, withoutHostEnv(d.DockerCommand("context", "show"))); out != "default\n" {
		t.Errorf("docker context show after rm -f: %q", out)
	}
}

// Called as docker (a symlink), gantry says docker in its help and errors.
func TestCalledAsDocker(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "docker")
	if err := os.Symlink(fixture.Binary(t), link); err != nil {
		t.Fatal(err)
	}
	out, _, code := run(t, exec.Command(link, "--help"))
	if code != 0 || !strings.Contains(out, "docker [command]") {
		t.Errorf("docker --help through the symlink: %d\n%s", code, out)
	}
	_, stderr, code := run(t, exec.Command(link, "nosuchcommand"))
	if code == 0 || !strings.HasPrefix(stderr, "docker: ") {
		t.Errorf("an unknown command through the symlink: %d %q", code, stderr)
	}
}
