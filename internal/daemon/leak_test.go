package daemon_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// Two hundred containers created, run and removed leave no mount, cgroup,
// shim or file behind.
func TestManyContainersLeaveNothing(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan string, n)
	sem := make(chan struct{}, 4)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			name := fmt.Sprintf("c%d", i)
			var res fixture.Result
			switch i % 3 {
			case 0: // created, never started
				res = d.Docker("create", "--name", name, "busybox", "true")
			case 1: // ran and exited
				res = d.Docker("run", "--name", name, "busybox", "true")
			default: // running when removed
				res = d.Docker("run", "-d", "--name", name, "busybox", "sleep", "600")
			}
			if res.Code != 0 {
				errs <- fmt.Sprintf("%s: exit %d: %s %s", name, res.Code, res.Stdout, res.Stderr)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	ids := strings.Fields(d.MustDocker("ps", "-aq"))
	if len(ids) != n {
		t.Fatalf("ps -a lists %d containers, want %d", len(ids), n)
	}
	for i := 0; i < len(ids); i += 50 {
		end := min(i+50, len(ids))
		d.MustDocker(append([]string{"rm", "-f"}, ids[i:end]...)...)
	}
	assertNothingLeft(t, d)
}
