package runtimecli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// resHookState is the state a hook reads on its standard input.
type resHookState struct {
	OCIVersion string `json:"ociVersion"`
	ID         string `json:"id"`
	Status     string `json:"status"`
	Pid        int    `json:"pid"`
	Bundle     string `json:"bundle"`
}

// resHook makes a hook that saves its state to dir/name.json and its mount
// namespace to dir/name.mntns, then appends its name to dir/log. env nil
// leaves the hook the runtime's default environment.
func resHook(dir, name string, env []string) specs.Hook {
	script := fmt.Sprintf("cat > %[1]s/%[2]s.json && readlink /proc/self/ns/mnt > %[1]s/%[2]s.mntns && echo %[2]s >> %[1]s/log", dir, name)
	return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", script}, Env: env}
}

// resHookLog is the names the hooks appended to the log, in order.
func resHookLog(t *testing.T, dir string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "log"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Fields(string(data))
}

// TestHooks: every kind of hook runs once, where and when the runtime-spec
// says, with the container's state on its standard input.
//
// The hooks of the runtime namespace (prestart, createRuntime, poststart,
// poststop) run on the host. createContainer runs in the container's
// namespaces but before pivot_root, so it still sees the host's files (its
// /bin/sh is the host's); startContainer runs in the container after
// pivot_root, so its /bin/sh is the container's busybox and the directory it
// writes to is the container's /tmp/hooks, which the host reads at
// bundle/rootfs/tmp/hooks. Both see the container's mount namespace.
//
// Ordering as the runtime-spec gives it, with runc's particulars noted:
//   - create: prestart (deprecated, run by runc with the createRuntime hooks,
//     just before them), createRuntime, createContainer; all three with
//     status "creating". runc gives createContainer the pid as seen in the
//     container (1), as the spec asks for hooks in the container namespace.
//   - start: startContainer (runc: status "created", pid 1, and the
//     container's environment when the hook names none), then the user's
//     process, then poststart, before start returns.
//   - delete: poststop, with status "stopped"; not when the process exits.
func TestHooks(t *testing.T) {
	r := fixture.NewRuntime(t)
	id := resID("hooks")
	// The process outlives the poststart hook (for at most 5 s), whose state
	// then says running: a process that has exited is "stopped", pid 0.
	spec := fixture.Spec(id, "sh", "-c", "readlink /proc/self/ns/mnt > /tmp/hooks/process.mntns && echo process >> /tmp/hooks/log; "+
		"i=0; while [ ! -e /tmp/hooks/poststart.mntns ] && [ $i -lt 500 ]; do usleep 10000; i=$((i+1)); done")
	spec.Root.Readonly = false
	bundle := fixture.Bundle(t, spec)
	hostDir := filepath.Join(bundle, "rootfs", "tmp", "hooks")
	if err := os.Mkdir(hostDir, 0o777); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	spec.Hooks = &specs.Hooks{
		Prestart:        []specs.Hook{resHook(hostDir, "prestart", env)}, //nolint:staticcheck // deprecated, still run
		CreateRuntime:   []specs.Hook{resHook(hostDir, "createRuntime", env)},
		CreateContainer: []specs.Hook{resHook(hostDir, "createContainer", env)},
		StartContainer:  []specs.Hook{resHook("/tmp/hooks", "startContainer", nil)},
		Poststart:       []specs.Hook{resHook(hostDir, "poststart", env)},
		Poststop:        []specs.Hook{resHook(hostDir, "poststop", env)},
	}
	fixture.WriteSpec(t, bundle, spec)
	t.Cleanup(func() { r.Run("delete", "--force", id) })

	resMustDetached(t, r, "create", "--bundle", bundle, id)
	afterCreate := resHookLog(t, hostDir)
	created := resState(t, r, id)
	if created.Status != "created" || created.Pid <= 0 {
		t.Fatalf("after create: state says status %q pid %d", created.Status, created.Pid)
	}

	r.Must("start", id)
	afterStart := resHookLog(t, hostDir)
	resWaitFor(t, 10*time.Second, "the container's process to exit", func() bool {
		return resState(t, r, id).Status == "stopped"
	})
	beforeDelete := resHookLog(t, hostDir)

	r.Must("delete", id)
	final := resHookLog(t, hostDir)
	r.AssertClean(t, id, bundle)
	t.Logf("hooks run: after create %v, after start %v, after delete %v", afterCreate, afterStart, final)

	// What ran in which operation.
	if want := []string{"prestart", "createRuntime", "createContainer"}; !slices.Equal(afterCreate, want) {
		t.Errorf("hooks run by create: %v, want %v (poststart belongs after the user's process has started, which is after start)", afterCreate, want)
	}
	for _, name := range []string{"startContainer", "poststart"} {
		if !slices.Contains(afterStart, name) {
			t.Errorf("the %s hook had not run when start returned: %v", name, afterStart)
		}
	}
	if slices.Contains(beforeDelete, "poststop") {
		t.Errorf("the poststop hook ran before delete: %v", beforeDelete)
	}

	// Each ran once, in the runtime-spec's order.
	order := []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}
	for _, name := range append(order, "process") {
		if n := strings.Count(" "+strings.Join(final, " ")+" ", " "+name+" "); n != 1 {
			t.Errorf("%s ran %d times, want once: %v", name, n, final)
		}
	}
	var got []string
	for _, name := range final {
		if name != "process" { // races with poststart, which runs once it has started
			got = append(got, name)
		}
	}
	if !slices.Equal(got, order) {
		t.Errorf("hooks ran in the order %v, want %v", got, order)
	}
	if i, j := slices.Index(final, "startContainer"), slices.Index(final, "process"); i < 0 || j < 0 || i > j {
		t.Errorf("the user's process did not run after the startContainer hook: %v", final)
	}

	// The state each hook was given.
	wantStatus := map[string][]string{
		"prestart":        {"creating"},
		"createRuntime":   {"creating"},
		"createContainer": {"creating"},
		"startContainer":  {"created"}, // runc: still "created" until the process is executed
		"poststart":       {"created", "running"},
		"poststop":        {"stopped"},
	}
	wantPid := map[string]int{
		"prestart":        created.Pid,
		"createRuntime":   created.Pid,
		"createContainer": 1, // pid as seen in the container's namespace
		"startContainer":  1,
		"poststart":       created.Pid,
	}
	for _, name := range order {
		data, err := os.ReadFile(filepath.Join(hostDir, name+".json"))
		if err != nil {
			t.Errorf("the %s hook wrote no state: %v", name, err)
			continue
		}
		var st resHookState
		if err := json.Unmarshal(data, &st); err != nil {
			t.Errorf("the %s hook was given invalid state JSON: %v\n%s", name, err, data)
			continue
		}
		if st.OCIVersion == "" || st.ID != id || st.Bundle != bundle {
			t.Errorf("%s hook state: ociVersion %q id %q bundle %q, want a version, %q and %q", name, st.OCIVersion, st.ID, st.Bundle, id, bundle)
		}
		if !slices.Contains(wantStatus[name], st.Status) {
			t.Errorf("%s hook state: status %q, want %v", name, st.Status, wantStatus[name])
		}
		if pid, ok := wantPid[name]; ok && st.Pid != pid {
			t.Errorf("%s hook state: pid %d, want %d", name, st.Pid, pid)
		}
	}

	// Where each ran: the host's mount namespace or the container's.
	hostNS, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	readNS := func(name string) string {
		data, _ := os.ReadFile(filepath.Join(hostDir, name+".mntns"))
		return strings.TrimSpace(string(data))
	}
	containerNS := readNS("process")
	if containerNS == "" || containerNS == hostNS {
		t.Fatalf("the container's process reported mount namespace %q (the host's is %s)", containerNS, hostNS)
	}
	for _, name := range order {
		want, where := hostNS, "the host's"
		if name == "createContainer" || name == "startContainer" {
			want, where = containerNS, "the container's"
		}
		if got := readNS(name); got != want {
			t.Errorf("the %s hook ran in mount namespace %q, want %s (%s)", name, got, where, want)
		}
	}
}
